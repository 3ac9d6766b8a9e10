"""Stripe: Checkout Sessions to collect, the Refunds API to return, signed events to learn.

Wire format: providers.md section 1. The official `stripe` package does the HTTP (its async httpx
client, pointed at `api_base`) and the signature check, so both behave exactly as Stripe documents.
One `StripeClient` is made per call around the account's own secret key: the key is never kept.
"""

import json
import time
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import stripe

from hazina.domain.money import exponent, to_major
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

# Stripe's SDK default; older signatures are replays, not news.
SIGNATURE_TOLERANCE_SECONDS = 300
# Checkout Sessions live 31 minutes: a minute above the shortest Stripe allows (30; 24 h by
# default), so clock skew cannot push it below, and an abandoned page soon stops taking money.
SESSION_LIFETIME_SECONDS = 31 * 60
# The reasons the Refunds API accepts; Hazina's free-text reason is only passed on when it is one.
_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

_SESSION_KINDS = {
    "checkout.session.async_payment_succeeded": ProviderEventKind.PAYMENT_SUCCEEDED,
    "checkout.session.async_payment_failed": ProviderEventKind.PAYMENT_FAILED,
    "checkout.session.expired": ProviderEventKind.PAYMENT_EXPIRED,
}
# A declined attempt inside Checkout (`payment_intent.payment_failed`) is not final: the session
# stays open for another card, so only the session's own events fail a payment.
_INTENT_KINDS = {
    "payment_intent.succeeded": ProviderEventKind.PAYMENT_SUCCEEDED,
    # A manual-capture payment was authorised: the money is held, to be captured later. (Its
    # checkout.session.completed says `unpaid`, the same as a delayed method's.)
    "payment_intent.amount_capturable_updated": ProviderEventKind.PAYMENT_SUCCEEDED,
}
# `charge.refunded` names no refund (only the charge's running total), so it is not used: each
# refund's own events carry Hazina's refund id in their metadata and its final status.
_REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})
_REFUND_KINDS = {
    "succeeded": ProviderEventKind.REFUND_SUCCEEDED,
    "failed": ProviderEventKind.REFUND_FAILED,
    "canceled": ProviderEventKind.REFUND_FAILED,
}

# Stripe's units differ from ISO 4217's for some currencies (docs.stripe.com/currencies):
# these it counts in whole units, MGA included (ISO gives it two decimals)…
_STRIPE_ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
})  # fmt: skip
# …these in thousandths, with a last digit of 0 (its partners settle to the hundredth)…
_STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# …and ISK, zero-decimal in ISO, keeps two decimals in Stripe's API that must always be 00.
# Every other currency (HUF and TWD too, which are zero-decimal only for payouts) has two.
_STRIPE_STEPS = {"ISK": 100} | dict.fromkeys(_STRIPE_THREE_DECIMAL, 10)

T = TypeVar("T")


