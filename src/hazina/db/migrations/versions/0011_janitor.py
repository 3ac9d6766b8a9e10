"""janitor

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 11:00:00.000000

The janitor job re-enqueues itself, and every starting worker makes sure one is scheduled: a
partial unique index lets at most one janitor job be pending or running at a time, so many
workers starting together still schedule one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.SINGLETON_JOB_PREDICATE as of this revision.
_PREDICATE = "kind = 'janitor' AND status IN ('pending', 'processing')"


def upgrade() -> None:
    op.create_index(
        "uq_jobs_live_singleton",
        "jobs",
        ["kind"],
        unique=True,
        postgresql_where=sa.text(_PREDICATE),
        sqlite_where=sa.text(_PREDICATE),
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_live_singleton", table_name="jobs")
