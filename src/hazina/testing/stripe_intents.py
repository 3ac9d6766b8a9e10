"""The Stripe fake's PaymentIntents: made for a merchant's own page (Stripe Elements), confirmed
by the customer, cancelled, captured when held, and expired uncaptured (providers.md 1.3).

Functions over `StripeState`, so the state module keeps only the store and Checkout Sessions.
"""

import time
from typing import Any

from hazina.testing.stripe_params import (
    CANCEL_PARAMS,
    CANCELLATION_REASONS,
    CAPTURE_METHODS,
    CAPTURE_PARAMS,
    INTENT_PARAMS,
    StripeApiError,
    allow,
    integer,
    strings,
)
from hazina.testing.stripe_state import SignedEvent, StripeState, is_live, new_id


def create_intent(state: StripeState, owner: str, params: dict[str, Any]) -> dict[str, Any]:
    allow(params, INTENT_PARAMS)
    for required in ("amount", "currency"):
        if required not in params:
            raise StripeApiError(
                400,
                f"Missing required param: {required}.",
                code="parameter_missing",
                param=required,
            )
    amount = integer(params["amount"], "amount")
    currency = str(params["currency"])
    if amount < 1 or len(currency) != 3 or currency != currency.lower():
        raise StripeApiError(400, "Invalid amount or currency.", param="amount")
    capture = str(params.get("capture_method", "automatic_async"))
    if capture not in CAPTURE_METHODS:
        raise StripeApiError(400, "Invalid capture_method.", param="capture_method")
    intent_id = new_id("pi_")
    return state.put(
        owner,
        {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "capture_method": capture,
            "cancellation_reason": None,
            "client_secret": f"{intent_id}_secret_{new_id('', 24)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "customer": None,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": is_live(owner),
            "metadata": strings(params.get("metadata", {}), "metadata"),
            "payment_method": None,
            "payment_method_types": ["card"],
            "receipt_email": params.get("receipt_email"),
            "status": "requires_payment_method",
        },
    )


def confirm_intent(
    state: StripeState, owner: str, intent_id: str, *, paid: bool, message: str
) -> tuple[dict[str, Any], list[SignedEvent]]:
    """The customer confirmed on the merchant's page with Stripe Elements: the card was
    charged (or authorised, for manual capture), or declined (the intent then waits for
    another card). Stripe sends the intent's event and the charge's, in no set order."""
    intent = state.get(owner, intent_id, "payment_intent")
    if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
        raise StripeApiError(
            400,
            f"You cannot confirm this PaymentIntent because it has a status of {intent['status']}.",
            code="payment_intent_unexpected_state",
        )
    intent["payment_method"] = new_id("pm_")
    if not paid:
        charge = state.charge(owner, intent)
        charge.update(
            status="failed",
            paid=False,
            captured=False,
            amount_captured=0,
            failure_code="card_declined",
            failure_message=message,
        )
        intent.update(
            status="requires_payment_method",
            latest_charge=charge["id"],
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": message,
                "charge": charge["id"],
            },
        )
        return intent, [
            state.emit(owner, "payment_intent.payment_failed", intent),
            state.emit(owner, "charge.failed", charge),
        ]
    if intent["capture_method"] == "manual":
        state.authorise(owner, intent)
        first = "payment_intent.amount_capturable_updated"
    else:
        state.settle(owner, intent)
        first = "payment_intent.succeeded"
    charge = state.get(owner, intent["latest_charge"], "charge")
    return intent, [
        state.emit(owner, first, intent),
        state.emit(owner, "charge.succeeded", charge),
    ]


def cancel_intent(
    state: StripeState, owner: str, intent_id: str, params: dict[str, Any]
) -> tuple[dict[str, Any], SignedEvent]:
    allow(params, CANCEL_PARAMS)
    intent = state.get(owner, intent_id, "payment_intent")
    if intent["status"] in ("succeeded", "canceled", "processing"):
        raise StripeApiError(
            400,
            f"You cannot cancel this PaymentIntent because it has a status of"
            f" {intent['status']}. Only a PaymentIntent with one of the following statuses"
            " may be canceled: requires_payment_method, requires_capture,"
            " requires_confirmation, requires_action.",
            code="payment_intent_unexpected_state",
        )
    reason = params.get("cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise StripeApiError(400, "Invalid cancellation_reason.", param="cancellation_reason")
    intent.update(
        status="canceled",
        cancellation_reason=reason,
        canceled_at=int(time.time()),
        amount_capturable=0,
    )
    return intent, state.emit(owner, "payment_intent.canceled", intent)


def capture_intent(
    state: StripeState, owner: str, intent_id: str, params: dict[str, Any]
) -> tuple[dict[str, Any], list[SignedEvent]]:
    """Capture all or part (`amount_to_capture`) of a held amount; the rest is released."""
    allow(params, CAPTURE_PARAMS)
    intent = state.get(owner, intent_id, "payment_intent")
    if intent["status"] != "requires_capture":
        raise StripeApiError(
            400,
            f"This PaymentIntent could not be captured because it has a status of"
            f" {intent['status']}. Only a PaymentIntent with one of the following statuses"
            " may be acted upon: requires_capture.",
            code="payment_intent_unexpected_state",
        )
    capturable = intent["amount_capturable"]
    amount = integer(params.get("amount_to_capture", capturable), "amount_to_capture")
    if not 0 < amount <= capturable:
        raise StripeApiError(
            400,
            f"The amount to capture ({amount}) must be positive and at most the amount"
            f" capturable ({capturable}).",
            code="amount_too_large" if amount > capturable else "parameter_invalid_integer",
            param="amount_to_capture",
        )
    charge = state.get(owner, intent["latest_charge"], "charge")
    charge.update(captured=True, amount_captured=amount)
    intent.update(status="succeeded", amount_capturable=0, amount_received=amount)
    for (key, _), found in state.objects.items():
        session = found["object"] == "checkout.session"
        if session and key == owner and found.get("payment_intent") == intent_id:
            found["payment_status"] = "paid"
    return intent, [
        state.emit(owner, "payment_intent.succeeded", intent),
        state.emit(owner, "charge.captured", charge),
    ]


def expire_authorization(
    state: StripeState, owner: str, intent_id: str
) -> tuple[dict[str, Any], SignedEvent]:
    """Stripe cancels an uncaptured PaymentIntent when its authorisation expires (7 days
    for most cards) and releases the held amount."""
    intent = state.get(owner, intent_id, "payment_intent")
    if intent["status"] != "requires_capture":
        raise StripeApiError(400, f"PaymentIntent {intent_id} holds no authorisation.")
    intent.update(
        status="canceled",
        cancellation_reason="automatic",
        canceled_at=int(time.time()),
        amount_capturable=0,
    )
    return intent, state.emit(owner, "payment_intent.canceled", intent)
