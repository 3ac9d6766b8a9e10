"""Payments the customer approves at the provider and Hazina then completes there (PayPal).

`requests` asks for the completion (from settlement, inside the report's transaction);
`completion` is the job that completes, and the customer's return that may ask first.
"""
