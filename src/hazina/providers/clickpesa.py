"""ClickPesa (Tanzania): hosted checkout links and USSD pushes over plain httpx.

Wire format: providers.md section 3. Every call needs a bearer token from `/generate-token`, valid
for an hour; tokens are cached per account and shared by concurrent callers. ClickPesa has no
webhook signature header: when the account has a checksum key, the body's `checksum` (the v2 rule
in `hazina.domain.checksums`) is verified; without one, webhooks are accepted as they come and
reconciliation (`fetch_payment`) remains the source of truth.
"""

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from hazina.domain import ids, money
from hazina.domain.checksums import checksum_matches, compute_checksum
from hazina.domain.providers import (
    Capability,
    CaptureStart,
    CredentialFields,
    InvalidSignature,
    PaymentStart,
    ProviderAccess,
    ProviderEvent,
    ProviderEventKind,
    ProviderFailure,
    RefundStart,
    StartedPayment,
    StartedRefund,
)
from hazina.providers.clickpesa_payout_records import WEBHOOK_EVENTS as PAYOUT_EVENTS
from hazina.providers.clickpesa_payout_records import payout_report

# "JWT token is valid for 1hr"; renewing 5 minutes early keeps a slow request from carrying a
# token that expires on its way.
TOKEN_LIFETIME_SECONDS = 3600.0
TOKEN_RENEW_MARGIN_SECONDS = 300.0

PAYMENT_RECEIVED = "PAYMENT RECEIVED"
PAYMENT_FAILED = "PAYMENT FAILED"
# raw_type of a status answer that is neither a success nor a failure.
PAYMENT_STATUS = "PAYMENT STATUS"

_STATUS_KINDS: dict[str, ProviderEventKind] = {
    "SUCCESS": ProviderEventKind.PAYMENT_SUCCEEDED,  # paid, not yet settled
    "SETTLED": ProviderEventKind.PAYMENT_SUCCEEDED,
    "FAILED": ProviderEventKind.PAYMENT_FAILED,
    "PROCESSING": ProviderEventKind.PAYMENT_PENDING,
    "PENDING": ProviderEventKind.PAYMENT_PENDING,
    "ON-HOLD": ProviderEventKind.PAYMENT_PENDING,  # needs the merchant to act at ClickPesa
}

_TANZANIAN_MOBILE = re.compile(r"255\d{9}")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")

NO_REFUND_API = (
    "ClickPesa has no refund API: refund this payment from the ClickPesa dashboard "
    "(or send the money back with a payout)"
)


@dataclass(frozen=True, slots=True)
class _Token:
    authorization: str  # "Bearer …", sent verbatim
    renew_at: float  # on the adapter's clock


def normalise_phone(phone: str) -> str:
    """`+255 712 345 678`, `0712345678` or `255712345678` → `255712345678`."""
    digits = _PHONE_PUNCTUATION.sub("", phone)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("0") and len(digits) == 10:
        digits = "255" + digits[1:]
    if not _TANZANIAN_MOBILE.fullmatch(digits):
        raise ProviderFailure(
            f"{phone!r} is not a Tanzanian mobile number: use 255XXXXXXXXX, "
            "+255XXXXXXXXX or 0XXXXXXXXX"
        )
    return digits


def _major_amount(minor: int, currency: str) -> str:
    """ClickPesa's documented amounts are whole strings ("1000"); keep a fraction only when the
    amount has one, so 100000 minor TZS goes out as "1000", 100050 as "1000.50"."""
    major = money.to_major(minor, currency)
    whole, _, fraction = major.partition(".")
    return whole if not fraction.strip("0") else major


