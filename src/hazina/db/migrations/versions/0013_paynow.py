"""paynow

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:30:00.000000

No schema change: Paynow and EcoCash direct (#12) fit the payments' existing columns (the poll
URL, or EcoCash's `{msisdn}:{sourceReference}`, is `provider_reference`; Paynow's own reference
is `provider_payment_reference`; the customer's next step is `next_action`). The revision stays,
as a no-op, so the reserved chain 0012 to 0018 remains linear.
"""

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
