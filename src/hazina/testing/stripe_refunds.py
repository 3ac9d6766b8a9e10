"""The Stripe fake's Refunds API (providers.md 1.4): made against a PaymentIntent or a charge,
held `pending` while `hold_refunds` is set, then settled or failed by control calls.
"""

import time
from typing import Any

from hazina.testing.stripe_params import REFUND_PARAMS, StripeApiError, allow, integer, strings
from hazina.testing.stripe_state import SignedEvent, StripeState, new_id


def create_refund(
    state: StripeState, owner: str, params: dict[str, Any]
) -> tuple[dict[str, Any], list[SignedEvent]]:
    allow(params, REFUND_PARAMS)
    if "payment_intent" in params:
        intent = state.get(owner, str(params["payment_intent"]), "payment_intent", "payment_intent")
        if intent["latest_charge"] is None or intent["status"] != "succeeded":
            raise StripeApiError(
                400,
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        charge = state.get(owner, intent["latest_charge"], "charge")
    elif "charge" in params:
        charge = state.get(owner, str(params["charge"]), "charge", "charge")
    else:
        raise StripeApiError(
            400,
            "One of the following params should be provided for this request:"
            " payment_intent or charge.",
            code="parameter_missing",
        )
    # Only captured money can go back (a partial capture released the rest).
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining == 0:
        raise StripeApiError(
            400,
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    amount = integer(params.get("amount", remaining), "amount")
    if amount <= 0:
        raise StripeApiError(
            400, "Invalid positive integer", code="parameter_invalid_integer", param="amount"
        )
    if amount > remaining:
        raise StripeApiError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            code="amount_too_large",
            param="amount",
        )
    refund = state.put(
        owner,
        {
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "failure_reason": None,
            "metadata": strings(params.get("metadata", {}), "metadata"),
            "payment_intent": charge["payment_intent"],
            "reason": params.get("reason"),
            "receipt_number": None,
            "status": "pending" if state.hold_refunds else "succeeded",
        },
    )
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
    if state.hold_refunds:
        return refund, [state.emit(owner, "refund.created", refund)]
    return refund, [
        state.emit(owner, "charge.refunded", charge),
        state.emit(owner, "refund.updated", refund),
    ]


def succeed_refund(
    state: StripeState, owner: str, refund_id: str
) -> tuple[dict[str, Any], SignedEvent]:
    """A held (`pending`) refund reaches the customer's bank."""
    refund = state.get(owner, refund_id, "refund")
    if refund["status"] != "pending":
        raise StripeApiError(400, f"Refund {refund_id} is {refund['status']}, not pending.")
    refund["status"] = "succeeded"
    return refund, state.emit(owner, "refund.updated", refund)


def fail_refund(
    state: StripeState, owner: str, refund_id: str
) -> tuple[dict[str, Any], SignedEvent]:
    """The card network sent the money back: Stripe returns it to the charge."""
    refund = state.get(owner, refund_id, "refund")
    if refund["status"] == "failed":
        raise StripeApiError(400, f"Refund {refund_id} has already failed.")
    charge = state.get(owner, refund["charge"], "charge")
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = False
    refund.update(status="failed", failure_reason="expired_or_canceled_card")
    return refund, state.emit(owner, "refund.updated", refund)
