"""Fakes for tests, benchmarks and the demo: real servers speaking real wire formats."""
