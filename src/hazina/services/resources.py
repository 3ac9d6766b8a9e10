"""The contract's JSON shape of each resource, shared by API responses and event payloads."""

import json
from typing import Any

from hazina.db.models import Order, Payment, Refund
from hazina.db.prepared import Row
from hazina.domain.clock import iso_z
from hazina.domain.instruments import masked_action

# A resource is shaped from its model or from a prepared statement's row of the same table
# (hazina.db.prepared): the hot paths read rows without the ORM.
OrderFields = Order | Row
PaymentFields = Payment | Row
RefundFields = Refund | Row


def render(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes stored for idempotent replays and signed in webhooks."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def order_created(order: OrderFields) -> dict[str, Any]:
    return {
        "id": order.id,
        "merchant_id": str(order.merchant_id),
        "amount": order.amount,
        "currency": order.currency,
        "receipt": order.receipt,
        "notes": order.notes or {},
        "status": order.status,
        "livemode": order.livemode,
        "created_at": iso_z(order.created_at),
        # #14 ledger: splits, platform_fee(_bps), purpose, customer_account_id, when given.
        **(order.ledger_terms or {}),
    }


def order_detail(order: OrderFields) -> dict[str, Any]:
    return order_created(order) | {"updated_at": iso_z(order.updated_at)}


def order_public(order: OrderFields) -> dict[str, Any]:
    return {
        "id": order.id,
        "amount": order.amount,
        "currency": order.currency,
        "status": order.status,
    }


def _instrument(payment: PaymentFields) -> dict[str, Any]:
    """The contract's fields for its two methods; provider payments say where they are."""
    if payment.method == "upi":
        return {"vpa": payment.vpa}
    if payment.method == "card":
        return {"card_network": payment.card_network, "card_last4": payment.card_last4}
    return {
        "provider": payment.provider,
        "provider_reference": payment.provider_reference,
        "next_action": masked_action(payment.next_action),
        "amount_received": payment.amount_received,
        "review_reason": payment.review_reason,
        **_capture(payment),
    }


def _capture(payment: PaymentFields) -> dict[str, Any]:
    """How a provider payment is captured: `automatic` on success, or `manual` (authorised,
    then captured by the merchant, or its authorisation expired uncaptured)."""
    captured = payment.amount_captured
    if captured is None and payment.captured:
        captured = payment.amount_received
    expired = payment.authorization_expired_at
    return {
        "capture_method": payment.capture_method,
        "amount_captured": captured,
        "authorization_expired_at": None if expired is None else iso_z(expired),
    }


def _next_action(payment: PaymentFields) -> dict[str, Any]:
    """What the checkout must do for a provider payment (follow a redirect, show USSD help).
    A Stripe client secret is for the merchant's own page, which had it from the authenticated
    API: this public view, open to anyone holding the payment id, never shows it."""
    if payment.method in ("upi", "card"):
        return {}
    shown = masked_action(payment.next_action)
    if shown is not None:
        shown.pop("client_secret", None)
    return {"next_action": shown}


def _failure(payment: PaymentFields) -> dict[str, Any]:
    if payment.status != "failed":
        return {}
    return {"error_code": payment.error_code, "error_description": payment.error_description}


def payment_created(payment: PaymentFields) -> dict[str, Any]:
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "method": payment.method,
        **_instrument(payment),
        "status": payment.status,
        "livemode": payment.livemode,
        "created_at": iso_z(payment.created_at),
    }


def payment_detail(payment: PaymentFields) -> dict[str, Any]:
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "method": payment.method,
        **_instrument(payment),
        "status": payment.status,
        "livemode": payment.livemode,
        "captured": payment.captured,
        "amount_refunded": payment.amount_refunded,
        **_failure(payment),
        "created_at": iso_z(payment.created_at),
        "updated_at": iso_z(payment.updated_at),
    }


def payment_public(payment: PaymentFields) -> dict[str, Any]:
    """What the checkout page may see while polling: no instrument details."""
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "method": payment.method,
        "status": payment.status,
        **_next_action(payment),
        **_failure(payment),
        "created_at": iso_z(payment.created_at),
    }


def payment_event_data(payment: PaymentFields) -> dict[str, Any]:
    """`data` of payment.* events: the contract's webhook payment object."""
    return {"payment": payment_created(payment) | _failure(payment)}


def refund_created(refund: RefundFields) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "reason": refund.reason,
        "status": refund.status,
        "livemode": refund.livemode,
        "created_at": iso_z(refund.created_at),
    }


def refund_detail(refund: RefundFields) -> dict[str, Any]:
    processed_at = None if refund.processed_at is None else iso_z(refund.processed_at)
    return refund_created(refund) | {"processed_at": processed_at} | _refund_failure(refund)


def _refund_failure(refund: RefundFields) -> dict[str, Any]:
    """Hazina's addition to a failed refund: why it failed."""
    if refund.status != "failed":
        return {}
    return {"failure_reason": refund.failure_reason}


def refund_event_data(refund: RefundFields) -> dict[str, Any]:
    """`data` of refund.* events: `processed_at` appears once the refund is processed."""
    body = refund_created(refund)
    if refund.processed_at is not None:
        body["processed_at"] = iso_z(refund.processed_at)
    return {"refund": body | _refund_failure(refund)}
