"""sealed webhook secrets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000

Webhook endpoint secrets become vault tokens, longer than the 100 characters a plaintext
`whsec_…` needed, so both columns become TEXT. A migration cannot reach the key ring (it lives in
the environment of the processes, not in the database), so this revision only marks every
existing row `secrets_sealed = false`; the application seals them with the ring before it serves
(`bootstrap.start`, every `hazina serve` / `hazina worker`), and `hazina keys rotate` does too.
Until then the plaintext keeps signing, so deliveries never stop during an upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=100), type_=sa.Text(), existing_nullable=False
        )
        batch_op.alter_column(
            "previous_secret",
            existing_type=sa.String(length=100),
            type_=sa.Text(),
            existing_nullable=True,
        )
        batch_op.add_column(
            sa.Column("secrets_sealed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    # Sealed tokens cannot be opened here (no key ring) and do not fit the old columns: a
    # downgrade is only possible while no secret has been sealed yet.
    bind = op.get_bind()
    sealed = bind.execute(
        sa.text("SELECT count(*) FROM webhook_endpoints WHERE secrets_sealed")
    ).scalar_one()
    if sealed:
        raise RuntimeError(
            f"{sealed} webhook endpoints hold sealed secrets: "
            "a downgrade below 0009 would lose them"
        )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("secrets_sealed")
        batch_op.alter_column(
            "previous_secret",
            existing_type=sa.Text(),
            type_=sa.String(length=100),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "secret", existing_type=sa.Text(), type_=sa.String(length=100), existing_nullable=False
        )
