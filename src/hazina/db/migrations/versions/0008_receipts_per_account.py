"""provider event receipts keyed per provider account

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00.000000

A receipt's key becomes (provider, provider_account_id, dedup_key), so a merchant who signs its
own notifications cannot pre-empt another merchant's by reusing their event ids. The default
account is `''` (a primary key column holds no NULL). Existing receipts take the account of the
notification that wrote them (`inbound_events.provider_account_id`); those Hazina wrote itself
(no inbound event: its own reports, reconciliation answers) take the account of the payment their
key names where it names one (`hazina:{reason}:{payment or refund id}`), else `''`. A receipt
left under `''` that belonged to a merchant's account can at worst let that one fact be applied
once more, and settlement decides it against the payment's current state (nothing moves back).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWN_REPORT_PREFIX = "hazina:"  # domain.providers.OWN_REPORT_PREFIX as of this revision
_PK_NAME = "provider_event_receipts_pkey"  # PostgreSQL's name for 0003's unnamed key
_KEY_PER_ACCOUNT = ("provider", "provider_account_id", "dedup_key")


def upgrade() -> None:
    with op.batch_alter_table("provider_event_receipts") as batch_op:
        batch_op.add_column(
            sa.Column(
                "provider_account_id", sa.String(length=64), server_default="", nullable=False
            )
        )
    _backfill()
    if _on_postgresql():
        op.alter_column("provider_event_receipts", "provider_account_id", server_default=None)
        op.drop_constraint(_PK_NAME, "provider_event_receipts", type_="primary")
        op.create_primary_key(_PK_NAME, "provider_event_receipts", list(_KEY_PER_ACCOUNT))
    else:
        _rebuild_on_sqlite(_KEY_PER_ACCOUNT)


def _backfill() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE provider_event_receipts SET provider_account_id = COALESCE("
            " (SELECT inbound_events.provider_account_id FROM inbound_events"
            "  WHERE inbound_events.id = provider_event_receipts.inbound_event_id), '')"
            " WHERE inbound_event_id IS NOT NULL"
        )
    )
    own = bind.execute(
        sa.text(
            "SELECT provider, dedup_key FROM provider_event_receipts"
            " WHERE inbound_event_id IS NULL AND dedup_key LIKE :prefix"
        ),
        {"prefix": _OWN_REPORT_PREFIX + "%"},
    ).all()
    account_of = sa.text(
        "UPDATE provider_event_receipts SET provider_account_id = COALESCE("
        " (SELECT payments.provider_account_id FROM payments WHERE payments.id = :payment_id"
        "  OR payments.id = (SELECT refunds.payment_id FROM refunds WHERE refunds.id = :payment_id)"
        " ), '')"
        " WHERE provider = :provider AND dedup_key = :dedup_key"
    )
    for provider, dedup_key in own:
        named = str(dedup_key).rsplit(":", 1)[-1]
        bind.execute(
            account_of, {"payment_id": named, "provider": provider, "dedup_key": dedup_key}
        )


def downgrade() -> None:
    # Keys that differ only by account collapse into one: the oldest receipt is kept.
    op.execute(
        "DELETE FROM provider_event_receipts WHERE EXISTS ("
        " SELECT 1 FROM provider_event_receipts AS older"
        " WHERE older.provider = provider_event_receipts.provider"
        " AND older.dedup_key = provider_event_receipts.dedup_key"
        " AND (older.created_at < provider_event_receipts.created_at"
        "  OR (older.created_at = provider_event_receipts.created_at"
        "   AND older.provider_account_id < provider_event_receipts.provider_account_id)))"
    )
    if _on_postgresql():
        op.drop_constraint(_PK_NAME, "provider_event_receipts", type_="primary")
        op.create_primary_key(_PK_NAME, "provider_event_receipts", ["provider", "dedup_key"])
        op.drop_column("provider_event_receipts", "provider_account_id")
    else:
        _rebuild_on_sqlite(("provider", "dedup_key"))


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _rebuild_on_sqlite(key: tuple[str, ...]) -> None:
    """SQLite changes a primary key only by rebuilding the table: from this definition, copying
    the columns it names (so leaving `provider_account_id` out drops it)."""
    columns = [
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_account_id", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("inbound_event_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
    ]
    kept = [
        column for column in columns if column.name != "provider_account_id" or column.name in key
    ]
    table = sa.Table("provider_event_receipts", sa.MetaData(), *kept, sa.PrimaryKeyConstraint(*key))
    with op.batch_alter_table("provider_event_receipts", copy_from=table, recreate="always"):
        pass
