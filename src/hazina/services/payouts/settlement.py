"""Applying what a provider (or Hazina itself) established about a payout, inside the caller's
transaction: the one path every webhook, replay, status answer, start and cancel takes.

The payout row is locked first, so two reports about one payout are decided one after the other.
A provider's report then inserts its receipt (`provider_event_receipts`, like payments'): a copy
of a report applied meanwhile has committed its receipt and is a duplicate. Each step the state
machine (domain.payouts) allows writes its ledger move and its `payout.*` event together.
"""

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Payout, ProviderEventReceipt
from hazina.db.queue import enqueue
from hazina.db.statements import insert_unless_exists
from hazina.domain.clock import utc_now
from hazina.domain.events import EventType
from hazina.domain.payouts import LedgerMove, PayoutStatus, paid_after_release, steps_to
from hazina.domain.providers import ProviderEvent, ProviderEventKind
from hazina.services.events import record_event
from hazina.services.payouts import accounting
from hazina.services.payouts.views import payout_view
from hazina.services.settlement import Applied, Outcome, Scope, UnknownPayment

log = logging.getLogger("hazina.payouts")
PROCESS_PAYOUT = "process_payout"
# The `review_reason` a `payout.review_required` event carries (the only one so far).
REVIEW_PAID_AFTER_RELEASE = "paid_after_release"
# Job-level retries: the provider unreachable, the database gone. Out of attempts, the give-up
# step keeps a payout that may be moving at the provider on a later check.
PROCESS_PAYOUT_MAX_ATTEMPTS = 8

REPORTED: dict[ProviderEventKind, PayoutStatus] = {
    ProviderEventKind.PAYOUT_PROCESSING: PayoutStatus.PROCESSING,
    ProviderEventKind.PAYOUT_PAID: PayoutStatus.PAID,
    ProviderEventKind.PAYOUT_FAILED: PayoutStatus.FAILED,
    ProviderEventKind.PAYOUT_REFUNDED: PayoutStatus.REFUNDED,
    ProviderEventKind.PAYOUT_REVERSED: PayoutStatus.REVERSED,
}
PAYOUT_KINDS = frozenset(REPORTED)
# Every state a step can reach (never back to pending) announces itself.
_EVENTS: dict[PayoutStatus, EventType] = {
    status: EventType(f"payout.{status.value}")
    for status in PayoutStatus
    if status != PayoutStatus.PENDING
}


class UnknownPayout(UnknownPayment):
    """No payout of this account matches: kept as a failed inbound event for replay."""


async def lock_payout(
    session: AsyncSession, payout_id: str, *, scope: Scope | None = None
) -> Payout | None:
    query = select(Payout).where(Payout.id == payout_id)
    if scope is not None:
        query = query.where(Payout.provider == scope.provider)
        query = query.where(
            Payout.provider_account_id.is_(None)
            if scope.account_id is None
            else Payout.provider_account_id == scope.account_id
        )
        if scope.merchant_id is not None:
            query = query.where(Payout.merchant_id == scope.merchant_id)
    locked = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(locked)


async def apply_payout_report(
    session: AsyncSession, scope: Scope, report: ProviderEvent, inbound_event_id: str | None
) -> Applied:
    """A provider's report about one of its payouts (services.inbound dispatches PAYOUT_*)."""
    if report.kind not in PAYOUT_KINDS or report.payout_id is None:
        return Applied(Outcome.IGNORED)
    payout = await lock_payout(session, report.payout_id, scope=scope)
    if payout is None:
        raise UnknownPayout(f"no {scope.provider} payout of this account matches the report")
    if not report.confirmed:
        # Anyone could have sent it: it only makes Hazina ask the provider now.
        if payout.status in (PayoutStatus.PENDING, PayoutStatus.PROCESSING):
            await schedule_check(session, payout.id, 0.0, None)
        return Applied(Outcome.RECORDED, None, payout.merchant_id)
    fresh = await insert_unless_exists(
        session,
        ProviderEventReceipt,
        {
            "provider": scope.provider,
            "provider_account_id": scope.receipt_account,
            "dedup_key": report.dedup_key,
            "inbound_event_id": inbound_event_id,
            "created_at": utc_now(),
        },
    )
    if not fresh:
        return Applied(Outcome.DUPLICATE, None, payout.merchant_id)
    if report.provider_payment_reference and payout.provider_reference is None:
        payout.provider_reference = report.provider_payment_reference
    reported = REPORTED[report.kind]
    changed = await move(session, payout, reported, report.message)
    if not changed and paid_after_release(PayoutStatus(payout.status), reported):
        await _require_review(session, payout, scope.provider)
    return Applied(Outcome.APPLIED if changed else Outcome.RECORDED, None, payout.merchant_id)


async def _require_review(session: AsyncSession, payout: Payout, provider: str) -> None:
    """The provider paid a payout whose money Hazina released: the payout keeps its status
    and the ledger is not touched (what to recover, and from whom, is a human's call), but the
    merchant is told by event and the operator by an error in the log. Once per receipt."""
    log.error(
        "payout %s is %s, yet %s reports it paid: the money left and was also released to "
        "account %s; review required",
        payout.id,
        payout.status,
        provider,
        payout.account_id,
    )
    await record_event(
        session,
        payout.merchant_id,
        EventType.PAYOUT_REVIEW_REQUIRED,
        payout.id,
        payout_view(payout) | {"review_reason": REVIEW_PAID_AFTER_RELEASE},
        livemode=payout.livemode,
    )


async def move(
    session: AsyncSession, payout: Payout, reported: PayoutStatus, reason: str | None
) -> bool:
    """Take the locked payout to `reported` through every step in between, each with its
    ledger move and event; False when the state machine allows no step (stale, repeated or
    backwards). The reason of a failure or a return is kept on the payout."""
    steps = steps_to(PayoutStatus(payout.status), reported)
    for step in steps:
        if step.ledger == LedgerMove.POST:
            await accounting.post_reservation(session, payout)
        elif step.ledger == LedgerMove.VOID:
            await accounting.void_reservation(session, payout)
        elif step.ledger == LedgerMove.RETURN:
            await accounting.give_back(session, payout)
        payout.status = step.target.value
        if step.ledger in (LedgerMove.VOID, LedgerMove.RETURN) and reason:
            payout.failure_reason = reason[:2000]
        payout.updated_at = utc_now()
        await session.flush()
        await record_event(
            session,
            payout.merchant_id,
            _EVENTS[step.target],
            payout.id,
            payout_view(payout),
            livemode=payout.livemode,
        )
    return bool(steps)


async def schedule_check(
    session: AsyncSession, payout_id: str, delay: float, check: int | None
) -> None:
    """A `process_payout` job: send the payout if it never reached its provider, else ask.
    `check` counts the payout's own chain of checks; None is a one-off question (a webhook
    nobody authenticated), which schedules nothing after it."""
    await enqueue(
        session,
        PROCESS_PAYOUT,
        {"payout_id": payout_id, "check": check},
        max_attempts=PROCESS_PAYOUT_MAX_ATTEMPTS,
        run_at=utc_now() + timedelta(seconds=delay),
    )
