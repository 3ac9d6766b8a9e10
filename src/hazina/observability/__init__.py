"""What an operator sees of a running Hazina: Prometheus metrics and structured logs.

Below the services (which count what they do) and above the domain; it knows neither storage
nor HTTP, so every layer may report through it.
"""
