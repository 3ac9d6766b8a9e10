"""payment_links

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 04:30:00.000000

Payment links (a public page per order, `/l/{code}`), the notifications each change causes (a
link sent over WhatsApp or email, a merchant told of a payment, a buyer's receipt), who each
merchant twin tells what, and when customers last wrote on WhatsApp (the 24 h text window).
A link's order carries the link's terms in three nullable `orders` columns (NULL for every
existing order), which every payment attempt checks. Reversible by dropping all of it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, hazina.db.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("link_methods", sa.JSON(), nullable=True))
        batch.add_column(_timestamp("link_expires_at", nullable=True))
        batch.add_column(_timestamp("link_cancelled_at", nullable=True))
    op.create_table(
        "payment_links",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("methods", sa.JSON(), nullable=True),
        sa.Column("customer_name", sa.String(length=255), nullable=True),
        sa.Column("customer_phone", sa.String(length=20), nullable=True),
        sa.Column("customer_email", sa.String(length=255), nullable=True),
        _timestamp("expires_at", nullable=True),
        _timestamp("cancelled_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(
        "idx_payment_links_merchant_created", "payment_links", ["merchant_id", "created_at"]
    )
    op.create_index("idx_payment_links_order_id", "payment_links", ["order_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "idx_notifications_merchant_subject", "notifications", ["merchant_id", "subject_id"]
    )
    op.create_index("idx_notifications_provider_message", "notifications", ["provider_message_id"])
    op.create_table(
        "notification_settings",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_email", sa.String(length=255), nullable=True),
        sa.Column("merchant_phone", sa.String(length=20), nullable=True),
        sa.Column("paid_channels", sa.JSON(), nullable=False),
        sa.Column("receipt_channels", sa.JSON(), nullable=False),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_table(
        "whatsapp_contacts",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        _timestamp("last_message_at"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("merchant_id", "phone"),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_contacts")
    op.drop_table("notification_settings")
    op.drop_index("idx_notifications_provider_message", table_name="notifications")
    op.drop_index("idx_notifications_merchant_subject", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("idx_payment_links_order_id", table_name="payment_links")
    op.drop_index("idx_payment_links_merchant_created", table_name="payment_links")
    op.drop_table("payment_links")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("link_cancelled_at")
        batch.drop_column("link_expires_at")
        batch.drop_column("link_methods")
