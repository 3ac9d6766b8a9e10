"""capture and refund outcomes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000

Payments learn how they are captured (`capture_method`: `automatic`, or `manual` for
authorise-now-capture-later), how much a manual capture took (`amount_captured`) and when an
uncaptured authorisation expired; refunds learn why they failed. Existing payments were all
captured automatically by their provider (or settle in full in the sandbox), so the server
default makes every existing row valid as it is.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "capture_method", sa.String(length=10), server_default="automatic", nullable=False
            )
        )
        batch_op.add_column(sa.Column("amount_captured", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "authorization_expired_at",
                hazina.db.types.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("authorization_expired_at")
        batch_op.drop_column("amount_captured")
        batch_op.drop_column("capture_method")
