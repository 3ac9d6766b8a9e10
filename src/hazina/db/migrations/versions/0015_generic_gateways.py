"""generic_gateways

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 04:30:00.000000

Reserved for #13 Stripe PaymentIntents and generic gateways: fill in upgrade() and downgrade() and replace this paragraph with why.
"""

from collections.abc import Sequence

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