def message_of(response: httpx.Response) -> str:
    """ClickPesa's errors are `{"message": "…"}`; anything else is shown as the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else f"HTTP {response.status_code}"


def _occurred_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


def _amount(value: Any, currency: str | None) -> int | None:
    if currency is None or value is None or isinstance(value, bool):
        return None
    if not isinstance(value, str | int):
        raise ValueError(f"ClickPesa amount is not a string or an integer: {value!r}")
    return money.to_minor(value, currency)


def _payment_event(raw_type: str, data: Mapping[str, Any]) -> ProviderEvent:
    """A payment record (webhook `data` or a status-query item), current or older shape."""
    status = str(data.get("status") or "").strip().upper()
    reference = _text(data.get("orderReference"))
    if reference is None:
        raise ValueError("ClickPesa payment without an orderReference")
    transaction = _text(data.get("id")) or _text(data.get("paymentId"))
    currency = _text(data.get("collectedCurrency")) or _text(data.get("currency"))
    raw_amount = data.get("collectedAmount", data.get("amount"))
    if raw_type == PAYMENT_FAILED:
        kind = ProviderEventKind.PAYMENT_FAILED
    else:
        kind = _STATUS_KINDS.get(status, ProviderEventKind.IGNORED)
    message = data.get("message")
    return ProviderEvent(
        kind=kind,
        dedup_key=f"{raw_type}:{reference}:{transaction or ''}:{status}",
        raw_type=raw_type,
        raw_status=status,
        payment_id=ids.from_alphanumeric_reference(reference, ids.PAYMENT),
        provider_reference=reference,
        provider_payment_reference=transaction,
        amount=_amount(raw_amount, currency),
        currency=currency.upper() if currency else None,
        occurred_at=_occurred_at(data.get("updatedAt")),
        message=message if isinstance(message, str) else None,
    )


class ClickPesaProvider:
    """Implements services.ports.PaymentProvider for ClickPesa."""

    name = "clickpesa"
    methods: tuple[str, ...] = ("clickpesa",)
    # Whatever the order's: the provider converts, or refuses at the start.
    currencies: frozenset[str] | None = None
    capabilities = frozenset({Capability.REDIRECT, Capability.USSD_PUSH, Capability.STATUS_QUERY})
    credentials = CredentialFields(required=("client_id", "api_key"), optional=("checksum_key",))

    def __init__(
        self,
        api_base: str,
        timeout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._clock = clock
        self._client = httpx.AsyncClient(
            base_url=api_base.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )
        # Keyed by client id and a digest of the API key, so a changed key gets its own token
        # and the key itself is never kept.
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- tokens ---------------------------------------------------------------------------

    @staticmethod
    def _credentials(access: ProviderAccess) -> tuple[str, str]:
        client_id, api_key = access.secret("client_id"), access.secret("api_key")
        if client_id is None or api_key is None:
            raise ProviderFailure("The ClickPesa account needs a client_id and an api_key")
        return client_id, api_key

    def _cache_key(self, access: ProviderAccess) -> tuple[str, str]:
        client_id, api_key = self._credentials(access)
        return client_id, hashlib.sha256(api_key.encode()).hexdigest()

    async def _token(self, access: ProviderAccess) -> str:
        key = self._cache_key(access)
        cached = self._tokens.get(key)
        if cached is not None and self._clock() < cached.renew_at:
            return cached.authorization
        # One fetch per account at a time; the others wait and take its token.
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is not None and self._clock() < cached.renew_at:
                return cached.authorization
            token = await self._generate_token(access)
            self._tokens[key] = token
            return token.authorization

    async def _generate_token(self, access: ProviderAccess) -> _Token:
        client_id, api_key = self._credentials(access)
        started = self._clock()
        response = await self._send(
            "POST", "/generate-token", headers={"client-id": client_id, "api-key": api_key}
        )
        if response.status_code in (401, 403):
            raise ProviderFailure(f"ClickPesa refused the credentials: {message_of(response)}")
        self.raise_for_status(response)
        token = response.json().get("token")
        if not isinstance(token, str) or not token:
            raise ProviderFailure("ClickPesa answered /generate-token without a token")
        return _Token(token, started + TOKEN_LIFETIME_SECONDS - TOKEN_RENEW_MARGIN_SECONDS)

    def _forget_token(self, access: ProviderAccess, authorization: str) -> None:
        key = self._cache_key(access)
        cached = self._tokens.get(key)
        # Another caller may already have replaced it; keep the fresh one.
        if cached is not None and cached.authorization == authorization:
            del self._tokens[key]

    # -- transport ------------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ProviderFailure("ClickPesa did not answer in time", retryable=True) from exc
        except httpx.TransportError as exc:
            raise ProviderFailure(
                f"ClickPesa could not be reached ({type(exc).__name__})", retryable=True
            ) from exc

    @staticmethod
    def raise_for_status(response: httpx.Response) -> None:
        if response.is_success:
            return
        raise ProviderFailure(
            f"ClickPesa: {message_of(response)}", retryable=response.status_code >= 500
        )

    async def call(
        self, access: ProviderAccess, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        """An authorised call; a 401 (expired or revoked token) gets one new token and a retry."""
        for attempt in range(2):
            authorization = await self._token(access)
            response = await self._send(
                method, path, json=body, headers={"Authorization": authorization}
            )
            if response.status_code != 401 or attempt == 1:
                return response
            self._forget_token(access, authorization)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def signed(access: ProviderAccess, body: dict[str, Any]) -> dict[str, Any]:
        checksum_key = access.secret("checksum_key")
        if checksum_key is None:
            return body
        return {**body, "checksum": compute_checksum(checksum_key, body)}

    # -- payments -------------------------------------------------------------------------

    async def start_payment(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        reference = ids.alphanumeric_reference(start.payment_id)
        amount = _major_amount(start.amount, start.currency)
        if start.customer_phone:
            return await self._push_ussd(access, start, reference, amount)
        return await self._create_checkout_link(access, start, reference, amount)

    async def _push_ussd(
        self, access: ProviderAccess, start: PaymentStart, reference: str, amount: str
    ) -> StartedPayment:
        assert start.customer_phone is not None
        phone = normalise_phone(start.customer_phone)
        body = {
            "amount": amount,
            "currency": start.currency,
            "orderReference": reference,
            "phoneNumber": phone,
        }
        response = await self.call(
            access, "POST", "/payments/initiate-ussd-push-request", self.signed(access, body)
        )
        # A 409 on our own reference means an earlier attempt of this start reached ClickPesa:
        # the push went out then, so the payment is started.
        if response.status_code != 409:
            self.raise_for_status(response)
        return StartedPayment(
            provider_reference=reference,
            next_action={
                "type": "ussd_push",
                "phone": phone,
                "message": (
                    f"Confirm the payment of {start.currency} {amount} on your phone "
                    "by entering your mobile money PIN."
                ),
            },
        )

    async def _create_checkout_link(
        self, access: ProviderAccess, start: PaymentStart, reference: str, amount: str
    ) -> StartedPayment:
        body: dict[str, Any] = {
            "totalPrice": amount,
            "orderReference": reference,
            "orderCurrency": start.currency,
        }
        if start.customer_email:
            body["customerEmail"] = start.customer_email
        if start.description:
            body["description"] = start.description
        response = await self.call(
            access, "POST", "/checkout-link/generate-checkout-url", self.signed(access, body)
        )
        # Unlike a push, a link is only known from its answer: a 409 leaves nothing to return.
        self.raise_for_status(response)
        link = response.json().get("checkoutLink")
        if not isinstance(link, str) or not link:
            raise ProviderFailure("ClickPesa answered without a checkoutLink")
        return StartedPayment(
            provider_reference=reference, next_action={"type": "redirect", "url": link}
        )

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        reference = provider_reference or ids.alphanumeric_reference(payment_id)
        response = await self.call(access, "GET", f"/payments/{reference}")
        if response.status_code == 404:
            return None
        self.raise_for_status(response)
        records = [item for item in response.json() if isinstance(item, dict)]
        if not records:
            return None
        # Money that arrived is the payment's state whatever came after; otherwise the newest
        # attempt is (ISO-8601 in UTC sorts as text).
        paid = [r for r in records if str(r.get("status") or "").upper() in ("SUCCESS", "SETTLED")]
        latest = max(paid or records, key=lambda item: str(item.get("updatedAt") or ""))
        status = str(latest.get("status") or "").strip().upper()
        kind = _STATUS_KINDS.get(status)
        # Named like the webhook that reports the same fact, so the two share a dedup key.
        raw_type = (
            PAYMENT_RECEIVED
            if kind is ProviderEventKind.PAYMENT_SUCCEEDED
            else PAYMENT_FAILED
            if kind is ProviderEventKind.PAYMENT_FAILED
            else PAYMENT_STATUS
        )
        return _payment_event(raw_type, latest)

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund:
        raise ProviderFailure(NO_REFUND_API)

    async def fetch_refund(
        self, access: ProviderAccess, refund_id: str, provider_refund_reference: str | None
    ) -> ProviderEvent | None:
        return None  # no refund API, so no refund of Hazina's is ever pending at ClickPesa

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        # Not in `capabilities`: payments are refused `"capture": false` before they start.
        raise ProviderFailure("ClickPesa cannot authorise a payment to capture it later.")

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        # Not in `capabilities`: a USSD push cannot be withdrawn; a late payment of an
        # abandoned attempt is settled as a duplicate instead.
        raise ProviderFailure("ClickPesa cannot cancel a payment it has started.")

    # -- webhooks -------------------------------------------------------------------------

    def parse_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> list[ProviderEvent]:
        """Signature problems raise `InvalidSignature`; a verified (or unverifiable, when the
        account has no checksum key) body that is not a ClickPesa payment record raises
        `ValueError`."""
        checksum_key = access.secret("checksum_key")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            if checksum_key is not None:
                raise InvalidSignature(
                    "ClickPesa webhook is not JSON, so carries no checksum"
                ) from exc
            raise ValueError("ClickPesa webhook is not JSON") from exc
        if not isinstance(payload, dict):
            if checksum_key is not None:
                raise InvalidSignature("ClickPesa webhook is not a JSON object")
            raise ValueError("ClickPesa webhook is not a JSON object")
        if checksum_key is not None:
            self._verify(checksum_key, payload, headers)

        event = str(payload.get("event") or payload.get("eventType") or "").strip().upper()
        data = payload.get("data")
        if event in (PAYMENT_RECEIVED, PAYMENT_FAILED):
            if not isinstance(data, dict):
                raise ValueError(f"ClickPesa {event} without a data object")
            # Without a checksum key anyone could have sent it: Hazina asks ClickPesa instead.
            return [replace(_payment_event(event, data), confirmed=checksum_key is not None)]
        if event in PAYOUT_EVENTS:
            if not isinstance(data, dict):
                raise ValueError(f"ClickPesa {event} without a data object")
            return [replace(payout_report(event, data), confirmed=checksum_key is not None)]
        return [self._ignored(event, data)]

    @staticmethod
    def _verify(checksum_key: str, payload: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        # The docs put the checksum in the body; community SDKs (clickpesa-python-sdk) read an
        # X-ClickPesa-Signature header instead. Either is checked against the same digest.
        checksum = payload.get("checksum")
        if not isinstance(checksum, str) or not checksum:
            checksum = headers.get("x-clickpesa-signature") or headers.get("X-ClickPesa-Signature")
        if not checksum:
            raise InvalidSignature("ClickPesa webhook without a checksum")
        if not checksum_matches(checksum_key, payload, checksum):
            raise InvalidSignature("ClickPesa webhook checksum does not match")

    @staticmethod
    def _ignored(event: str, data: Any) -> ProviderEvent:
        """Deposits and unknown events: stored and acknowledged, nothing to change."""
        fields = data if isinstance(data, dict) else {}
        reference = _text(fields.get("orderReference"))
        transaction = _text(fields.get("id")) or _text(fields.get("paymentId"))
        status = str(fields.get("status") or "").strip().upper()
        return ProviderEvent(
            kind=ProviderEventKind.IGNORED,
            dedup_key=f"{event}:{reference or ''}:{transaction or ''}:{status}",
            raw_type=event,
            raw_status=status,
            provider_reference=reference,
            occurred_at=_occurred_at(fields.get("updatedAt")),
        )