class StripeProvider:
    """Implements services.ports.PaymentProvider for method `stripe` (hosted Checkout)."""

    name: str = "stripe"
    methods: tuple[str, ...] = ("stripe",)
    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.REDIRECT,
            Capability.STATUS_QUERY,
            Capability.REFUND,
            Capability.CAPTURE,
            Capability.CANCEL,
        }
    )
    credentials = CredentialFields(
        required=("secret_key", "webhook_secret"),
        optional=("publishable_key",),
        prefixes={
            # Restricted keys (rk_) work wherever a secret key does.
            "secret_key": ("sk_{mode}_", "rk_{mode}_"),
            "publishable_key": ("pk_{mode}_",),
            "webhook_secret": ("whsec_",),
        },
    )

    def __init__(
        self, api_base: str, timeout_seconds: float, *, max_network_retries: int = 1
    ) -> None:
        self._api_base = api_base.rstrip("/")
        # Creates and refunds carry our own Idempotency-Key, so the SDK's retries are safe.
        self._max_network_retries = max_network_retries
        self._http = stripe.HTTPXClient(timeout=timeout_seconds)

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # untyped in the SDK

    def _client(self, access: ProviderAccess) -> stripe.StripeClient:
        key = access.secret("secret_key")
        if key is None:
            raise ProviderFailure("The Stripe account has no secret key.")
        return stripe.StripeClient(
            key,
            base_addresses={"api": self._api_base},
            http_client=self._http,
            max_network_retries=self._max_network_retries,
        )

    async def start_payment(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        metadata = {"hazina_payment_id": start.payment_id}
        session = await _call(
            self._client(access).v1.checkout.sessions.create_async(
                {
                    "mode": "payment",
                    "line_items": [
                        {
                            "price_data": {
                                "currency": start.currency.lower(),
                                "unit_amount": to_stripe_amount(start.amount, start.currency),
                                "product_data": {"name": start.description},
                            },
                            "quantity": 1,
                        }
                    ],
                    "client_reference_id": start.payment_id,
                    "metadata": metadata,
                    "payment_intent_data": {
                        "metadata": metadata,
                        **({} if start.capture else {"capture_method": "manual"}),
                    },
                    "success_url": start.success_url,
                    "cancel_url": start.cancel_url,
                    # Stripe's shortest: an abandoned page stops taking money soon.
                    "expires_at": int(time.time()) + SESSION_LIFETIME_SECONDS,
                    **({"customer_email": start.customer_email} if start.customer_email else {}),
                },
                # A retried start (a crash between Stripe's answer and our commit) finds the
                # session it already made instead of opening a second one.
                {"idempotency_key": f"hazina-{start.payment_id}"},
            )
        )
        if not session.url:
            raise ProviderFailure(f"Stripe returned checkout session {session.id} without a URL.")
        return StartedPayment(
            provider_reference=session.id, next_action={"type": "redirect", "url": session.url}
        )

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        """Expire the Checkout Session: its page stops taking money (Stripe refuses once it
        was completed, and that refusal is raised)."""
        await _call(self._client(access).v1.checkout.sessions.expire_async(provider_reference))

    def parse_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> list[ProviderEvent]:
        header = next(
            (value for name, value in headers.items() if name.lower() == "stripe-signature"), None
        )
        secret = access.secret("webhook_secret")
        if not header:
            raise InvalidSignature("The Stripe-Signature header is missing.")
        if secret is None:
            raise InvalidSignature("The Stripe account has no webhook secret to verify with.")
        try:
            payload = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                payload, header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
            )
        except UnicodeDecodeError as exc:
            raise InvalidSignature("The Stripe webhook body is not UTF-8.") from exc
        except stripe.SignatureVerificationError as exc:
            # The SDK's messages name the failure but not the header's value, which stays out.
            raise InvalidSignature(f"Stripe signature rejected: {exc.user_message}") from None
        try:
            event = json.loads(payload)
            return [_event_from(event)]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidSignature("The signed Stripe webhook is not a Stripe event.") from exc

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        if provider_reference is None:
            return None  # Checkout Sessions cannot be searched by our id
        client = self._client(access)
        try:
            session = await client.v1.checkout.sessions.retrieve_async(provider_reference)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return None
            raise _failure(exc) from exc
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        found = session.to_dict()
        status, payment_status = found.get("status"), found.get("payment_status")
        kind = ProviderEventKind.PAYMENT_PENDING
        message = None
        if payment_status in ("paid", "no_payment_required"):
            kind = ProviderEventKind.PAYMENT_SUCCEEDED
        elif status == "expired":
            kind = ProviderEventKind.PAYMENT_EXPIRED
        elif status == "complete" and (intent_id := _id_of(found.get("payment_intent"))):
            # A completed, unpaid session is a delayed payment; only its intent knows if it failed.
            intent = await _call(client.v1.payment_intents.retrieve_async(intent_id))
            if intent.status == "requires_capture":
                kind = ProviderEventKind.PAYMENT_SUCCEEDED  # authorised, to be captured
            elif intent.status in ("requires_payment_method", "canceled"):
                kind = ProviderEventKind.PAYMENT_FAILED
                message = _failure_message(intent.to_dict())
        event = _session_event(
            f"reconcile:{session.id}:{status}:{payment_status}", "checkout.session", kind, found
        )
        return replace(event, payment_id=event.payment_id or payment_id, message=message)

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund:
        client = self._client(access)
        intent_id = refund.provider_payment_reference
        if intent_id is None and refund.provider_reference is not None:
            session = await _call(
                client.v1.checkout.sessions.retrieve_async(refund.provider_reference)
            )
            intent_id = _id_of(session.to_dict().get("payment_intent"))
        if intent_id is None:
            raise ProviderFailure("Stripe has no completed payment to refund for this payment.")
        reason = refund.reason if refund.reason in _REFUND_REASONS else None
        made = await _call(
            client.v1.refunds.create_async(
                {
                    "payment_intent": intent_id,
                    "amount": to_stripe_amount(refund.amount, refund.currency),
                    "metadata": {
                        "hazina_refund_id": refund.refund_id,
                        "hazina_payment_id": refund.payment_id,
                    },
                    **({"reason": reason} if reason else {}),
                },
                {"idempotency_key": f"hazina-{refund.refund_id}"},
            )
        )
        if made.status in ("failed", "canceled"):
            detail = made.failure_reason or made.status
            raise ProviderFailure(f"Stripe refused refund {made.id}: {detail}.")
        succeeded = made.status == "succeeded"
        return StartedRefund(provider_refund_reference=made.id, succeeded=succeeded)

    async def fetch_refund(
        self, access: ProviderAccess, refund_id: str, provider_refund_reference: str | None
    ) -> ProviderEvent | None:
        if provider_refund_reference is None:
            return None  # never accepted by Stripe: nothing to ask about
        found = await _call(
            self._client(access).v1.refunds.retrieve_async(provider_refund_reference)
        )
        status = str(found.status)
        kind = _REFUND_KINDS.get(status)
        if kind is None:
            return None  # pending or requires_action: Stripe has not settled it yet
        refund = found.to_dict()
        return ProviderEvent(
            kind=kind,
            dedup_key=f"reconcile:{found.id}:{status}",
            raw_type="refund",
            raw_status=status,
            payment_id=_metadata(refund).get("hazina_payment_id"),
            provider_payment_reference=_id_of(refund.get("payment_intent")),
            amount=_reported_amount(refund.get("amount"), refund.get("currency")),
            currency=_upper(refund.get("currency")),
            refund_id=_metadata(refund).get("hazina_refund_id") or refund_id,
            provider_refund_reference=found.id,
            message=refund.get("failure_reason") or (None if status == "succeeded" else status),
        )

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        client = self._client(access)
        intent_id = capture.provider_payment_reference
        if intent_id is None and capture.provider_reference is not None:
            session = await _call(
                client.v1.checkout.sessions.retrieve_async(capture.provider_reference)
            )
            intent_id = _id_of(session.to_dict().get("payment_intent"))
        if intent_id is None:
            raise ProviderFailure("Stripe holds no authorised payment to capture for it.")
        captured = await _call(
            client.v1.payment_intents.capture_async(
                intent_id,
                {"amount_to_capture": to_stripe_amount(capture.amount, capture.currency)},
                # One capture per payment: a retry (or a crash before Hazina recorded the
                # answer) gets Stripe's first answer back instead of an error.
                {"idempotency_key": f"hazina-capture-{capture.payment_id}"},
            )
        )
        amount = _reported_amount(captured.amount_received, captured.currency)
        return capture.amount if amount is None else amount


