"""Daily figures for the Overview's chart: payments, successes and successful volume per UTC day,
grouped by the database (one aggregate query, however many payments the window holds)."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select

from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.db.statements import utc_day
from hazina.domain.states import PaymentStatus

DAYS = 30


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    payments: int = 0
    successful: int = 0
    # Minor units of successful payments per currency: two currencies never add up.
    volume: dict[str, int] = field(default_factory=dict)

    @property
    def success_rate(self) -> int | None:
        """Whole percent of the day's payments that succeeded; None on a day without any."""
        return round(100 * self.successful / self.payments) if self.payments else None


async def daily_figures(
    db: Database, merchant_id: uuid.UUID, today: date, days: int = DAYS
) -> list[DayFigures]:
    """One entry per day from `today - days + 1` to `today` (UTC), quiet days included."""
    first = today - timedelta(days=days - 1)
    succeeded = Payment.status == PaymentStatus.SUCCESS
    async with db.read() as session:
        day = utc_day(Payment.created_at, session.get_bind().dialect.name).label("day")
        rows = await session.execute(
            select(
                day,
                Payment.currency,
                func.count(),
                func.count(case((succeeded, 1))),
                func.coalesce(func.sum(case((succeeded, Payment.amount), else_=0)), 0),
            )
            .where(
                Payment.merchant_id == merchant_id,
                Payment.created_at >= datetime.combine(first, time.min, tzinfo=UTC),
            )
            .group_by(day, Payment.currency)
        )
        found: dict[date, DayFigures] = {}
        for text, currency, payments, successful, volume in rows:
            seen = found.get(date.fromisoformat(text)) or DayFigures(date.fromisoformat(text))
            found[seen.day] = DayFigures(
                seen.day,
                seen.payments + int(payments),
                seen.successful + int(successful),
                seen.volume | ({currency: int(volume)} if volume else {}),
            )
    return [
        found.get(first + timedelta(days=n)) or DayFigures(first + timedelta(days=n))
        for n in range(days)
    ]
