"""providers and inbound events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:24:28.371911
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_event_receipts",
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("inbound_event_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "dedup_key"),
    )
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_account_id", sa.String(length=64), nullable=True),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=True),
        sa.Column("payment_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", hazina.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.create_index(
            "idx_inbound_events_merchant_received", ["merchant_id", "received_at"], unique=False
        )
        batch_op.create_index("idx_inbound_events_status", ["status"], unique=False)

    op.create_table(
        "provider_accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("hints", sa.JSON(), nullable=False),
        sa.Column("created_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "merchant_id", "provider", name="uq_provider_accounts_merchant_provider"
        ),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider", sa.String(length=20), server_default="sandbox", nullable=False)
        )
        batch_op.add_column(sa.Column("provider_account_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("provider_reference", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("provider_payment_reference", sa.String(length=255), nullable=True)
        )
        batch_op.add_column(sa.Column("next_action", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("amount_received", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("received_currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("review_reason", sa.String(length=50), nullable=True))
        batch_op.create_index(
            "idx_payments_provider_payment_reference",
            ["provider", "provider_payment_reference"],
            unique=False,
        )
        batch_op.create_index(
            "idx_payments_provider_reference", ["provider", "provider_reference"], unique=False
        )

    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_reference", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("provider_reference")

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("idx_payments_provider_reference")
        batch_op.drop_index("idx_payments_provider_payment_reference")
        batch_op.drop_column("review_reason")
        batch_op.drop_column("received_currency")
        batch_op.drop_column("amount_received")
        batch_op.drop_column("next_action")
        batch_op.drop_column("provider_payment_reference")
        batch_op.drop_column("provider_reference")
        batch_op.drop_column("provider_account_id")
        batch_op.drop_column("provider")

    op.drop_table("provider_accounts")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index("idx_inbound_events_status")
        batch_op.drop_index("idx_inbound_events_merchant_received")

    op.drop_table("inbound_events")
    op.drop_table("provider_event_receipts")
