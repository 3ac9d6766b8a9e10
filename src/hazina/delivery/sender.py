"""The HTTP sender: one signed POST per attempt, its outcome measured and never raised.

2xx is success. Any other status, a timeout or a connection error is a failed attempt, reported
with what is known (status, the first 2 KB of the body, duration, error). Redirects are not
followed: a 3xx is a failure, and cannot steer a request to another host. Every request goes
through the SSRF guard (guard.py); a refused destination is a failed attempt that sent nothing.
"""

import asyncio
import time

import httpx

from hazina import __version__
from hazina.delivery.guard import BlockedDestination, GuardedBackend, GuardedTransport
from hazina.delivery.signing import signature_headers
from hazina.domain.clock import utc_now
from hazina.domain.webhooks import RESPONSE_BODY_LIMIT, THROTTLED, AttemptOutcome, WebhookMessage


async def _read_prefix(response: httpx.Response) -> str:
    """The first 2 KB of the body, without downloading the rest."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept.extend(chunk)
        if len(kept) >= RESPONSE_BODY_LIMIT:
            break
    return bytes(kept[:RESPONSE_BODY_LIMIT]).decode("utf-8", errors="replace")


class HttpWebhookSender:
    """Implements services.ports.WebhookSender over one pooled httpx client."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        guard: GuardedBackend,
        max_connections: int = 100,
    ) -> None:
        self._timeout = timeout_seconds
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            transport=GuardedTransport(guard, limits=limits),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"Hazina-Webhooks/{__version__}"},
        )

    async def send(self, message: WebhookMessage) -> AttemptOutcome:
        timestamp = int(utc_now().timestamp())
        headers = signature_headers(message.secrets, message.delivery_id, timestamp, message.body)
        started = time.perf_counter()

        def elapsed_ms() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            # httpx's timeout bounds each phase; this bounds the whole exchange.
            async with asyncio.timeout(self._timeout):
                async with self._client.stream(
                    "POST", message.url, content=message.body, headers=headers
                ) as response:
                    body = await _read_prefix(response)
        except (TimeoutError, httpx.TimeoutException):
            return AttemptOutcome(
                None, None, elapsed_ms(), error=f"timeout after {self._timeout:g} s"
            )
        except BlockedDestination as exc:
            return AttemptOutcome(None, None, elapsed_ms(), error=f"refused: {exc}")
        except httpx.HTTPError as exc:
            return AttemptOutcome(None, None, elapsed_ms(), error=f"{type(exc).__name__}: {exc}")
        retry_after = None
        if response.status_code in THROTTLED:
            retry_after = response.headers.get("Retry-After")
        return AttemptOutcome(
            response.status_code, body, elapsed_ms(), error=None, retry_after=retry_after
        )

    async def aclose(self) -> None:
        await self._client.aclose()
