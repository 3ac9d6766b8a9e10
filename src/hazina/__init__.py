"""Hazina: a self-hosted, multi-tenant payments hub."""

__version__ = "0.1.0"
