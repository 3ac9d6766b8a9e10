"""Payout schedules (beyond the seeds, as Stripe Connect has them): an account set to `daily` or
`weekly` (on a weekday) is paid out automatically, at midnight UTC, of its whole available
balance less the provider's fee, to its default destination, once that reaches its `minimum`;
a provider that pays whole major units only (ClickPesa) is sent them, the cents stay behind.

Each saved schedule enqueues a `scheduled_payout` job for its next run, naming that run; a job
whose run is no longer the schedule's (it was changed meanwhile) does nothing. A run's payout
is created with an idempotency key of the account and the run, so a run repeated after a crash
makes one payout, and the next run is enqueued in the transaction that completes the job.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import LedgerAccount, PayoutSchedule
from hazina.db.queue import complete_current_job, enqueue
from hazina.domain import ids
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import BadRequest, HazinaError, NotFound
from hazina.domain.payouts import (
    Interval,
    PayoutStart,
    masked_destination,
    next_scheduled_run,
    sendable,
)
from hazina.services.idempotency import IdempotencyRequest
from hazina.services.orders import MAXIMUM_AMOUNT
from hazina.services.payouts.context import PayoutContext
from hazina.services.payouts.creation import (
    NewPayout,
    create_payout,
    fee_of,
    parse_destination,
    provider_for,
)

log = logging.getLogger("hazina.payouts")
SCHEDULED_PAYOUT = "scheduled_payout"
SCHEDULED_PAYOUT_MAX_ATTEMPTS = 5
# A scheduled run's idempotency keys live as long as a week's schedule needs them.
RUN_KEY_TTL = timedelta(days=8)


@dataclass(frozen=True, slots=True)
class NewSchedule:
    interval: str
    weekday: int | None
    minimum: int
    destination: dict[str, Any] | None


def schedule_view(schedule: PayoutSchedule) -> dict[str, Any]:
    return {
        "object": "payout_schedule",
        "account_id": schedule.account_id,
        "interval": schedule.interval,
        "weekday": schedule.weekday,
        "minimum": schedule.minimum,
        "destination": masked_destination(schedule.destination),
        "next_run_at": None if schedule.next_run_at is None else iso_z(schedule.next_run_at),
        "updated_at": iso_z(schedule.updated_at),
    }


def _validated(new: NewSchedule) -> tuple[Interval, dict[str, Any]]:
    if new.interval not in {i.value for i in Interval}:
        raise BadRequest("interval must be manual, daily or weekly")
    interval = Interval(new.interval)
    if interval == Interval.WEEKLY and (new.weekday is None or not 0 <= new.weekday <= 6):
        raise BadRequest("weekday (0 = Monday … 6 = Sunday) is required for a weekly schedule")
    if not 0 <= new.minimum <= MAXIMUM_AMOUNT:
        raise BadRequest(f"minimum must be from 0 to {MAXIMUM_AMOUNT}")
    if new.destination is None:
        raise BadRequest("destination is required: where scheduled payouts go")
    return interval, parse_destination(new.destination).to_json()


async def set_schedule(
    db: Database, merchant_id: uuid.UUID, account_id: str, new: NewSchedule
) -> dict[str, Any]:
    interval, destination = _validated(new)
    async with db.transaction() as session:
        account = await session.get(LedgerAccount, account_id)
        if account is None or account.merchant_id != merchant_id:
            raise NotFound("Account not found")
        if account.system_key is not None:
            raise BadRequest("Payouts are made from creator or customer accounts")
        now = utc_now()
        schedule = await session.get(PayoutSchedule, account_id, with_for_update=True)
        if schedule is None:
            schedule = PayoutSchedule(account_id=account_id, merchant_id=merchant_id)
            schedule.created_at = now
            session.add(schedule)
        schedule.interval = interval.value
        schedule.weekday = new.weekday if interval == Interval.WEEKLY else None
        schedule.minimum = new.minimum
        schedule.destination = destination
        schedule.next_run_at = next_scheduled_run(interval, schedule.weekday, now)
        schedule.updated_at = now
        await session.flush()
        if schedule.next_run_at is not None:
            await enqueue(
                session,
                SCHEDULED_PAYOUT,
                {"account_id": account_id, "run": iso_z(schedule.next_run_at)},
                max_attempts=SCHEDULED_PAYOUT_MAX_ATTEMPTS,
                run_at=schedule.next_run_at,
            )
        return schedule_view(schedule)


async def get_schedule(db: Database, merchant_id: uuid.UUID, account_id: str) -> dict[str, Any]:
    async with db.read() as session:
        schedule = await session.scalar(
            select(PayoutSchedule).where(
                PayoutSchedule.account_id == account_id, PayoutSchedule.merchant_id == merchant_id
            )
        )
    if schedule is None:
        raise NotFound("This account has no payout schedule (it is paid out manually)")
    return schedule_view(schedule)


async def run_schedule(db: Database, context: PayoutContext, account_id: str, run: str) -> str:
    """One scheduled run: pay the balance out if it reaches the minimum, then schedule the
    next run. Answers what happened."""
    async with db.read() as session:
        schedule = await session.get(PayoutSchedule, account_id)
        account = await session.get(LedgerAccount, account_id)
    if schedule is None or account is None or schedule.next_run_at is None:
        return "unscheduled"
    if iso_z(schedule.next_run_at) != run:
        return "superseded"  # the schedule changed; its own job carries the new run
    outcome = await _pay_out(db, context, schedule, account, run)
    async with db.transaction() as session:
        await complete_current_job(session)
        locked = await session.get(PayoutSchedule, account_id, with_for_update=True)
        if locked is None or locked.next_run_at is None or iso_z(locked.next_run_at) != run:
            return outcome
        interval = Interval(locked.interval)
        after = datetime.fromisoformat(run)
        locked.next_run_at = next_scheduled_run(interval, locked.weekday, after)
        locked.updated_at = utc_now()
        if locked.next_run_at is not None:
            await enqueue(
                session,
                SCHEDULED_PAYOUT,
                {"account_id": account_id, "run": iso_z(locked.next_run_at)},
                max_attempts=SCHEDULED_PAYOUT_MAX_ATTEMPTS,
                run_at=locked.next_run_at,
            )
    return outcome


async def _pay_out(
    db: Database,
    context: PayoutContext,
    schedule: PayoutSchedule,
    account: LedgerAccount,
    run: str,
) -> str:
    available = account.available
    if available <= 0 or available < schedule.minimum:
        return "below minimum"
    destination = parse_destination(schedule.destination)
    try:
        provider, access = await provider_for(
            db, context, account.merchant_id, account.livemode, None
        )
        # A provider that pays whole units only is sent whole units: the cents stay on the
        # account (ClickPesa refuses them, and each run would be skipped for them forever).
        whole_units = context.adapter(provider).whole_units
        balance = sendable(available, account.currency, whole_units=whole_units)
        probe = PayoutStart(ids.new_id(ids.PAYOUT), balance, account.currency, destination)
        # The fee comes out of the balance too: quote the whole balance, send what the fee
        # leaves (whose own fee is no larger), so amount + fee always fits.
        fee = await fee_of(context, provider, access, probe)
        amount = sendable(balance - fee, account.currency, whole_units=whole_units)
        if amount <= 0 or amount < schedule.minimum:
            return "below minimum"
        new = NewPayout(account.id, amount, account.currency, schedule.destination)
        key = IdempotencyRequest(f"schedule:{account.id}:{run}", f"schedule:{account.id}:{run}")
        await create_payout(
            db,
            context,
            account.merchant_id,
            account.livemode,
            new,
            key,
            RUN_KEY_TTL,
            source="schedule",
        )
    except HazinaError as exc:
        # The balance moved meanwhile, or the provider refused: this run pays nothing; the
        # next one tries again.
        log.warning("scheduled payout of %s skipped: %s", account.id, exc.description)
        return "skipped"
    return "paid out"