async def _call(request: Awaitable[T]) -> T:
    try:
        return await request
    except stripe.StripeError as exc:
        raise _failure(exc) from exc


def _failure(exc: stripe.StripeError) -> ProviderFailure:
    if isinstance(exc, stripe.APIConnectionError):
        return ProviderFailure("Stripe could not be reached.", retryable=True)
    status = exc.http_status or 0
    message = exc.user_message or f"Stripe answered HTTP {status}."
    return ProviderFailure(message, retryable=status >= 500 or status == 429)


def _event_from(event: dict[str, Any]) -> ProviderEvent:
    event_id, event_type = str(event["id"]), str(event["type"])
    found: dict[str, Any] = event["data"]["object"]
    occurred_at = datetime.fromtimestamp(int(event["created"]), UTC)
    if event_type == "checkout.session.completed":
        paid = found.get("payment_status") in ("paid", "no_payment_required")
        # An unpaid completed session is a delayed method still on its way: it stays pending.
        kind = ProviderEventKind.PAYMENT_SUCCEEDED if paid else ProviderEventKind.IGNORED
        parsed = _session_event(event_id, event_type, kind, found)
    elif event_type in _SESSION_KINDS:
        parsed = _session_event(event_id, event_type, _SESSION_KINDS[event_type], found)
    elif event_type in _INTENT_KINDS:
        parsed = _intent_event(event_id, event_type, _INTENT_KINDS[event_type], found)
    elif event_type == "payment_intent.canceled" and found.get("cancellation_reason") == (
        "automatic"
    ):
        # Stripe released an uncaptured authorisation when its capture window closed.
        parsed = _intent_event(event_id, event_type, ProviderEventKind.AUTHORIZATION_EXPIRED, found)
    elif event_type in _REFUND_EVENTS:
        status = str(found.get("status"))
        parsed = ProviderEvent(
            kind=_REFUND_KINDS.get(status, ProviderEventKind.IGNORED),
            dedup_key=event_id,
            raw_type=event_type,
            raw_status=status,
            payment_id=_metadata(found).get("hazina_payment_id"),
            provider_payment_reference=_id_of(found.get("payment_intent")),
            amount=_reported_amount(found.get("amount"), found.get("currency")),
            currency=_upper(found.get("currency")),
            refund_id=_metadata(found).get("hazina_refund_id"),
            provider_refund_reference=found.get("id"),
            message=found.get("failure_reason"),
        )
    else:
        parsed = ProviderEvent(
            kind=ProviderEventKind.IGNORED,
            dedup_key=event_id,
            raw_type=event_type,
            raw_status=str(found.get("status")),
        )
    return replace(parsed, occurred_at=occurred_at)


