"""generic_gateways

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:30:00.000000

Generic gateways (any payment website that signs its webhooks) are provider accounts of kind
`generic`, and a merchant may have several: each has a `name` (its method is `generic:{name}`),
so the one-account-per-provider constraint becomes one per (provider, name), every existing
account keeping the name `''`. `settings` holds what is not secret (the redirect URL template);
`previous_secret_expires_at` ends the overlap after a signing secret is rotated.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provider_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name", sa.String(length=40), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("settings", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "previous_secret_expires_at",
                hazina.db.types.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.drop_constraint("uq_provider_accounts_merchant_provider", type_="unique")
        batch_op.create_unique_constraint(
            "uq_provider_accounts_merchant_provider_name", ["merchant_id", "provider", "name"]
        )


def downgrade() -> None:
    # Without names a merchant keeps one account per provider: its generic gateways (and the
    # payments' link to them) cannot survive, so a downgrade refuses while any exists.
    bind = op.get_bind()
    named = bind.execute(
        sa.text("SELECT count(*) FROM provider_accounts WHERE name <> ''")
    ).scalar_one()
    if named:
        raise RuntimeError(
            f"{named} generic gateway accounts exist: a downgrade below 0013 would lose them"
        )
    with op.batch_alter_table("provider_accounts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_provider_accounts_merchant_provider_name", type_="unique")
        batch_op.create_unique_constraint(
            "uq_provider_accounts_merchant_provider", ["merchant_id", "provider"]
        )
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("settings")
        batch_op.drop_column("name")
