"""Scheduling `reconcile_payment` jobs: asking a provider what became of a payment."""

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
RECONCILE_MAX_ATTEMPTS = 5


async def schedule_reconciliation(
    session: AsyncSession, payment_id: str, delays: Sequence[float], *, final: bool = False
) -> None:
    """One job per delay (seconds from now). With `final`, the last one settles the payment
    as expired if the provider still calls it pending: no payment stays pending forever."""
    now = utc_now()
    for position, seconds in enumerate(delays, start=1):
        payload: dict[str, Any] = {"payment_id": payment_id}
        if final and position == len(delays):
            payload["final"] = True
        await enqueue(
            session,
            RECONCILE_PAYMENT,
            payload,
            max_attempts=RECONCILE_MAX_ATTEMPTS,
            run_at=now + timedelta(seconds=seconds),
        )


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
