"""Stripe: Checkout Sessions (or PaymentIntents for the merchant's own page) to collect, the
Refunds API to return, signed events to learn (read in `stripe_events`).

Wire format: providers.md section 1. The official `stripe` package does the HTTP (its async httpx
client, pointed at `api_base`) and the signature check, so both behave exactly as Stripe documents.
One `StripeClient` is made per call around the account's own secret key: the key is never kept.
"""

import json
import time
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from typing import TypeVar

import stripe
from stripe.params import PaymentIntentCreateParams

from hazina.domain.providers import (
    CLIENT_SECRET_FLOW,
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
from hazina.providers.stripe_amounts import reported_amount, to_stripe_amount
from hazina.providers.stripe_events import (
    FLOW_KEY,
    PAYMENT_KEY,
    REFUND_KEY,
    REFUND_KINDS,
    event_from,
    id_of,
    intent_event,
    intent_failure,
    intent_state,
    refund_event,
    session_event,
)

# Stripe's SDK default; older signatures are replays, not news.
SIGNATURE_TOLERANCE_SECONDS = 300
# Checkout Sessions live 31 minutes: a minute above the shortest Stripe allows (30; 24 h by
# default), so clock skew cannot push it below, and an abandoned page soon stops taking money.
SESSION_LIFETIME_SECONDS = 31 * 60
# The reasons the Refunds API accepts; Hazina's free-text reason is only passed on when it is one.
_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
# Our references to a PaymentIntent (the PaymentIntent flow) rather than a Checkout Session.
_INTENT_PREFIX = "pi_"

T = TypeVar("T")


class StripeProvider:
    """Implements services.ports.PaymentProvider for method `stripe`: hosted Checkout, or a
    PaymentIntent whose client secret the merchant's page confirms with Stripe Elements."""

    name: str = "stripe"
    methods: tuple[str, ...] = ("stripe",)
    # Whatever the order's: the provider converts, or refuses at the start.
    currencies: frozenset[str] | None = None
    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.REDIRECT,
            Capability.STATUS_QUERY,
            Capability.REFUND,
            Capability.REFUND_QUERY,
            Capability.CAPTURE,
            Capability.CANCEL,
            Capability.CLIENT_SECRET,
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
        if start.flow == CLIENT_SECRET_FLOW:
            return await self._start_intent(access, start)
        metadata = {PAYMENT_KEY: start.payment_id}
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

    async def _start_intent(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        publishable_key = access.secret("publishable_key")
        if publishable_key is None:
            # The merchant's page needs it to load Stripe Elements: refuse before creating.
            raise ProviderFailure(
                "The Stripe account has no publishable_key, which the PaymentIntent flow hands "
                "to the merchant's page: add it to the provider account."
            )
        params: PaymentIntentCreateParams = {
            "amount": to_stripe_amount(start.amount, start.currency),
            "currency": start.currency.lower(),
            "automatic_payment_methods": {"enabled": True},
            "description": start.description,
            # The flow marks its declines as final (stripe_events).
            "metadata": {PAYMENT_KEY: start.payment_id, FLOW_KEY: CLIENT_SECRET_FLOW},
        }
        if not start.capture:
            params["capture_method"] = "manual"
        if start.customer_email:
            params["receipt_email"] = start.customer_email
        intent = await _call(
            self._client(access).v1.payment_intents.create_async(
                params, {"idempotency_key": f"hazina-{start.payment_id}"}
            )
        )
        if not intent.client_secret:
            raise ProviderFailure(f"Stripe returned PaymentIntent {intent.id} without a secret.")
        return StartedPayment(
            provider_reference=intent.id,
            next_action={
                "type": "stripe_client_secret",
                "client_secret": intent.client_secret,
                "publishable_key": publishable_key,
            },
        )

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        """Expire the Checkout Session, or cancel the PaymentIntent: it stops taking money
        (Stripe refuses once it was paid, and that refusal is raised)."""
        client = self._client(access)
        if provider_reference.startswith(_INTENT_PREFIX):
            await _call(
                client.v1.payment_intents.cancel_async(
                    provider_reference, {"cancellation_reason": "abandoned"}
                )
            )
            return
        await _call(client.v1.checkout.sessions.expire_async(provider_reference))

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
            return [event_from(event)]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidSignature("The signed Stripe webhook is not a Stripe event.") from exc

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        if provider_reference is None:
            return None  # Checkout Sessions cannot be searched by our id
        client = self._client(access)
        if provider_reference.startswith(_INTENT_PREFIX):
            return await self._fetch_intent(client, payment_id, provider_reference)
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
        elif status == "complete" and (intent_id := id_of(found.get("payment_intent"))):
            # A completed, unpaid session is a delayed payment; only its intent knows if it failed.
            intent = await _call(client.v1.payment_intents.retrieve_async(intent_id))
            if intent.status == "requires_capture":
                kind = ProviderEventKind.PAYMENT_SUCCEEDED  # authorised, to be captured
            elif intent.status in ("requires_payment_method", "canceled"):
                kind = ProviderEventKind.PAYMENT_FAILED
                message = intent_failure(intent.to_dict())
        event = session_event(
            f"reconcile:{session.id}:{status}:{payment_status}", "checkout.session", kind, found
        )
        return replace(event, payment_id=event.payment_id or payment_id, message=message)

    async def _fetch_intent(
        self, client: stripe.StripeClient, payment_id: str, intent_id: str
    ) -> ProviderEvent | None:
        try:
            intent = await client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return None
            raise _failure(exc) from exc
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        found = intent.to_dict()
        event = intent_event(
            f"reconcile:{intent.id}:{intent.status}", "payment_intent", intent_state(found), found
        )
        return replace(event, payment_id=event.payment_id or payment_id)

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund:
        client = self._client(access)
        intent_id = refund.provider_payment_reference or _intent_reference(
            refund.provider_reference
        )
        if intent_id is None and refund.provider_reference is not None:
            session = await _call(
                client.v1.checkout.sessions.retrieve_async(refund.provider_reference)
            )
            intent_id = id_of(session.to_dict().get("payment_intent"))
        if intent_id is None:
            raise ProviderFailure("Stripe has no completed payment to refund for this payment.")
        reason = refund.reason if refund.reason in _REFUND_REASONS else None
        made = await _call(
            client.v1.refunds.create_async(
                {
                    "payment_intent": intent_id,
                    "amount": to_stripe_amount(refund.amount, refund.currency),
                    "metadata": {REFUND_KEY: refund.refund_id, PAYMENT_KEY: refund.payment_id},
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
        kind = REFUND_KINDS.get(status)
        if kind is None:
            return None  # pending or requires_action: Stripe has not settled it yet
        event = refund_event(f"reconcile:{found.id}:{status}", "refund", kind, found.to_dict())
        return replace(event, refund_id=event.refund_id or refund_id)

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        client = self._client(access)
        intent_id = capture.provider_payment_reference or _intent_reference(
            capture.provider_reference
        )
        if intent_id is None and capture.provider_reference is not None:
            session = await _call(
                client.v1.checkout.sessions.retrieve_async(capture.provider_reference)
            )
            intent_id = id_of(session.to_dict().get("payment_intent"))
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
        amount = reported_amount(captured.amount_received, captured.currency)
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


def _intent_reference(provider_reference: str | None) -> str | None:
    """The payment's own reference when it is a PaymentIntent (the PaymentIntent flow)."""
    if provider_reference is not None and provider_reference.startswith(_INTENT_PREFIX):
        return provider_reference
    return None
