"""Bounds every HTTP request meets before a route sees it.

- The body is capped: API and pages 1 MiB, provider hooks (`/hooks/…`) 256 KiB. A larger
  Content-Length is answered 413 before a byte is read; a body without one (chunked) is counted
  while it streams and refused as soon as it passes the cap. A body with a Content-Length within
  the cap is left alone: the HTTP server never delivers more than the header announced.
- No NUL character in the path or query string: PostgreSQL cannot store one, so every route's
  path ids and query parameters are covered here, alike on every database.

A pure ASGI middleware: BaseHTTPMiddleware would buffer bodies and add a task to every request.
"""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hazina.api.errors import envelope

API_BODY_LIMIT = 1024 * 1024
HOOK_BODY_LIMIT = 256 * 1024
_HOOK_PREFIX = "/hooks/"


class BodyTooLarge(HTTPException):
    """Raised from `receive`: the route's error handlers render it as the contract's 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body too large: at most {limit} bytes")


class RequestBounds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        # The path arrives decoded; the query string raw, where a NUL can only be `%00`.
        if "\x00" in path or b"%00" in scope["query_string"]:
            refusal = envelope(400, "BAD_REQUEST_ERROR", "URL must not contain NUL characters")
            await refusal(scope, receive, send)
            return
        limit = HOOK_BODY_LIMIT if path.startswith(_HOOK_PREFIX) else API_BODY_LIMIT
        length = _content_length(scope)
        if length is None:
            await _run_counted(self.app, limit, scope, receive, send)
        elif length > limit:
            await _too_large(limit)(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> ASGIApp:
    error = BodyTooLarge(limit)
    return envelope(error.status_code, "BAD_REQUEST_ERROR", error.detail)


async def _run_counted(
    app: ASGIApp, limit: int, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run `app` with a `receive` that refuses the body once it has streamed past `limit`."""
    received = 0
    started = False

    async def counted_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    async def watched_send(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, counted_receive, watched_send)
    except BodyTooLarge:
        # Routes render it themselves; this catches a reader outside their handlers.
        if started:
            raise
        await _too_large(limit)(scope, receive, send)
