"""Responses built from a service's stored bytes, so idempotent replays are byte-identical."""

from typing import Any

from fastapi import Response

from hazina.services.idempotency import StoredResponse
from hazina.services.resources import render


def stored_response(stored: StoredResponse) -> Response:
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return Response(
        content=stored.body,
        status_code=stored.status_code,
        media_type="application/json",
        headers=headers,
    )


def json_body(body: dict[str, Any]) -> Response:
    """A resource rendered once, by the encoder that renders stored and signed bodies: FastAPI's
    own path (jsonable_encoder, then json) walks the dict twice."""
    return Response(content=render(body), media_type="application/json")
