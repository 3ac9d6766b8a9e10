"""PayPal's orders, captures, refunds and webhook events, in Hazina's words (`ProviderEvent`).

Dedup keys name the fact, not the message: `capture:{id}:{status}` is the same key whether the
capture's answer, a status query or `PAYMENT.CAPTURE.COMPLETED` reported it, so the first
applies and the others are duplicates. An approval has one key per order
(`domain.providers.approval_report`), shared by the webhook, the customer's return and a status
query: whichever comes first asks for the capture, once.
"""

from datetime import datetime
from typing import Any

from hazina.domain import ids, money
from hazina.domain.providers import ProviderEvent, ProviderEventKind, approval_report

_CAPTURE_KINDS = {
    "COMPLETED": ProviderEventKind.PAYMENT_SUCCEEDED,
    # Refunds are facts of their own: the capture itself received the money.
    "PARTIALLY_REFUNDED": ProviderEventKind.PAYMENT_SUCCEEDED,
    "REFUNDED": ProviderEventKind.PAYMENT_SUCCEEDED,
    "PENDING": ProviderEventKind.PAYMENT_PENDING,
    "DECLINED": ProviderEventKind.PAYMENT_FAILED,
    "FAILED": ProviderEventKind.PAYMENT_FAILED,
}
_AUTHORIZATION_KINDS = {
    # Authorised: the money is held for the merchant's capture (a manual-capture success).
    "CREATED": ProviderEventKind.PAYMENT_SUCCEEDED,
    "CAPTURED": ProviderEventKind.PAYMENT_SUCCEEDED,
    "PARTIALLY_CAPTURED": ProviderEventKind.PAYMENT_SUCCEEDED,
    "PENDING": ProviderEventKind.PAYMENT_PENDING,
    "DENIED": ProviderEventKind.PAYMENT_FAILED,
    "VOIDED": ProviderEventKind.PAYMENT_EXPIRED,
    "EXPIRED": ProviderEventKind.PAYMENT_EXPIRED,
}
_ORDER_KINDS = {
    "APPROVED": ProviderEventKind.PAYMENT_APPROVED,
    "VOIDED": ProviderEventKind.PAYMENT_EXPIRED,
    # Completed without a capture or authorisation to show for it: nothing was taken.
    "COMPLETED": ProviderEventKind.PAYMENT_FAILED,
}
_REFUND_KINDS = {
    "COMPLETED": ProviderEventKind.REFUND_SUCCEEDED,
    "FAILED": ProviderEventKind.REFUND_FAILED,
    "CANCELLED": ProviderEventKind.REFUND_FAILED,
}
_CAPTURE_EVENTS = frozenset(
    {
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.DENIED",
        "PAYMENT.CAPTURE.DECLINED",
        "PAYMENT.CAPTURE.PENDING",
    }
)


def order_report(order: dict[str, Any]) -> ProviderEvent:
    """An order's state: its newest capture or authorisation decides; without one, the order's
    status (approved: to be captured; created: still with the customer)."""
    order_id = str(order["id"])
    unit = first_unit(order)
    payment_id = _payment_id(unit.get("custom_id"))
    found = unit.get("payments")
    payments: dict[str, Any] = found if isinstance(found, dict) else {}
    captures = _objects(payments.get("captures"))
    if captures:
        return capture_report(captures[-1], order_id, payment_id)
    authorizations = _objects(payments.get("authorizations"))
    if authorizations:
        return authorization_report(authorizations[-1], order_id, payment_id)
    status = str(order.get("status") or "")
    if status == "APPROVED":
        return approval_report(payment_id, order_id, "checkout-order")
    kind = _ORDER_KINDS.get(status, ProviderEventKind.PAYMENT_PENDING)
    amount, currency = _amount(unit.get("amount"))
    return ProviderEvent(
        kind=kind,
        dedup_key=f"order:{order_id}:{status}",
        raw_type="checkout-order",
        raw_status=status,
        payment_id=payment_id,
        provider_reference=order_id,
        amount=amount,
        currency=currency,
    )


def capture_report(
    capture: dict[str, Any], order_id: str | None, payment_id: str | None
) -> ProviderEvent:
    status = str(capture.get("status") or "")
    amount, currency = _amount(capture.get("amount"))
    reason = capture.get("status_details")
    message = reason.get("reason") if isinstance(reason, dict) else None
    return ProviderEvent(
        kind=_CAPTURE_KINDS.get(status, ProviderEventKind.IGNORED),
        dedup_key=f"capture:{capture['id']}:{status}",
        raw_type="capture",
        raw_status=status,
        payment_id=_payment_id(capture.get("custom_id")) or payment_id,
        provider_reference=order_id or _related_order(capture),
        provider_payment_reference=str(capture["id"]),
        amount=amount,
        currency=currency,
        occurred_at=_time(capture.get("update_time") or capture.get("create_time")),
        message=message if isinstance(message, str) else None,
    )


def authorization_report(
    authorization: dict[str, Any], order_id: str, payment_id: str | None
) -> ProviderEvent:
    status = str(authorization.get("status") or "")
    amount, currency = _amount(authorization.get("amount"))
    return ProviderEvent(
        kind=_AUTHORIZATION_KINDS.get(status, ProviderEventKind.IGNORED),
        dedup_key=f"authorization:{authorization['id']}:{status}",
        raw_type="authorization",
        raw_status=status,
        payment_id=_payment_id(authorization.get("custom_id")) or payment_id,
        provider_reference=order_id,
        provider_payment_reference=str(authorization["id"]),
        amount=amount,
        currency=currency,
        occurred_at=_time(authorization.get("update_time") or authorization.get("create_time")),
    )


