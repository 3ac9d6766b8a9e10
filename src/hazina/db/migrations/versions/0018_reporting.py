"""reporting

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 04:30:00.000000

Reserved for #14 reporting (transactions filters, exports): fill in upgrade() and downgrade() and replace this paragraph with why.
"""

from collections.abc import Sequence

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
