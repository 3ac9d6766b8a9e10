"""The dashboard's figures, computed by the database from the merchant's payments."""

import uuid
from dataclasses import dataclass

from sqlalchemy import case, func, select

from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.domain.states import PaymentStatus


@dataclass(frozen=True, slots=True)
class PaymentStats:
    total: int
    successful: int
    # Minor units of successful payments per currency: amounts in two currencies never add up.
    amounts: dict[str, int]

    @property
    def success_rate(self) -> int:
        """Successful payments as a whole percentage of all payments (0 when there are none)."""
        return round(100 * self.successful / self.total) if self.total else 0


async def payment_stats(db: Database, merchant_id: uuid.UUID) -> PaymentStats:
    succeeded = Payment.status == PaymentStatus.SUCCESS
    async with db.read() as session:
        counts = (
            await session.execute(
                select(func.count(), func.count(case((succeeded, 1)))).where(
                    Payment.merchant_id == merchant_id
                )
            )
        ).one()
        sums = await session.execute(
            select(Payment.currency, func.sum(Payment.amount))
            .where(Payment.merchant_id == merchant_id, succeeded)
            .group_by(Payment.currency)
            .order_by(Payment.currency)
        )
        amounts = {currency: int(total) for currency, total in sums}
    return PaymentStats(total=int(counts[0]), successful=int(counts[1]), amounts=amounts)
