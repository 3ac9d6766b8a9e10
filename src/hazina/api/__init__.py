"""The JSON API (FastAPI): the gateway contract plus Hazina's extensions."""
