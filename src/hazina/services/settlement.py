"""Applying what a provider reported, inside the caller's transaction: the one path every
webhook, replay and reconciliation answer takes (DESIGN.md section 7).

The payment and its order are locked first, so two reports about one payment are decided one
after the other, on the state the first one left. De-duplication is then a row per provider
fact (`provider_event_receipts`): a copy of a report applied meanwhile has committed its
receipt, so the insert finds it and the copy is a duplicate. A report about no known payment
leaves no receipt, so it can still be applied once the payment exists (a replay).
"""

import functools
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Select, Table, Update, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from hazina.db.models import Order, Payment, ProviderEventReceipt, Refund
from hazina.db.queue import enqueue
from hazina.db.statements import fresh_id, insert_unless_exists
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.events import EventType
from hazina.domain.providers import ProviderEvent, ProviderEventKind
from hazina.domain.settlement import Report, ReviewReason, decide
from hazina.domain.states import OrderStatus, PaymentStatus, RefundStatus
from hazina.services import resources
from hazina.services.approvals.requests import request_completion
from hazina.services.captures import MANUAL, captured_on_success, expire_authorization
from hazina.services.events import record_event
from hazina.services.ledger.charges import has_charge, post_charge, reverse_refund
from hazina.services.reconciliation import check_soon

PROCESS_REFUND = "process_refund"
# Why Hazina itself failed a refund, without the provider's word that it failed: the provider
# may still send the money back, and a report saying so is applied to the failed refund.
GAVE_UP = "The refund could not be processed: every attempt failed"
NEVER_CONFIRMED = "The provider never confirmed the refund"
UNANSWERED = "The provider could not be asked about the refund: every status query failed"
UNCONFIRMED_FAILURES = (GAVE_UP, NEVER_CONFIRMED, UNANSWERED)
# Attempts of a `process_refund` job Hazina opens itself (a merchant's refund uses the
# deployment's HAZINA_JOB_MAX_ATTEMPTS); out of attempts, the refund fails and is released.
REFUND_MAX_ATTEMPTS = 5
PAYMENT_KINDS = frozenset(
    {
        ProviderEventKind.PAYMENT_SUCCEEDED,
        ProviderEventKind.PAYMENT_FAILED,
        ProviderEventKind.PAYMENT_EXPIRED,
        ProviderEventKind.PAYMENT_PENDING,
        ProviderEventKind.PAYMENT_RETURNED,
        ProviderEventKind.PAYMENT_DISPUTED,
    }
)


class Outcome(StrEnum):
    APPLIED = "applied"  # the payment or a refund changed
    RECORDED = "recorded"  # understood, nothing to change (e.g. a failure after a success)
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class UnknownPayment(LookupError):
    """No payment of this account matches: kept as a failed inbound event for replay."""


@dataclass(frozen=True, slots=True)
class Scope:
    """The account a report came through: it may only move that account's payments.
    `account_id` None is the deployment's default account (any merchant without its own)."""

    provider: str
    merchant_id: uuid.UUID | None
    account_id: str | None
    # The provider can send money back by API: a duplicate payment is then refunded at once
    # instead of waiting for a human (ProviderRegistry.can_refund).
    refundable: bool = False

    @property
    def receipt_account(self) -> str:
        """The account in a receipt's key: `''` for the default account (ProviderEventReceipt)."""
        return self.account_id or ""


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome
    payment_id: str | None = None
    merchant_id: uuid.UUID | None = None


async def apply_report(
    session: AsyncSession, scope: Scope, event: ProviderEvent, inbound_event_id: str | None
) -> Applied:
    if event.kind == ProviderEventKind.IGNORED:
        return Applied(Outcome.IGNORED)
    if not event.confirmed:
        return await _confirm_with_provider(session, scope, event)
    found = await _lock_payment(session, scope, event)
    if found is None:
        return _unmatched(scope, event)
    payment, order = found
    # After the lock: a copy of this report applied concurrently has committed its receipt.
    fresh = await insert_unless_exists(
        session,
        ProviderEventReceipt,
        {
            "provider": scope.provider,
            "provider_account_id": scope.receipt_account,
            "dedup_key": event.dedup_key,
            "inbound_event_id": inbound_event_id,
            "created_at": utc_now(),
        },
    )
    if not fresh:
        return Applied(Outcome.DUPLICATE, payment.id, payment.merchant_id)
    if event.kind in PAYMENT_KINDS:
        changed = await _apply_to_payment(session, scope, payment, order, event)
    elif event.kind == ProviderEventKind.AUTHORIZATION_EXPIRED:
        changed = await expire_authorization(session, payment, event)
    elif event.kind == ProviderEventKind.PAYMENT_APPROVED:
        changed = await request_completion(session, payment)
    else:
        changed = await _apply_to_refunds(session, payment, event)
    outcome = Outcome.APPLIED if changed else Outcome.RECORDED
    return Applied(outcome, payment.id, payment.merchant_id)


