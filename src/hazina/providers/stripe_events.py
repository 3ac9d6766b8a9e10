"""Stripe's objects and events in Hazina's words: one table from event type to the reader of
its object and the kind it reports (providers.md section 1.6).

Two flows share one account. A Checkout Session's intent carries only `hazina_payment_id`: a
declined card there is not final (the session stays open for another card), so only the
session's own events fail it. A PaymentIntent Hazina created for the merchant's own page
(`"flow": "payment_intent"`) also carries `hazina_flow`, and its failures and cancellations are
final. Every report names our id (metadata) and the PaymentIntent's, the lookup order of seed
004: our id first, then the provider's.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hazina.domain.providers import CLIENT_SECRET_FLOW, ProviderEvent, ProviderEventKind
from hazina.providers.stripe_amounts import reported_amount

# Metadata Hazina puts on the objects it creates at Stripe.
PAYMENT_KEY = "hazina_payment_id"
REFUND_KEY = "hazina_refund_id"
FLOW_KEY = "hazina_flow"

_SUCCEEDED = ProviderEventKind.PAYMENT_SUCCEEDED
_FAILED = ProviderEventKind.PAYMENT_FAILED
_IGNORED = ProviderEventKind.IGNORED
REFUND_KINDS = {
    "succeeded": ProviderEventKind.REFUND_SUCCEEDED,
    "failed": ProviderEventKind.REFUND_FAILED,
    "canceled": ProviderEventKind.REFUND_FAILED,
}

Reader = Callable[[str, str, ProviderEventKind, dict[str, Any]], ProviderEvent]
Decider = Callable[[dict[str, Any]], ProviderEventKind]


@dataclass(frozen=True, slots=True)
class _Handling:
    read: Reader
    decide: Decider


def session_event(
    dedup_key: str, raw_type: str, kind: ProviderEventKind, session: dict[str, Any]
) -> ProviderEvent:
    status = session.get("status")
    return ProviderEvent(
        kind=kind,
        dedup_key=dedup_key,
        raw_type=raw_type,
        # What decided the kind: the payment status of a completed session, else the session's.
        raw_status=str(session.get("payment_status") if status == "complete" else status),
        payment_id=metadata(session).get(PAYMENT_KEY) or session.get("client_reference_id"),
        provider_reference=session.get("id"),
        provider_payment_reference=id_of(session.get("payment_intent")),
        amount=reported_amount(session.get("amount_total"), session.get("currency")),
        currency=_upper(session.get("currency")),
    )


def intent_event(
    dedup_key: str, raw_type: str, kind: ProviderEventKind, intent: dict[str, Any]
) -> ProviderEvent:
    intent_id = id_of(intent.get("id"))
    return ProviderEvent(
        kind=kind,
        dedup_key=dedup_key,
        raw_type=raw_type,
        raw_status=str(intent.get("status")),
        payment_id=metadata(intent).get(PAYMENT_KEY),
        # A PaymentIntent flow payment's own reference is the intent; a Checkout payment
        # learns it as the money's reference. Either finds the payment.
        provider_reference=intent_id if is_intent_flow(intent) else None,
        provider_payment_reference=intent_id,
        amount=reported_amount(_intent_amount(kind, intent), intent.get("currency")),
        currency=_upper(intent.get("currency")),
        message=None if kind is _SUCCEEDED else intent_failure(intent),
    )


def _charge_event(
    dedup_key: str, raw_type: str, kind: ProviderEventKind, charge: dict[str, Any]
) -> ProviderEvent:
    intent_id = id_of(charge.get("payment_intent"))
    return ProviderEvent(
        kind=kind,
        dedup_key=dedup_key,
        raw_type=raw_type,
        raw_status=str(charge.get("status")),
        payment_id=metadata(charge).get(PAYMENT_KEY),
        provider_reference=intent_id if is_intent_flow(charge) else None,
        provider_payment_reference=intent_id,
        # What the card was charged, or authorised for when it is captured later.
        amount=reported_amount(charge.get("amount"), charge.get("currency")),
        currency=_upper(charge.get("currency")),
        message=None if kind is _SUCCEEDED else charge.get("failure_message"),
    )


def refund_event(
    dedup_key: str, raw_type: str, kind: ProviderEventKind, refund: dict[str, Any]
) -> ProviderEvent:
    status = str(refund.get("status"))
    return ProviderEvent(
        kind=kind,
        dedup_key=dedup_key,
        raw_type=raw_type,
        raw_status=status,
        payment_id=metadata(refund).get(PAYMENT_KEY),
        provider_payment_reference=id_of(refund.get("payment_intent")),
        amount=reported_amount(refund.get("amount"), refund.get("currency")),
        currency=_upper(refund.get("currency")),
        refund_id=metadata(refund).get(REFUND_KEY),
        provider_refund_reference=id_of(refund.get("id")),
        message=refund.get("failure_reason") or (None if status == "succeeded" else status),
    )


def _always(kind: ProviderEventKind) -> Decider:
    return lambda _: kind


def _paid_session(session: dict[str, Any]) -> ProviderEventKind:
    # An unpaid completed session is a delayed method still on its way: it stays pending.
    return (
        _SUCCEEDED
        if session.get("payment_status") in ("paid", "no_payment_required")
        else (_IGNORED)
    )


def _final_for_intent_flow(kind: ProviderEventKind) -> Decider:
    """A decline ends a PaymentIntent-flow payment; inside Checkout the session decides."""
    return lambda found: kind if is_intent_flow(found) else _IGNORED


def _canceled(intent: dict[str, Any]) -> ProviderEventKind:
    if intent.get("cancellation_reason") == "automatic":
        # Stripe released an uncaptured authorisation when its capture window closed.
        return ProviderEventKind.AUTHORIZATION_EXPIRED
    return ProviderEventKind.PAYMENT_EXPIRED if is_intent_flow(intent) else _IGNORED


def _refund_status(refund: dict[str, Any]) -> ProviderEventKind:
    return REFUND_KINDS.get(str(refund.get("status")), _IGNORED)


_EVENTS: dict[str, _Handling] = {
    "checkout.session.completed": _Handling(session_event, _paid_session),
    "checkout.session.async_payment_succeeded": _Handling(session_event, _always(_SUCCEEDED)),
    "checkout.session.async_payment_failed": _Handling(session_event, _always(_FAILED)),
    "checkout.session.expired": _Handling(
        session_event, _always(ProviderEventKind.PAYMENT_EXPIRED)
    ),
    "payment_intent.succeeded": _Handling(intent_event, _always(_SUCCEEDED)),
    # A manual-capture payment was authorised: the money is held, to be captured later. (Its
    # checkout.session.completed says `unpaid`, the same as a delayed method's.)
    "payment_intent.amount_capturable_updated": _Handling(intent_event, _always(_SUCCEEDED)),
    "payment_intent.payment_failed": _Handling(intent_event, _final_for_intent_flow(_FAILED)),
    "payment_intent.canceled": _Handling(intent_event, _canceled),
    # Stripe sends the charge's events beside the intent's, in no promised order: both report
    # the same money, and settlement applies whichever comes first (a repeat changes nothing).
    "charge.succeeded": _Handling(_charge_event, _always(_SUCCEEDED)),
    "charge.failed": _Handling(_charge_event, _final_for_intent_flow(_FAILED)),
    # `charge.refunded` names no refund (only the charge's running total): it is stored and
    # acknowledged, and each refund's own events (Hazina's refund id in their metadata) settle.
    "charge.refunded": _Handling(_charge_event, _always(_IGNORED)),
    "refund.created": _Handling(refund_event, _refund_status),
    "refund.updated": _Handling(refund_event, _refund_status),
    "refund.failed": _Handling(refund_event, _refund_status),
}


def event_from(event: dict[str, Any]) -> ProviderEvent:
    """A verified event's report; KeyError/TypeError/ValueError when it is not an event."""
    event_id, event_type = str(event["id"]), str(event["type"])
    found: dict[str, Any] = event["data"]["object"]
    occurred_at = datetime.fromtimestamp(int(event["created"]), UTC)
    handling = _EVENTS.get(event_type)
    if handling is None:
        parsed = ProviderEvent(
            kind=_IGNORED,
            dedup_key=event_id,
            raw_type=event_type,
            raw_status=str(found.get("status")),
        )
    else:
        parsed = handling.read(event_id, event_type, handling.decide(found), found)
    return replace(parsed, occurred_at=occurred_at)