def _session_event(
    dedup_key: str, raw_type: str, kind: ProviderEventKind, session: dict[str, Any]
) -> ProviderEvent:
    status = session.get("status")
    return ProviderEvent(
        kind=kind,
        dedup_key=dedup_key,
        raw_type=raw_type,
        # What decided the kind: the payment status of a completed session, else the session's.
        raw_status=str(session.get("payment_status") if status == "complete" else status),
        payment_id=_metadata(session).get("hazina_payment_id")
        or session.get("client_reference_id"),
        provider_reference=session.get("id"),
        provider_payment_reference=_id_of(session.get("payment_intent")),
        amount=_reported_amount(session.get("amount_total"), session.get("currency")),
        currency=_upper(session.get("currency")),
    )


def _intent_event(
    dedup_key: str, raw_type: str, kind: ProviderEventKind, intent: dict[str, Any]
) -> ProviderEvent:
    succeeded = kind is ProviderEventKind.PAYMENT_SUCCEEDED
    return ProviderEvent(
        kind=kind,
        dedup_key=dedup_key,
        raw_type=raw_type,
        raw_status=str(intent.get("status")),
        payment_id=_metadata(intent).get("hazina_payment_id"),
        provider_payment_reference=intent.get("id"),
        amount=_reported_amount(_intent_amount(raw_type, intent), intent.get("currency")),
        currency=_upper(intent.get("currency")),
        message=None if succeeded else _failure_message(intent),
    )


def _intent_amount(raw_type: str, intent: dict[str, Any]) -> Any:
    """What the intent's event reports: the amount received, the amount authorised (and held
    for capture), or the amount asked for."""
    if raw_type == "payment_intent.succeeded":
        return intent.get("amount_received")
    if raw_type == "payment_intent.amount_capturable_updated":
        return intent.get("amount_capturable")
    return intent.get("amount")


def _metadata(found: dict[str, Any]) -> dict[str, str]:
    metadata = found.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _failure_message(intent: dict[str, Any]) -> str | None:
    error = intent.get("last_payment_error")
    return error.get("message") if isinstance(error, dict) else None


def _id_of(reference: Any) -> str | None:
    """An expandable field: an id, an expanded object, or null."""
    if isinstance(reference, dict):
        reference = reference.get("id")
    return reference if isinstance(reference, str) and reference else None


def _upper(currency: Any) -> str | None:
    return currency.upper() if isinstance(currency, str) else None


def _stripe_exponent(currency: str) -> int:
    code = currency.upper()
    if code in _STRIPE_ZERO_DECIMAL:
        return 0
    return 3 if code in _STRIPE_THREE_DECIMAL else 2


def to_stripe_amount(minor: int, currency: str) -> int:
    """Hazina's minor units (ISO 4217) → the integer Stripe's API takes: 500 JPY → 500,
    5 ISK → 500, 10000 MGA (100.00) → 100, 1230 KWD → 1230.

    An amount Stripe cannot represent (1.234 KWD, 100.50 MGA) is refused, never rounded: it
    would charge or refund a different sum than the one asked for.
    """
    shift = _stripe_exponent(currency) - exponent(currency)
    factor: int = 10 ** abs(shift)
    units, rest = (minor * factor, 0) if shift >= 0 else divmod(minor, factor)
    step = _STRIPE_STEPS.get(currency.upper(), 1)
    if rest or units % step:
        raise ProviderFailure(
            f"Stripe cannot take {to_major(minor, currency)} {currency.upper()}: "
            f"it takes {currency.upper()} amounts in steps of "
            f"{to_major(_hazina_step(currency), currency)}."
        )
    return units


def from_stripe_amount(units: int, currency: str) -> int:
    """Stripe's integer for `currency` → Hazina's minor units; the inverse of to_stripe_amount.
    A ValueError (a malformed report) when Stripe's figure is finer than ISO's minor unit."""
    shift = _stripe_exponent(currency) - exponent(currency)
    factor: int = 10 ** abs(shift)
    if shift <= 0:
        return units * factor
    minor, rest = divmod(units, factor)
    if rest:
        raise ValueError(f"Stripe reported {units} {currency}, finer than its minor unit")
    return minor


def _hazina_step(currency: str) -> int:
    """The smallest amount Stripe takes in `currency`, in Hazina's minor units."""
    shift = _stripe_exponent(currency) - exponent(currency)
    factor: int = 10 ** abs(shift)
    step = _STRIPE_STEPS.get(currency.upper(), 1)
    return max(step // factor, 1) if shift >= 0 else step * factor


def _reported_amount(units: Any, currency: Any) -> int | None:
    """An amount in a Stripe object, in Hazina's minor units; None when it names no amount or
    no currency to read it in."""
    if not isinstance(units, int) or isinstance(units, bool) or not isinstance(currency, str):
        return None
    return from_stripe_amount(units, currency)
