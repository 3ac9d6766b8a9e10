"""The HTTP sender: one signed POST per attempt, its outcome measured and never raised.

2xx is success. Any other status, a timeout or a connection error is a failed attempt, reported
with what is known (status, the first 2 KB of the body, duration, error). Redirects are not
followed: a 3xx is a failure, and cannot steer a request to another host. Every request goes
through the SSRF guard (guard.py); a refused destination is a failed attempt that sent nothing.

aiohttp, not httpx, on this path: a worker spends most of a delivery's CPU in its HTTP client,
and aiohttp's costs about a third of httpx's per request (bench/deliveries.py compares the
worker with a bare aiohttp client posting the same bodies).
"""

import asyncio
import ssl
import time

import aiohttp
from yarl import URL

from hazina import __version__
from hazina.delivery.guard import BlockedDestination, GuardedResolver, Resolver, check_url
from hazina.delivery.signing import signature_headers
from hazina.domain.clock import utc_now
from hazina.domain.destinations import DestinationPolicy
from hazina.domain.webhooks import RESPONSE_BODY_LIMIT, THROTTLED, AttemptOutcome, WebhookMessage


async def _read_prefix(response: aiohttp.ClientResponse) -> str:
    """The first 2 KB of the body, without downloading the rest."""
    kept = bytearray()
    while len(kept) < RESPONSE_BODY_LIMIT:
        chunk = await response.content.read(RESPONSE_BODY_LIMIT - len(kept))
        if not chunk:
            break
        kept.extend(chunk)
    return bytes(kept).decode("utf-8", errors="replace")


class HttpWebhookSender:
    """Implements services.ports.WebhookSender over one pooled aiohttp session, opened on the
    first send (an aiohttp session belongs to the event loop it was created in)."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        policy: DestinationPolicy,
        resolve: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
    ) -> None:
        self._timeout = timeout_seconds
        self._policy = policy
        self._resolve = resolve
        self._ssl = ssl_context
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self._policy, self._resolve),
                # Every new connection asks the guard again (DNS rebinding); kept-alive ones
                # stay on the address they were opened to.
                use_dns_cache=False,
                limit=self._max_connections,
                ssl=self._ssl if self._ssl is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                trust_env=False,
                headers={"User-Agent": f"Hazina-Webhooks/{__version__}"},
                # Cookies a receiver sets are not ours to send back to it or anyone.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(self, message: WebhookMessage) -> AttemptOutcome:
        timestamp = int(utc_now().timestamp())
        headers = signature_headers(message.secrets, message.delivery_id, timestamp, message.body)
        started = time.perf_counter()

        def elapsed_ms() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            url = URL(message.url)
            check_url(self._policy, url)
            # The session's timeout bounds the request; this bounds the body read too.
            async with asyncio.timeout(self._timeout):
                async with self._opened().post(
                    url, data=message.body, headers=headers, allow_redirects=False
                ) as response:
                    body = await _read_prefix(response)
        except TimeoutError:
            return AttemptOutcome(
                None, None, elapsed_ms(), error=f"timeout after {self._timeout:g} s"
            )
        except BlockedDestination as exc:
            return AttemptOutcome(None, None, elapsed_ms(), error=f"refused: {exc}")
        except (aiohttp.ClientError, ValueError) as exc:
            return AttemptOutcome(None, None, elapsed_ms(), error=f"{type(exc).__name__}: {exc}")
        retry_after = None
        if response.status in THROTTLED:
            retry_after = response.headers.get("Retry-After")
        return AttemptOutcome(
            response.status, body, elapsed_ms(), error=None, retry_after=retry_after
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
