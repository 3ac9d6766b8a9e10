"""shared login limits and session versions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00.000000

`login_attempts` counts failed dashboard logins for every process at once (it was a dictionary in
each process). `dashboard_users.session_version` lets logging out or a password change end every
session of a user; existing users start at 0, so sessions signed before the upgrade (which carry
no version) are asked to log in once more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("dashboard_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("dashboard_users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
    op.drop_table("login_attempts")