def _unmatched(scope: Scope, event: ProviderEvent) -> Applied:
    """A report naming a Hazina payment that does not exist (yet) fails, so the provider sends
    it again; one naming none is about the account's other business (a Stripe invoice, say)."""
    if event.payment_id is None:
        return Applied(Outcome.IGNORED)
    raise UnknownPayment(f"no {scope.provider} payment of this account matches the report")


async def _confirm_with_provider(
    session: AsyncSession, scope: Scope, event: ProviderEvent
) -> Applied:
    """An unauthenticated report changes nothing itself: it only makes Hazina ask the provider
    about the payment now, and apply the provider's answer."""
    found = await _lock_payment(session, scope, event)
    if found is None:
        return _unmatched(scope, event)
    payment, _ = found
    if payment.status == PaymentStatus.PENDING:
        await check_soon(session, payment.id)
    return Applied(Outcome.RECORDED, payment.id, payment.merchant_id)


async def _lock_payment(
    session: AsyncSession, scope: Scope, event: ProviderEvent
) -> tuple[Payment, Order] | None:
    """The payment the report is about, with its order, both rows locked in one statement.

    Locking the two together cannot deadlock with the other writers of these rows: creating a
    payment locks only the order, and refunds and captures only the payment.
    """
    names = {
        "payment_id": event.payment_id,
        "reference": event.provider_reference,
        "payment_reference": event.provider_payment_reference,
    }
    given = frozenset(name for name, value in names.items() if value is not None)
    if not given:
        return None
    query = _payment_lookup(given, scope.account_id is None, scope.merchant_id is None)
    params = {name: names[name] for name in given} | {
        "provider": scope.provider,
        "account_id": scope.account_id,
        "merchant_id": scope.merchant_id,
    }
    row = (await session.execute(query, params)).first()
    return None if row is None else (row[0], row[1])


@functools.cache
def _payment_lookup(
    given: frozenset[str], default_account: bool, any_merchant: bool
) -> Select[Payment, Order]:
    """The locking lookup for one combination of what a report names, built once."""
    columns = {
        "payment_id": Payment.id,
        "reference": Payment.provider_reference,
        "payment_reference": Payment.provider_payment_reference,
    }
    query = (
        select(Payment, Order)
        .join(Order, Order.id == Payment.order_id)
        .where(
            or_(*(columns[name] == bindparam(name) for name in sorted(given))),
            Payment.provider == bindparam("provider"),
            Payment.provider_account_id.is_(None)
            if default_account
            else Payment.provider_account_id == bindparam("account_id"),
        )
    )
    if not any_merchant:
        query = query.where(Payment.merchant_id == bindparam("merchant_id"))
    return query.limit(1).with_for_update().execution_options(populate_existing=True)


