"""payouts

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 04:30:00.000000

Payouts (money leaving a ledger account for a phone or a bank account, its amount and fee held
by a pending ledger transfer) and the accounts' payout schedules. New tables only, so it is
reversible by dropping them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, hazina.db.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("destination", sa.JSON(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_account_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("provider_reference", sa.String(length=64), nullable=True),
        sa.Column("reservation_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        _timestamp("submitted_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_payouts_merchant_created", "payouts", ["merchant_id", "created_at"])
    op.create_index("idx_payouts_account_id", "payouts", ["account_id"])
    op.create_index("idx_payouts_status", "payouts", ["status"])
    op.create_table(
        "payout_schedules",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("minimum", sa.BigInteger(), nullable=False),
        sa.Column("destination", sa.JSON(), nullable=False),
        _timestamp("next_run_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"]),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("payout_schedules")
    op.drop_index("idx_payouts_status", table_name="payouts")
    op.drop_index("idx_payouts_account_id", table_name="payouts")
    op.drop_index("idx_payouts_merchant_created", table_name="payouts")
    op.drop_table("payouts")
