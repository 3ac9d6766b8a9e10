"""payment_links

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 04:30:00.000000

Reserved for #16 payment links, WhatsApp, notifications: fill in upgrade() and downgrade() and replace this paragraph with why.
"""

from collections.abc import Sequence

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