async def _apply_to_payment(
    session: AsyncSession, scope: Scope, payment: Payment, order: Order, event: ProviderEvent
) -> bool:
    now = utc_now()
    decision = decide(
        Report(
            kind=event.kind,
            status=PaymentStatus(payment.status),
            amount=payment.amount,
            currency=payment.currency,
            reported_amount=event.amount,
            reported_currency=event.currency,
            order_paid_by_other=order.status == OrderStatus.PAID,
            refundable=scope.refundable,
        )
    )
    learned = payment.provider_payment_reference or event.provider_payment_reference
    if decision.status is None or decision.event is None:
        if learned != payment.provider_payment_reference:
            await _write(
                session,
                _UPDATE_PAYMENT_REFERENCE,
                payment,
                {"provider_payment_reference": learned, "updated_at": now},
            )
        return False
    changes: dict[str, Any] = {
        "status": decision.status,
        "updated_at": now,
        "provider_payment_reference": learned,
        "review_reason": None if decision.review is None else decision.review.value,
    }
    if decision.status != PaymentStatus.FAILED:  # money arrived
        changes |= {
            "amount_received": payment.amount if event.amount is None else event.amount,
            "received_currency": event.currency or payment.currency,
            "error_code": None,
            "error_description": None,
            "captured": captured_on_success(payment),
        }
    else:
        changes |= {
            "amount_received": payment.amount_received,
            "received_currency": payment.received_currency,
            "error_code": decision.error_code,
            "error_description": event.message or decision.error_description,
            "captured": payment.captured,
        }
    await _write(session, _UPDATE_PAYMENT, payment, changes)
    if decision.pays_order and await _covers(session, order, payment):
        await _write(session, _UPDATE_ORDER, order, {"status": OrderStatus.PAID, "updated_at": now})
    await record_event(
        session,
        payment.merchant_id,
        decision.event,
        payment.id,
        resources.payment_event_data(payment),
        livemode=payment.livemode,
    )
    if decision.status == PaymentStatus.SUCCESS and payment.capture_method != MANUAL:
        # Money kept: the ledger counts it, once. An authorisation is counted when captured.
        # Last (a success never refunds in full): the charge locks the merchant's balance rows
        # until the commit, and every other charge of the merchant waits for them.
        await post_charge(session, payment, order)
    if decision.refund_in_full:
        await _refund_in_full(
            session, payment, f"Automatic refund: order {order.id} was already paid"
        )
    return True


async def _write(
    session: AsyncSession, statement: Update, row: Payment | Order, changes: dict[str, Any]
) -> None:
    """One prepared UPDATE of the locked row; the loaded object is brought in line without
    being marked changed, so the unit of work does not write it a second time."""
    await session.execute(statement, {"row_id": row.id, **changes})
    for name, value in changes.items():
        set_committed_value(row, name, value)


_payments = cast(Table, Payment.__table__)
_orders = cast(Table, Order.__table__)
_PAYMENT_OUTCOME = (
    "status",
    "updated_at",
    "provider_payment_reference",
    "review_reason",
    "amount_received",
    "received_currency",
    "error_code",
    "error_description",
    "captured",
)
_UPDATE_PAYMENT = (
    update(_payments)
    .where(_payments.c.id == bindparam("row_id"))
    .values({name: bindparam(name) for name in _PAYMENT_OUTCOME})
)
_UPDATE_PAYMENT_REFERENCE = (
    update(_payments)
    .where(_payments.c.id == bindparam("row_id"))
    .values(
        provider_payment_reference=bindparam("provider_payment_reference"),
        updated_at=bindparam("updated_at"),
    )
)
_UPDATE_REVIEW = (
    update(_payments)
    .where(_payments.c.id == bindparam("row_id"))
    .values(
        status=bindparam("status"),
        review_reason=bindparam("review_reason"),
        updated_at=bindparam("updated_at"),
    )
)
_UPDATE_REFUNDED = (
    update(_payments)
    .where(_payments.c.id == bindparam("row_id"))
    .values(amount_refunded=bindparam("amount_refunded"), updated_at=bindparam("updated_at"))
)
_UPDATE_ORDER = (
    update(_orders)
    .where(_orders.c.id == bindparam("row_id"))
    .values(status=bindparam("status"), updated_at=bindparam("updated_at"))
)


async def _covers(session: AsyncSession, order: Order, payment: Payment) -> bool:
    """Whether the order's successful payments add up to its amount (payments in review or
    refunded are not successful). Usually the payment just settled covers it alone."""
    if payment.received_currency == order.currency and (payment.amount_received or 0) >= (
        order.amount
    ):
        return True
    received = await session.scalar(
        select(func.coalesce(func.sum(Payment.amount_received), 0)).where(
            Payment.order_id == order.id,
            Payment.status == PaymentStatus.SUCCESS,
            Payment.received_currency == order.currency,
        )
    )
    return int(received or 0) >= order.amount


