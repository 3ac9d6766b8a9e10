"""dashboard users

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", hazina.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    with op.batch_alter_table("dashboard_users", schema=None) as batch_op:
        batch_op.create_index("idx_dashboard_users_merchant_id", ["merchant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dashboard_users", schema=None) as batch_op:
        batch_op.drop_index("idx_dashboard_users_merchant_id")
    op.drop_table("dashboard_users")
