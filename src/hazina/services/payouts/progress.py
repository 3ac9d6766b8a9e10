"""The `process_payout` job: send a payout once, then ask its provider until it is final.

The provider call never runs inside a database transaction. Before the first send, the payout's
`submitted_at` is committed; from then on every run asks the provider first (`fetch_payout`),
so a worker killed after the provider accepted a payout, and before Hazina recorded it, finds it
by status query on the next run instead of sending it again. Only a payout the provider has
never heard of is sent (again, under the same reference, which the provider refuses to reuse).
An uncertain answer (timeout, 5xx) leaves the payout `processing`; the next step is a status
query. Each run that leaves the payout moving schedules the next check in the transaction that
completes it (`HAZINA_PAYOUT_CHECK_SCHEDULE`, its last interval repeating until final).
"""

import logging

from sqlalchemy import select, update

from hazina.db.database import Database
from hazina.db.models import Payout
from hazina.db.queue import complete_current_job
from hazina.domain.clock import utc_now
from hazina.domain.payouts import PayoutStart, PayoutStatus, destination_from_json
from hazina.domain.providers import ProviderAccess, ProviderEvent, ProviderFailure
from hazina.services.payouts.context import SANDBOX, PayoutContext
from hazina.services.payouts.settlement import (
    apply_payout_report,
    lock_payout,
    move,
    schedule_check,
)
from hazina.services.provider_access import default_access
from hazina.services.provider_accounts import read_access
from hazina.services.settlement import Scope

log = logging.getLogger("hazina.payouts")
MOVING = (PayoutStatus.PENDING, PayoutStatus.PROCESSING)


def start_of(payout: Payout) -> PayoutStart:
    return PayoutStart(
        payout.id, payout.amount, payout.currency, destination_from_json(payout.destination)
    )


def scope_of(payout: Payout) -> Scope:
    return Scope(payout.provider, payout.merchant_id, payout.provider_account_id)


async def access_of(db: Database, context: PayoutContext, payout: Payout) -> ProviderAccess:
    """The account the payout was created through, which alone can speak about it."""
    if payout.provider_account_id is None:
        if payout.provider == SANDBOX:
            return ProviderAccess(SANDBOX, None, "test", {})
        return default_access(context.providers.registry, payout.provider)
    async with db.read() as session:
        return await read_access(
            session,
            context.providers.vault,
            payout.provider,
            merchant_id=payout.merchant_id,
            account_id=payout.provider_account_id,
        )


async def process_payout(
    db: Database, context: PayoutContext, payout_id: str, check: int | None
) -> str:
    """One run: send or ask, apply, and (`check` not None: the payout's own chain of checks)
    schedule the next check. Answers the payout's status."""
    async with db.read() as session:
        payout = await session.get(Payout, payout_id)
    if payout is None or payout.status not in MOVING:
        return "settled" if payout is None else payout.status
    adapter = context.adapter(payout.provider)
    access = await access_of(db, context, payout)
    start = start_of(payout)
    report: ProviderEvent | None = None
    if payout.submitted_at is None and not await _mark_submitted(db, payout_id):
        # The row changed since it was read: another run marked it, or the merchant canceled
        # it (or it failed) and its money is back on the account. Only the first may go on.
        async with db.read() as session:
            payout = await session.get(Payout, payout_id)
        if payout is None or payout.status not in MOVING or payout.submitted_at is None:
            return "settled" if payout is None else payout.status
    # Marked (by this run or another), it is asked about before it is sent: the provider may
    # already have it, and a reference it knows is never sent again.
    if payout.submitted_at is not None:
        report = await adapter.fetch_payout(access, start)
    uncertain: str | None = None
    if report is None and payout.provider_reference is None:
        try:
            report = await adapter.create(access, start)
        except ProviderFailure as exc:
            if not exc.retryable:
                return await _finish(db, context, payout_id, check, None, exc.description)
            log.warning("payout %s: uncertain start (%s)", payout_id, exc.description)
            uncertain = exc.description
    return await _finish(db, context, payout_id, check, report, None, uncertain=uncertain)


async def _mark_submitted(db: Database, payout_id: str) -> bool:
    """Committed before the provider is first called: from now on, ask before sending."""
    async with db.transaction() as session:
        result = await session.execute(
            update(Payout)
            .where(
                Payout.id == payout_id,
                Payout.status == PayoutStatus.PENDING,
                Payout.submitted_at.is_(None),
            )
            .values(submitted_at=utc_now())
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def _finish(
    db: Database,
    context: PayoutContext,
    payout_id: str,
    check: int | None,
    report: ProviderEvent | None,
    refusal: str | None,
    *,
    uncertain: str | None = None,
) -> str:
    """Apply what was learned, complete the job and schedule the next check, in one transaction."""
    async with db.transaction() as session:
        await complete_current_job(session)
        payout = await lock_payout(session, payout_id)
        assert payout is not None
        if refusal is not None:
            # The provider refused what it was sent: nothing left, the money is released.
            await move(session, payout, PayoutStatus.FAILED, refusal)
        elif report is not None:
            await apply_payout_report(session, scope_of(payout), report, None)
        elif uncertain is not None:
            await move(session, payout, PayoutStatus.PROCESSING, None)
        if payout.status in MOVING and check is not None:
            delay = context.delay_of_check(payout.provider, check)
            await schedule_check(session, payout.id, delay, check + 1)
        return payout.status


async def give_up_payout(db: Database, context: PayoutContext, payout_id: str) -> None:
    """A `process_payout` job out of attempts. A payout never sent fails and is released; one
    that may be moving at the provider is asked about again later, never abandoned."""
    async with db.transaction() as session:
        payout = await lock_payout(session, payout_id)
        if payout is None or payout.status not in MOVING:
            return
        if payout.submitted_at is None:
            await move(session, payout, PayoutStatus.FAILED, "The payout could not be started")
            return
        last = context.delay_of_check(payout.provider, len(context.check_schedule))
        await schedule_check(session, payout.id, last, len(context.check_schedule))


async def moving_payouts(db: Database) -> list[str]:
    """Ids of payouts still moving at their provider, oldest first (`hazina payouts reconcile`)."""
    async with db.read() as session:
        rows = await session.scalars(
            select(Payout.id)
            .where(Payout.status.in_([status.value for status in MOVING]))
            .order_by(Payout.created_at)
        )
        return list(rows)