async def _apply_to_refunds(session: AsyncSession, payment: Payment, event: ProviderEvent) -> bool:
    """Settle the one refund the report names. A success settles a pending refund, or one
    Hazina gave up on while the provider went on to return the money; a failure also undoes
    one reported processed before (providers can fail a refund after confirming it), making
    its amount refundable again."""
    succeeded = event.kind == ProviderEventKind.REFUND_SUCCEEDED
    if succeeded:
        settled = or_(
            Refund.status == RefundStatus.PENDING,
            (Refund.status == RefundStatus.FAILED)
            & Refund.failure_reason.in_(UNCONFIRMED_FAILURES),
        )
    else:
        settled = Refund.status.in_((RefundStatus.PENDING, RefundStatus.PROCESSED))
    query = select(Refund).where(Refund.payment_id == payment.id, settled)
    if event.refund_id is not None:
        query = query.where(Refund.id == event.refund_id)
    elif event.provider_refund_reference is not None:
        query = query.where(Refund.provider_reference == event.provider_refund_reference)
    else:
        return False
    refund = await session.scalar(query.with_for_update())
    if refund is None:
        return False
    if refund.status == RefundStatus.FAILED:
        await _count_late_return(session, refund, payment)
    await settle_refund(session, refund, payment, succeeded=succeeded, reason=event.message)
    return True


async def _count_late_return(session: AsyncSession, refund: Refund, payment: Payment) -> None:
    """The money of a refund Hazina had failed went back after all: it counts against the
    payment again, even beyond what the payment received (the customer has it), and a payment
    refunded beyond that goes to a human."""
    refunded = payment.amount_refunded + refund.amount
    await _write(
        session, _UPDATE_REFUNDED, payment, {"amount_refunded": refunded, "updated_at": utc_now()}
    )
    await reverse_refund(session, payment, refund.id, refund.amount)
    refund.failure_reason = None
    if refunded > (payment.amount_received or payment.amount):
        await send_to_review(session, payment, ReviewReason.OVER_REFUNDED)