def refund_report(refund: dict[str, Any]) -> ProviderEvent:
    """A refund Hazina asked for names its payment and refund in `custom_id`
    (`refund_custom_id`); one made at PayPal directly names neither, and settles nothing."""
    status = str(refund.get("status") or "")
    payment_id, refund_id = _refund_ids(refund.get("custom_id"))
    amount, currency = _amount(refund.get("amount"))
    details = refund.get("status_details")
    message = details.get("reason") if isinstance(details, dict) else None
    return ProviderEvent(
        kind=_REFUND_KINDS.get(status, ProviderEventKind.IGNORED),
        dedup_key=f"refund:{refund['id']}:{status}",
        raw_type="refund",
        raw_status=status,
        payment_id=payment_id,
        provider_payment_reference=_link_id(refund, "up"),
        amount=amount,
        currency=currency,
        refund_id=refund_id,
        provider_refund_reference=str(refund["id"]),
        occurred_at=_time(refund.get("update_time") or refund.get("create_time")),
        message=message if isinstance(message, str) else None,
    )


def returned_report(refund: dict[str, Any], event_type: str) -> ProviderEvent:
    """Money of a capture went back without a Hazina refund: the payment goes to review."""
    return ProviderEvent(
        kind=ProviderEventKind.PAYMENT_RETURNED,
        dedup_key=f"returned:{refund['id']}",
        raw_type=event_type,
        raw_status=str(refund.get("status") or ""),
        provider_payment_reference=_link_id(refund, "up"),
        occurred_at=_time(refund.get("update_time") or refund.get("create_time")),
        message=f"PayPal: {event_type}",
    )


def refund_custom_id(payment_id: str, refund_id: str) -> str:
    return f"{payment_id}:{refund_id}"


def event_report(event: dict[str, Any]) -> ProviderEvent:
    """A verified webhook event; types Hazina does not act on come back IGNORED."""
    event_type = str(event["event_type"])
    resource = event["resource"]
    if not isinstance(resource, dict):
        raise ValueError("PayPal event without a resource object")
    if event_type == "CHECKOUT.ORDER.APPROVED":
        payment_id = _payment_id(first_unit(resource).get("custom_id"))
        return approval_report(payment_id, str(resource["id"]), event_type)
    if event_type == "CHECKOUT.ORDER.COMPLETED":
        return order_report(resource)
    if event_type in _CAPTURE_EVENTS:
        return capture_report(resource, None, None)
    if event_type == "PAYMENT.CAPTURE.REFUNDED":
        report = refund_report(resource)
        # A refund nobody asked Hazina for (made in PayPal's dashboard): money went back
        # outside Hazina, which a human must look at.
        return report if report.refund_id else returned_report(resource, event_type)
    if event_type == "PAYMENT.CAPTURE.REVERSED":  # a chargeback or PayPal's own reversal
        return returned_report(resource, event_type)
    return ProviderEvent(
        kind=ProviderEventKind.IGNORED,
        dedup_key=str(event["id"]),
        raw_type=event_type,
        raw_status=str(resource.get("status") or ""),
    )


def first_unit(order: dict[str, Any]) -> dict[str, Any]:
    units = _objects(order.get("purchase_units"))
    return units[0] if units else {}


def completed_capture_id(order: dict[str, Any]) -> str | None:
    """The capture of an order that money can be returned from."""
    payments = first_unit(order).get("payments")
    captures = _objects(payments.get("captures")) if isinstance(payments, dict) else []
    refundable = ("COMPLETED", "PARTIALLY_REFUNDED")
    return next((str(c["id"]) for c in captures if c.get("status") in refundable), None)


def authorization_id(order: dict[str, Any]) -> str | None:
    payments = first_unit(order).get("payments")
    found = _objects(payments.get("authorizations")) if isinstance(payments, dict) else []
    return str(found[-1]["id"]) if found else None


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _payment_id(value: Any) -> str | None:
    return value if isinstance(value, str) and ids.is_valid_id(value, ids.PAYMENT) else None


def _refund_ids(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, str):
        return None, None
    payment_id, _, refund_id = value.partition(":")
    valid = ids.is_valid_id(refund_id, ids.REFUND)
    return _payment_id(payment_id), refund_id if valid else None


def _amount(value: Any) -> tuple[int | None, str | None]:
    """PayPal's `{"currency_code", "value"}` (a decimal string) in minor units."""
    if not isinstance(value, dict):
        return None, None
    currency, figure = value.get("currency_code"), value.get("value")
    if not isinstance(currency, str) or not isinstance(figure, str):
        return None, None
    return money.to_minor(figure, currency), currency.upper()


def _related_order(capture: dict[str, Any]) -> str | None:
    supplementary = capture.get("supplementary_data")
    related = supplementary.get("related_ids") if isinstance(supplementary, dict) else None
    order_id = related.get("order_id") if isinstance(related, dict) else None
    return order_id if isinstance(order_id, str) else _link_id(capture, "up")


def _link_id(resource: dict[str, Any], rel: str) -> str | None:
    """The last path segment of a HATEOAS link: `up` of a refund is its capture."""
    for link in _objects(resource.get("links")):
        href = link.get("href")
        if link.get("rel") == rel and isinstance(href, str):
            return href.rstrip("/").rsplit("/", 1)[-1] or None
    return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
