"""Responses built from a service's stored bytes, so idempotent replays are byte-identical."""

from fastapi import Response

from hazina.services.idempotency import StoredResponse


def stored_response(stored: StoredResponse) -> Response:
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return Response(
        content=stored.body,
        status_code=stored.status_code,
        media_type="application/json",
        headers=headers,
    )
