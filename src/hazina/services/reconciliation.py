"""Scheduling `reconcile_payment` and `reconcile_refund` jobs: asking a provider what became
of a payment, or of a refund it accepted."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Job
from hazina.db.queue import enqueue
from hazina.domain.clock import utc_now
from hazina.domain.states import JobStatus

RECONCILE_PAYMENT = "reconcile_payment"
RECONCILE_REFUND = "reconcile_refund"
RECONCILE_MAX_ATTEMPTS = 5


async def schedule_reconciliation(
    session: AsyncSession, payment_id: str, delays: Sequence[float], *, final: bool = False
) -> None:
    """One job per delay (seconds from now). With `final`, the last one settles the payment
    as expired if the provider still calls it pending: no payment stays pending forever."""
    await _schedule(session, RECONCILE_PAYMENT, {"payment_id": payment_id}, delays, final=final)


async def schedule_refund_reconciliation(
    session: AsyncSession, refund_id: str, delays: Sequence[float]
) -> None:
    """Status queries for a refund the provider accepted but has not settled; the last one
    fails the refund if the provider still has not, so no refund stays pending forever."""
    await _schedule(session, RECONCILE_REFUND, {"refund_id": refund_id}, delays, final=True)


async def _schedule(
    session: AsyncSession,
    kind: str,
    subject: dict[str, Any],
    delays: Sequence[float],
    *,
    final: bool,
) -> None:
    now = utc_now()
    for position, seconds in enumerate(delays, start=1):
        payload: dict[str, Any] = dict(subject)
        if final and position == len(delays):
            payload["final"] = True
        await enqueue(
            session,
            kind,
            payload,
            max_attempts=RECONCILE_MAX_ATTEMPTS,
            run_at=now + timedelta(seconds=seconds),
        )


async def checks_remaining(session: AsyncSession, kind: str, key: str, value: str) -> bool:
    """Whether a later status query of `kind` about `payload[key] == value` is still to run:
    a query out of attempts then leaves the question to it instead of settling it early."""
    later = await session.scalar(
        select(Job.id)
        .where(
            Job.kind == kind,
            Job.status == JobStatus.PENDING,
            Job.payload[key].as_string() == value,
        )
        .limit(1)
    )
    return later is not None


async def check_soon(session: AsyncSession, payment_id: str) -> None:
    """A status query now, unless one is already due within a minute: a flood of
    unauthenticated notifications about one payment asks its provider once."""
    due = await session.scalar(
        select(Job.id)
        .where(
            Job.kind == RECONCILE_PAYMENT,
            Job.status == JobStatus.PENDING,
            Job.payload["payment_id"].as_string() == payment_id,
            Job.run_at <= utc_now() + timedelta(minutes=1),
        )
        .limit(1)
    )
    if due is None:
        await schedule_reconciliation(session, payment_id, (0.0,))
