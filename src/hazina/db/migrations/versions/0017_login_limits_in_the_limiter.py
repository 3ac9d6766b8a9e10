"""login limits in the rate limiter

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 12:00:00.000000

Dashboard login attempts are counted by the one rate limiter every other limit uses (moving
windows in memory, or in Redis with HAZINA_REDIS_URL), so `login_attempts` (migration 0010) goes.
Its counts were short-lived windows: nothing is carried over. The downgrade recreates the table
empty, as 0010 made it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("login_attempts")


def downgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", hazina.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
