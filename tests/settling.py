"""Settling a payment behind the API's back, as the worker would after a decline.

An order takes a new attempt while another is pending; a test that wants the earlier attempt
out of the way (so it cannot succeed too) marks it `failed` first.
"""

from sqlalchemy import update

from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.domain.clock import utc_now


async def mark_failed(db: Database, payment_id: str) -> None:
    """A pending payment becomes `failed` (the sandbox's decline); its order stays payable."""
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
