"""creator_contacts

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 11:45:00.000000

Notifications to ledger creators: each creator account's contact (name, email, E.164 phone)
and, per merchant twin, the channels telling creators what they earned and that a payout
ended. The two channel columns default to `[]` (existing settings tell no creator), so the
upgrade is additive and the downgrade drops it all.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, hazina.db.types.UtcDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("notification_settings") as batch:
        batch.add_column(
            sa.Column("earning_channels", sa.JSON(), server_default="[]", nullable=False)
        )
        batch.add_column(
            sa.Column("payout_channels", sa.JSON(), server_default="[]", nullable=False)
        )
    op.create_table(
        "creator_contacts",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"]),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("creator_contacts")
    with op.batch_alter_table("notification_settings") as batch:
        batch.drop_column("payout_channels")
        batch.drop_column("earning_channels")
