"""Every HTTP request counted, timed and logged once, under a request id.

- `X-Request-Id`: the caller's when sane (`logs.request_id_from`), else a new one; bound to the
  request's context, so every line logged while serving it carries it, and echoed in the
  response.
- `hazina_http_requests_total` and `hazina_http_request_duration_seconds` by route *template*
  (`/api/v1/payments/{payment_id}`, read from the route the router matched), never the raw path,
  which would make a series per payment id.
- One access line: method, route, path (never the query string), status, duration. No headers,
  no bodies: they carry API secrets and card numbers.

A pure ASGI middleware, outermost, because it runs on every request of a path budgeted at about
a millisecond of CPU: no BaseHTTPMiddleware (a task and a body copy per request), and the
labelled metric children are looked up once per (route, method, status) and cached here, so a
request costs two dict lookups, a counter increment and a histogram observation.
"""

import logging
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hazina.observability import logs
from hazina.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

log = logging.getLogger("hazina.access")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# No route matched (404s, and requests refused before routing): one label for them all, so a
# scanner's random paths cannot grow the series.
UNMATCHED = "unmatched"
_HEADER = b"x-request-id"
_PATH_LIMIT = 200


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (route, method, status) → (counter child, histogram child); bounded by the app's
        # routes, 8 methods and the statuses it answers.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                incoming = value
                break
        request_id = logs.request_id_from(incoming)
        echoed = (_HEADER, request_id.encode("ascii"))
        status = 500  # what the server answers if the app fails before a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: a response object may reuse its header list across requests.
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        token = logs.bind_request(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self._observe(scope, status, elapsed)
            logs.unbind_request(token)

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template: str = getattr(route, "path_format", None) or UNMATCHED
        method: str = scope["method"]
        if method not in _METHODS:
            method = "OTHER"
        key = (template, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(template, method, str(status)),
                HTTP_DURATION.labels(template, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            path: str = scope["path"]
            duration_ms = round(elapsed * 1000, 2)
            log.info(
                "%s %s %d %.2fms",
                method,
                path[:_PATH_LIMIT],
                status,
                duration_ms,
                extra={
                    "method": method,
                    "route": template,
                    "path": path[:_PATH_LIMIT],
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