async def add_refund(
    session: AsyncSession,
    payment: Payment,
    amount: int,
    reason: str | None,
    max_attempts: int = REFUND_MAX_ATTEMPTS,
) -> Refund:
    """Write a `pending` refund of an amount already reserved on the payment, its
    `refund.created` event and its `process_refund` job: every refund starts here."""
    now = utc_now()
    refund = Refund(
        id=await fresh_id(session, Refund, ids.REFUND),
        payment_id=payment.id,
        merchant_id=payment.merchant_id,
        livemode=payment.livemode,
        amount=amount,
        reason=reason,
        status=RefundStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    await session.flush()
    # The ledger follows the reserved total: reversed now, restored if the refund fails.
    await reverse_refund(session, payment, refund.id, amount)
    await record_event(
        session,
        payment.merchant_id,
        EventType.REFUND_CREATED,
        refund.id,
        resources.refund_event_data(refund),
        livemode=payment.livemode,
    )
    await enqueue(session, PROCESS_REFUND, {"refund_id": refund.id}, max_attempts=max_attempts)
    return refund


async def _refund_in_full(session: AsyncSession, payment: Payment, reason: str) -> None:
    """Send back everything the (locked) payment received and is not refunded yet."""
    amount = int(payment.amount_received or 0) - payment.amount_refunded
    if amount <= 0:
        return
    await _write(
        session,
        _UPDATE_REFUNDED,
        payment,
        {"amount_refunded": payment.amount_refunded + amount, "updated_at": utc_now()},
    )
    await add_refund(session, payment, amount, reason)


async def settle_refund(
    session: AsyncSession,
    refund: Refund,
    payment: Payment,
    *,
    succeeded: bool,
    reason: str | None = None,
) -> None:
    """A pending refund is processed, or failed (with its `reason`) and its amount refundable
    again."""
    now = utc_now()
    refund.updated_at = now
    if succeeded:
        refund.status = RefundStatus.PROCESSED
        refund.processed_at = now
    else:
        refund.status = RefundStatus.FAILED
        refund.failure_reason = reason
        payment.amount_refunded = Payment.amount_refunded - refund.amount
        await reverse_refund(session, payment, refund.id, -refund.amount)
    await session.flush()
    event = EventType.REFUND_PROCESSED if succeeded else EventType.REFUND_FAILED
    await record_event(
        session,
        refund.merchant_id,
        event,
        refund.id,
        resources.refund_event_data(refund),
        livemode=refund.livemode,
    )
    if not succeeded and payment.status == PaymentStatus.REFUNDED:
        # Hazina's own return of the money failed: the money is still here, so a human must
        # decide (refund again, or accept it).
        await send_to_review(session, payment, ReviewReason.REFUND_FAILED)


async def accept_reviewed(session: AsyncSession, payment: Payment, order: Order) -> None:
    """The merchant keeps the money of a locked payment in review: it succeeds (its
    `review_reason` stays as the record of why it was held) and pays the order if it covers it."""
    now = utc_now()
    changes = {"status": PaymentStatus.SUCCESS, "review_reason": payment.review_reason}
    await _write(session, _UPDATE_REVIEW, payment, changes | {"updated_at": now})
    # Only what was accepted is counted; a payment charged before it went to review (a late
    # return over-refunded it) is not counted again.
    if not await has_charge(session, payment.id):
        await post_charge(session, payment, order)
    if order.status != OrderStatus.PAID and await _covers(session, order, payment):
        await _write(session, _UPDATE_ORDER, order, {"status": OrderStatus.PAID, "updated_at": now})
    await record_event(
        session,
        payment.merchant_id,
        EventType.PAYMENT_SUCCESS,
        payment.id,
        resources.payment_event_data(payment),
        livemode=payment.livemode,
    )


async def refund_reviewed(session: AsyncSession, payment: Payment) -> None:
    """The merchant sends back everything a locked payment in review received."""
    changes = {"status": PaymentStatus.REFUNDED, "review_reason": payment.review_reason}
    await _write(session, _UPDATE_REVIEW, payment, changes | {"updated_at": utc_now()})
    await record_event(
        session,
        payment.merchant_id,
        EventType.PAYMENT_REFUNDED,
        payment.id,
        resources.payment_event_data(payment),
        livemode=payment.livemode,
    )
    await _refund_in_full(session, payment, "Refunded on review")


async def refunded_elsewhere_reviewed(session: AsyncSession, payment: Payment) -> None:
    """The merchant says the money of a locked payment in review went back outside Hazina (at
    the provider, or refunded from its dashboard): what it still holds is recorded as a
    processed refund, with no call to the provider, and reversed in the ledger like any refund,
    so it is neither counted nor paid out."""
    changes = {"status": PaymentStatus.REFUNDED, "review_reason": payment.review_reason}
    now = utc_now()
    await _write(session, _UPDATE_REVIEW, payment, changes | {"updated_at": now})
    await record_event(
        session,
        payment.merchant_id,
        EventType.PAYMENT_REFUNDED,
        payment.id,
        resources.payment_event_data(payment),
        livemode=payment.livemode,
    )
    received = payment.amount if payment.amount_received is None else payment.amount_received
    amount = received - payment.amount_refunded
    if amount <= 0:
        return
    await _write(
        session,
        _UPDATE_REFUNDED,
        payment,
        {"amount_refunded": payment.amount_refunded + amount, "updated_at": now},
    )
    refund = Refund(
        id=await fresh_id(session, Refund, ids.REFUND),
        payment_id=payment.id,
        merchant_id=payment.merchant_id,
        livemode=payment.livemode,
        amount=amount,
        reason="Returned outside Hazina",
        status=RefundStatus.PROCESSED,
        processed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    await session.flush()
    await reverse_refund(session, payment, refund.id, amount)
    for event in (EventType.REFUND_CREATED, EventType.REFUND_PROCESSED):
        await record_event(
            session,
            payment.merchant_id,
            event,
            refund.id,
            resources.refund_event_data(refund),
            livemode=payment.livemode,
        )


async def send_to_review(session: AsyncSession, payment: Payment, reason: ReviewReason) -> None:
    """Move a locked payment to `review` with its event."""
    changes = {
        "status": PaymentStatus.REVIEW,
        "review_reason": reason.value,
        "updated_at": utc_now(),
    }
    await _write(session, _UPDATE_REVIEW, payment, changes)
    await record_event(
        session,
        payment.merchant_id,
        EventType.PAYMENT_REVIEW_REQUIRED,
        payment.id,
        resources.payment_event_data(payment),
        livemode=payment.livemode,
    )
