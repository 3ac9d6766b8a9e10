"""reporting

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 04:30:00.000000

Reserved for #14 reporting (transactions filters, exports) and deliberately empty: every filtered
list, export batch and chart query is scoped by `merchant_id` and ordered or bounded by
`created_at`, which `idx_payments_merchant_created` already serves; the other filters narrow
that range. A further index on `payments` would be maintained by every payment insert and
status change (the checkout's and the providers' hot paths) to speed up only the dashboard's
reads, and the search's "part of a receipt or VPA" cannot use a B-tree anyway. The revision
stays so the chain 0017 → 0018 holds.
"""

from collections.abc import Sequence

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
