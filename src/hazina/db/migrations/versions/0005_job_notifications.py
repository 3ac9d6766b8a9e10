"""job notifications by trigger

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:35:00.000000

On PostgreSQL every INSERT into `jobs` notifies `hazina_jobs` (once per statement; PostgreSQL
folds identical notifications of one transaction into one, delivered at commit), so enqueueing
a job costs no round trip of its own. SQLite has no NOTIFY: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION hazina_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('hazina_jobs', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs "
        "FOR EACH STATEMENT EXECUTE FUNCTION hazina_notify_jobs()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS jobs_notify ON jobs")
    op.execute("DROP FUNCTION IF EXISTS hazina_notify_jobs()")
