"""ledger

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:30:00.000000

The double-entry ledger (#14): accounts with their balance columns, immutable transfers and
their entries, a merchant's ledger settings, the outcomes of `hazina ledger check`, and the
order's ledger terms (splits, platform fee, top-up wallet), NULL for every existing order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUTO_INCREMENT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, hazina.db.types.UtcDateTime(timezone=True), nullable=nullable)


# models.LEDGER_CHARGE_PREDICATE and LEDGER_HOLD_END_PREDICATE as of this revision.
_CHARGE = "kind = 'charge'"
_HOLD_END = "kind IN ('post', 'void')"


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("ledger_terms", sa.JSON(), nullable=True))
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("merchant_id", sa.Uuid(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("system_key", sa.String(80), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=True),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("merchant_id", "system_key", name="uq_ledger_accounts_system_key"),
    )
    op.create_index(
        "idx_ledger_accounts_merchant_created", "ledger_accounts", ["merchant_id", "created_at"]
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("merchant_id", sa.Uuid(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("refund_id", sa.String(64), nullable=True),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("pending_id", sa.String(64), nullable=True),
        sa.Column("destination_account_id", sa.String(64), nullable=True),
        sa.Column("provider", sa.String(20), nullable=True),
        sa.Column("reversed", sa.BigInteger(), nullable=False),
        _timestamp("released_at", nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        _timestamp("created_at"),
    )
    op.create_index(
        "idx_ledger_transfers_merchant_created", "ledger_transfers", ["merchant_id", "created_at"]
    )
    op.create_index("idx_ledger_transfers_payment_id", "ledger_transfers", ["payment_id"])
    op.create_index("idx_ledger_transfers_pending_id", "ledger_transfers", ["pending_id"])
    # One charge per payment, one post or void per hold (models.LEDGER_*_PREDICATE).
    op.create_index(
        "uq_ledger_transfers_charge",
        "ledger_transfers",
        ["payment_id"],
        unique=True,
        postgresql_where=sa.text(_CHARGE),
        sqlite_where=sa.text(_CHARGE),
    )
    op.create_index(
        "uq_ledger_transfers_hold_end",
        "ledger_transfers",
        ["pending_id"],
        unique=True,
        postgresql_where=sa.text(_HOLD_END),
        sqlite_where=sa.text(_HOLD_END),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", _AUTO_INCREMENT, primary_key=True, autoincrement=True),
        sa.Column(
            "transfer_id", sa.String(64), sa.ForeignKey("ledger_transfers.id"), nullable=False
        ),
        sa.Column("account_id", sa.String(64), sa.ForeignKey("ledger_accounts.id"), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("bucket", sa.String(10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("idx_ledger_entries_account_id", "ledger_entries", ["account_id", "id"])
    op.create_index("idx_ledger_entries_transfer_id", "ledger_entries", ["transfer_id"])
    op.create_table(
        "ledger_settings",
        sa.Column("merchant_id", sa.Uuid(), sa.ForeignKey("merchants.id"), primary_key=True),
        sa.Column("keep_fees_on_refunds", sa.Boolean(), nullable=False),
        _timestamp("updated_at"),
    )
    op.create_table(
        "ledger_checks",
        sa.Column("id", _AUTO_INCREMENT, primary_key=True, autoincrement=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        _timestamp("checked_at"),
    )
    op.create_index("ix_ledger_checks_checked_at", "ledger_checks", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_ledger_checks_checked_at", table_name="ledger_checks")
    op.drop_table("ledger_checks")
    op.drop_table("ledger_settings")
    op.drop_index("idx_ledger_entries_transfer_id", table_name="ledger_entries")
    op.drop_index("idx_ledger_entries_account_id", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("uq_ledger_transfers_hold_end", table_name="ledger_transfers")
    op.drop_index("uq_ledger_transfers_charge", table_name="ledger_transfers")
    op.drop_index("idx_ledger_transfers_pending_id", table_name="ledger_transfers")
    op.drop_index("idx_ledger_transfers_payment_id", table_name="ledger_transfers")
    op.drop_index("idx_ledger_transfers_merchant_created", table_name="ledger_transfers")
    op.drop_table("ledger_transfers")
    op.drop_index("idx_ledger_accounts_merchant_created", table_name="ledger_accounts")
    op.drop_table("ledger_accounts")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("ledger_terms")
