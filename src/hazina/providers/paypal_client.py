"""PayPal's REST transport: OAuth tokens, authorised calls and PayPal's error envelope.

A token is cached per account (API base, client id and a digest of the secret, never the secret)
until five minutes before it expires, fetched once however many callers need it, and fetched again
when PayPal answers 401. Every call asks for the full representation of what it changes.
"""

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from hazina.domain.providers import ProviderAccess, ProviderFailure

SANDBOX_API = "https://api-m.sandbox.paypal.com"
LIVE_API = "https://api-m.paypal.com"
TOKEN_RENEW_MARGIN_SECONDS = 300.0
_REPRESENTATION = {"Prefer": "return=representation"}


@dataclass(frozen=True, slots=True)
class _Token:
    authorization: str
    renew_at: float


class PayPalClient:
    def __init__(
        self,
        api_base: str | None,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # One base for both modes when configured (a fake); otherwise PayPal's host per mode.
        self._bases = {"test": api_base or SANDBOX_API, "live": api_base or LIVE_API}
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    def base(self, access: ProviderAccess) -> str:
        return self._bases.get(access.mode, SANDBOX_API).rstrip("/")

    def _cache_key(self, access: ProviderAccess) -> tuple[str, str, str]:
        client_id, secret = access.secret("client_id"), access.secret("client_secret")
        if client_id is None or secret is None:
            raise ProviderFailure("The PayPal account needs a client_id and a client_secret.")
        return self.base(access), client_id, hashlib.sha256(secret.encode()).hexdigest()

    async def _token(self, access: ProviderAccess) -> str:
        key = self._cache_key(access)
        cached = self._tokens.get(key)
        if cached is not None and self._clock() < cached.renew_at:
            return cached.authorization
        async with self._locks.setdefault(key, asyncio.Lock()):  # one fetch per account
            cached = self._tokens.get(key)
            if cached is not None and self._clock() < cached.renew_at:
                return cached.authorization
            token = await self._fetch_token(access)
            self._tokens[key] = token
            return token.authorization

    async def _fetch_token(self, access: ProviderAccess) -> _Token:
        started = self._clock()
        response = await self.send(
            "POST",
            f"{self.base(access)}/v1/oauth2/token",
            auth=(str(access.secret("client_id")), str(access.secret("client_secret"))),
            data={"grant_type": "client_credentials"},
        )
        if response.status_code in (400, 401):
            # OAuth's own envelope here, not the REST one.
            found = json_of(response)
            detail = found.get("error_description") or found.get("error") or "refused"
            raise ProviderFailure(f"PayPal refused the credentials: {detail}.")
        if not response.is_success:
            raise failure_of(response)
        found = json_of(response)
        token, lifetime = found.get("access_token"), found.get("expires_in")
        if not isinstance(token, str) or not isinstance(lifetime, int):
            raise ProviderFailure("PayPal answered /v1/oauth2/token without a token.")
        return _Token(f"Bearer {token}", started + lifetime - TOKEN_RENEW_MARGIN_SECONDS)

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise ProviderFailure("PayPal did not answer in time.", retryable=True) from exc
        except httpx.TransportError as exc:
            raise ProviderFailure(
                f"PayPal could not be reached ({type(exc).__name__}).", retryable=True
            ) from exc

    async def call(
        self,
        access: ProviderAccess,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> httpx.Response:
        """An authorised call; a 401 (an expired or revoked token) gets one new token."""
        headers = dict(_REPRESENTATION)
        if request_id is not None:
            headers["PayPal-Request-Id"] = request_id
        for attempt in range(2):
            authorization = await self._token(access)
            response = await self.send(
                method,
                f"{self.base(access)}{path}",
                json=body,
                headers={**headers, "Authorization": authorization},
            )
            if response.status_code != 401 or attempt == 1:
                return response
            key = self._cache_key(access)
            if (cached := self._tokens.get(key)) and cached.authorization == authorization:
                del self._tokens[key]
        raise AssertionError("unreachable")  # pragma: no cover

    async def order(self, access: ProviderAccess, order_id: str) -> dict[str, Any] | None:
        response = await self.call(access, "GET", f"/v2/checkout/orders/{order_id}")
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise failure_of(response)
        return json_of(response)


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def issue_of(response: httpx.Response) -> str | None:
    details = json_of(response).get("details")
    first = details[0] if isinstance(details, list) and details else None
    issue = first.get("issue") if isinstance(first, dict) else None
    return issue if isinstance(issue, str) else None


def failure_of(response: httpx.Response) -> ProviderFailure:
    """PayPal's error envelope as a merchant can read it: the issue and its description, the
    envelope's message otherwise, and the debug id PayPal's support asks for."""
    found = json_of(response)
    details = found.get("details")
    first = (
        details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    )
    issue, description = first.get("issue"), first.get("description")
    message = found.get("message")
    if isinstance(issue, str):
        text = f"PayPal: {issue}" + (f": {description}" if isinstance(description, str) else "")
    elif isinstance(message, str):
        text = f"PayPal: {message}"
    else:
        text = f"PayPal answered HTTP {response.status_code}."
    debug_id = found.get("debug_id")
    if isinstance(debug_id, str):
        text = f"{text} (debug id {debug_id})"
    status = response.status_code
    return ProviderFailure(text, retryable=status >= 500 or status == 429)
