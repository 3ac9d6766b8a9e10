"""test and live modes: twin merchant rows, livemode on orders, payments, refunds and events

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:00:00.000000

Every existing merchant becomes the test twin of its account (`account_id` = its own id) and
gets a live twin with a fresh `key_live_…` key, an unknown secret (roll it with
`hazina merchant roll-secret --email … --live`) and its own primary webhook endpoint.
Existing orders, payments, refunds and events are test mode. A provider account saved in
`live` mode moves to the live twin; its sealed secrets are bound to the test twin's id, so
they no longer open and must be entered again: a live key never keeps working from a test key.
"""

import base64
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import hazina.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_MODED_TABLES = ("orders", "payments", "refunds", "events")


def _random_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def _email_unique_name() -> str:
    # 0001 left the constraint unnamed: PostgreSQL named it itself, SQLite's is found by the
    # batch naming convention below.
    return "merchants_email_key" if op.get_bind().dialect.name == "postgresql" else "uq_email"


def upgrade() -> None:
    with op.batch_alter_table(
        "merchants", naming_convention={"uq": "uq_%(column_0_name)s"}
    ) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("livemode", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.drop_constraint(_email_unique_name(), type_="unique")
    for table in _MODED_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("livemode", sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    _add_live_twins()
    with op.batch_alter_table("merchants") as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_unique_constraint("uq_merchants_account_mode", ["account_id", "livemode"])
        batch_op.create_unique_constraint("uq_merchants_email_mode", ["email", "livemode"])


def _add_live_twins() -> None:
    bind = op.get_bind()
    merchants = sa.table(
        "merchants",
        sa.column("id", sa.Uuid()),
        sa.column("account_id", sa.Uuid()),
        sa.column("livemode", sa.Boolean()),
        sa.column("name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("api_key", sa.String()),
        sa.column("api_secret_hash", sa.String()),
        sa.column("is_active", sa.Boolean()),
        sa.column("created_at", hazina.db.types.UtcDateTime(timezone=True)),
        sa.column("updated_at", hazina.db.types.UtcDateTime(timezone=True)),
    )
    endpoints = sa.table(
        "webhook_endpoints",
        sa.column("id", sa.String()),
        sa.column("merchant_id", sa.Uuid()),
        sa.column("secret", sa.String()),
        sa.column("enabled", sa.Boolean()),
        sa.column("is_primary", sa.Boolean()),
        sa.column("created_at", hazina.db.types.UtcDateTime(timezone=True)),
        sa.column("updated_at", hazina.db.types.UtcDateTime(timezone=True)),
    )
    accounts = sa.table(
        "provider_accounts",
        sa.column("merchant_id", sa.Uuid()),
        sa.column("mode", sa.String()),
    )
    rows = bind.execute(
        sa.select(merchants.c.id, merchants.c.name, merchants.c.email, merchants.c.is_active)
    ).all()
    now = datetime.now(UTC)
    for merchant_id, name, email, is_active in rows:
        bind.execute(
            merchants.update()
            .where(merchants.c.id == merchant_id)
            .values(account_id=merchant_id, livemode=False)
        )
        twin = uuid.uuid4()
        unknown_secret = secrets.token_urlsafe(32)
        bind.execute(
            merchants.insert().values(
                id=twin,
                account_id=merchant_id,
                livemode=True,
                name=name,
                email=email,
                api_key="key_live_" + secrets.token_urlsafe(18),
                api_secret_hash=hashlib.sha256(unknown_secret.encode()).hexdigest(),
                is_active=is_active,
                created_at=now,
                updated_at=now,
            )
        )
        bind.execute(
            endpoints.insert().values(
                id=_random_id("we_"),
                merchant_id=twin,
                secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                enabled=True,
                is_primary=True,
                created_at=now,
                updated_at=now,
            )
        )
        bind.execute(
            accounts.update()
            .where(accounts.c.merchant_id == merchant_id, accounts.c.mode == "live")
            .values(merchant_id=twin)
        )


def downgrade() -> None:
    bind = op.get_bind()
    live = sa.text("SELECT id FROM merchants WHERE livemode")
    twins = [row[0] for row in bind.execute(live)]
    for twin in twins:  # each live twin with its rows, children first
        params = {"twin": twin}
        bind.execute(
            sa.text(
                "DELETE FROM webhook_attempts WHERE delivery_id IN "
                "(SELECT id FROM webhook_logs WHERE merchant_id = :twin)"
            ),
            params,
        )
        for table in (
            "webhook_logs",
            "events",
            "refunds",
            "payments",
            "orders",
            "webhook_endpoints",
            "provider_accounts",
            "inbound_events",
            "idempotency_keys",
            "audit_logs",
            "dashboard_users",
        ):
            bind.execute(sa.text(f"DELETE FROM {table} WHERE merchant_id = :twin"), params)  # noqa: S608
        bind.execute(sa.text("DELETE FROM merchants WHERE id = :twin"), params)
    with op.batch_alter_table("merchants") as batch_op:
        batch_op.drop_constraint("uq_merchants_email_mode", type_="unique")
        batch_op.drop_constraint("uq_merchants_account_mode", type_="unique")
        batch_op.drop_column("livemode")
        batch_op.drop_column("account_id")
        batch_op.create_unique_constraint(_email_unique_name(), ["email"])
    for table in _MODED_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("livemode")
