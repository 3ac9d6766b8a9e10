"""Outbound webhooks on the wire: signing, the HTTP sender and its SSRF guard."""
