"""Stripe: Checkout Sessions to collect, the Refunds API to return, signed events to learn.

Wire format: providers.md section 1. The official `stripe` package does the HTTP (its async httpx
client, pointed at `api_base`) and the signature check, so both behave exactly as Stripe documents.
One `StripeClient` is made per call around the account's own secret key: the key is never kept.
"""

import json
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import stripe

from hazina.domain.providers import (
    Capability,
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
# The reasons the Refunds API accepts; Hazina's free-text reason is only passed on when it is one.
_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

_SESSION_KINDS = {
    "checkout.session.async_payment_succeeded": ProviderEventKind.PAYMENT_SUCCEEDED,
    "checkout.session.async_payment_failed": ProviderEventKind.PAYMENT_FAILED,
    "checkout.session.expired": ProviderEventKind.PAYMENT_EXPIRED,
}
# A declined attempt inside Checkout (`payment_intent.payment_failed`) is not final: the session
# stays open for another card, so only the session's own events fail a payment.
_INTENT_KINDS = {"payment_intent.succeeded": ProviderEventKind.PAYMENT_SUCCEEDED}
# `charge.refunded` names no refund (only the charge's running total), so it is not used: each
# refund's own events carry Hazina's refund id in their metadata and its final status.
_REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})
_REFUND_KINDS = {
    "succeeded": ProviderEventKind.REFUND_SUCCEEDED,
    "failed": ProviderEventKind.REFUND_FAILED,
    "canceled": ProviderEventKind.REFUND_FAILED,
}

T = TypeVar("T")


class StripeProvider:
    """Implements services.ports.PaymentProvider for method `stripe` (hosted Checkout)."""

    name: str = "stripe"
    methods: tuple[str, ...] = ("stripe",)
    capabilities: frozenset[Capability] = frozenset(
        {Capability.REDIRECT, Capability.STATUS_QUERY, Capability.REFUND}
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
                                "unit_amount": start.amount,
                                "product_data": {"name": start.description},
                            },
                            "quantity": 1,
                        }
                    ],
                    "client_reference_id": start.payment_id,
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "success_url": start.success_url,
                    "cancel_url": start.cancel_url,
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
            if intent.status in ("requires_payment_method", "canceled"):
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
                    "amount": refund.amount,
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
    elif event_type in _REFUND_EVENTS:
        status = str(found.get("status"))
        parsed = ProviderEvent(
            kind=_REFUND_KINDS.get(status, ProviderEventKind.IGNORED),
            dedup_key=event_id,
            raw_type=event_type,
            raw_status=status,
            payment_id=_metadata(found).get("hazina_payment_id"),
            provider_payment_reference=_id_of(found.get("payment_intent")),
            amount=found.get("amount"),
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
        amount=session.get("amount_total"),
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
        amount=intent.get("amount_received") if succeeded else intent.get("amount"),
        currency=_upper(intent.get("currency")),
        message=None if succeeded else _failure_message(intent),
    )


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
