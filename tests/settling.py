"""Settling a payment behind the API's back, for tests that need an order payable again.

An order takes one payment at a time: a test that sends several payments for one order first
marks the earlier one `failed`, as the worker would after a decline.
"""

from sqlalchemy import update

from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.domain.clock import utc_now


async def mark_failed(db: Database, payment_id: str) -> None:
    """A pending payment becomes `failed` (the sandbox's decline), leaving its order payable."""
    async with db.transaction() as session:
        result = await session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status == "pending")
            .values(
                status="failed",
                error_code="PAYMENT_FAILED",
                error_description="Payment processing failed",
                updated_at=utc_now(),
            )
        )
    assert result.rowcount == 1, f"{payment_id} was not pending"  # type: ignore[attr-defined]
