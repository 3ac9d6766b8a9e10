"""payouts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 04:30:00.000000

Reserved for #15 payouts: fill in upgrade() and downgrade() and replace this paragraph with why.
"""

from collections.abc import Sequence

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