def intent_state(intent: dict[str, Any]) -> ProviderEventKind:
    """What a PaymentIntent's status says now (reconciliation)."""
    status = intent.get("status")
    if status in ("succeeded", "requires_capture"):
        return _SUCCEEDED  # paid, or authorised and held for capture
    if status == "canceled":
        return ProviderEventKind.PAYMENT_EXPIRED
    # requires_payment_method after a decline included: the customer may still try another
    # card on the merchant's page; the final check expires it if nobody does.
    return ProviderEventKind.PAYMENT_PENDING


def _intent_amount(kind: ProviderEventKind, intent: dict[str, Any]) -> Any:
    """What the intent reports: the amount received, the amount authorised (and held for
    capture), or the amount asked for."""
    if kind is not _SUCCEEDED:
        return intent.get("amount")
    if intent.get("status") == "requires_capture":
        return intent.get("amount_capturable")
    return intent.get("amount_received")


def is_intent_flow(found: dict[str, Any]) -> bool:
    return metadata(found).get(FLOW_KEY) == CLIENT_SECRET_FLOW


def metadata(found: dict[str, Any]) -> dict[str, str]:
    value = found.get("metadata")
    return value if isinstance(value, dict) else {}


def intent_failure(intent: dict[str, Any]) -> str | None:
    error = intent.get("last_payment_error")
    if isinstance(error, dict):
        return error.get("message")
    reason = intent.get("cancellation_reason")
    return f"canceled: {reason}" if reason else None


def id_of(reference: Any) -> str | None:
    """An expandable field: an id, an expanded object, or null."""
    if isinstance(reference, dict):
        reference = reference.get("id")
    return reference if isinstance(reference, str) and reference else None


def _upper(currency: Any) -> str | None:
    return currency.upper() if isinstance(currency, str) else None
