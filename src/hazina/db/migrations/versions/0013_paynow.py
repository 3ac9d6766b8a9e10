"""paynow

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:30:00.000000

Reserved for #12 Paynow and EcoCash: fill in upgrade() and downgrade() and replace this paragraph with why.
"""

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
