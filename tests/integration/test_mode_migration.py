"""Migration 0007 (test and live modes) on data written before it, on SQLite and PostgreSQL.

A database at 0006 gets a merchant with an order, a payment and two provider accounts (one saved
in live mode, one in test mode) written with plain SQL, as the 0006 schema had them. After the
upgrade the merchant is its account's test twin, a live twin exists with live keys and its own
primary webhook endpoint, the old rows are test mode, and the live provider account belongs to
the live twin. The downgrade back to 0006 works and leaves the original rows.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from hazina.db.database import Database
from hazina.db.schema import downgrade, is_current, migrate

MERCHANT_ID = uuid.UUID("7d0c4b8e-2f3a-4c1d-9e5f-0a1b2c3d4e5f")
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

# The 0006 shapes of the rows written, only the columns the test sets or reads.
merchants = sa.table(
    "merchants",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("email", sa.String()),
    sa.column("api_key", sa.String()),
    sa.column("api_secret_hash", sa.String()),
    sa.column("is_active", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
orders = sa.table(
    "orders",
    sa.column("id", sa.String()),
    sa.column("merchant_id", sa.Uuid()),
    sa.column("amount", sa.BigInteger()),
    sa.column("currency", sa.String()),
    sa.column("status", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
payments = sa.table(
    "payments",
    sa.column("id", sa.String()),
    sa.column("order_id", sa.String()),
    sa.column("merchant_id", sa.Uuid()),
    sa.column("amount", sa.BigInteger()),
    sa.column("currency", sa.String()),
    sa.column("method", sa.String()),
    sa.column("status", sa.String()),
    sa.column("vpa", sa.String()),
    sa.column("captured", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
provider_accounts = sa.table(
    "provider_accounts",
    sa.column("id", sa.String()),
    sa.column("merchant_id", sa.Uuid()),
    sa.column("provider", sa.String()),
    sa.column("mode", sa.String()),
    sa.column("secrets", sa.JSON()),
    sa.column("hints", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
webhook_endpoints = sa.table(
    "webhook_endpoints",
    sa.column("id", sa.String()),
    sa.column("merchant_id", sa.Uuid()),
    sa.column("url", sa.String()),
    sa.column("secret", sa.String()),
    sa.column("enabled", sa.Boolean()),
    sa.column("is_primary", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
# Columns 0007 adds, read after the upgrade.
moded_merchants = sa.table(
    "merchants",
    sa.column("id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("livemode", sa.Boolean()),
    sa.column("email", sa.String()),
    sa.column("name", sa.String()),
    sa.column("api_key", sa.String()),
    sa.column("api_secret_hash", sa.String()),
    sa.column("is_active", sa.Boolean()),
)


def moded(name: str) -> Any:
    return sa.table(name, sa.column("id", sa.String()), sa.column("livemode", sa.Boolean()))


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _columns(table: str) -> Any:
    def read(connection: Connection) -> set[str]:
        return {str(column["name"]) for column in sa.inspect(connection).get_columns(table)}

    return read


def _seed(connection: Connection) -> None:
    times = {"created_at": NOW, "updated_at": NOW}
    connection.execute(
        merchants.insert().values(
            id=MERCHANT_ID,
            name="Old Shop",
            email="old@example.com",
            api_key="key_test_oldshop0001",
            api_secret_hash="0" * 64,
            is_active=True,
            **times,
        )
    )
    connection.execute(
        webhook_endpoints.insert().values(
            id="we_oldshopPrimary01",
            merchant_id=MERCHANT_ID,
            url="https://old.example.com/hook",
            secret="whsec_oldshop",
            enabled=True,
            is_primary=True,
            **times,
        )
    )
    connection.execute(
        orders.insert().values(
            id="order_oldshop000000001",
            merchant_id=MERCHANT_ID,
            amount=50000,
            currency="INR",
            status="paid",
            **times,
        )
    )
    connection.execute(
        payments.insert().values(
            id="pay_oldshop0000000001",
            order_id="order_oldshop000000001",
            merchant_id=MERCHANT_ID,
            amount=50000,
            currency="INR",
            method="upi",
            status="success",
            vpa="user@paytm",
            captured=True,
            **times,
        )
    )
    for account_id, provider, mode in (
        ("pa_oldshopLive00001", "stripe", "live"),
        ("pa_oldshopTest00001", "clickpesa", "test"),
    ):
        connection.execute(
            provider_accounts.insert().values(
                id=account_id,
                merchant_id=MERCHANT_ID,
                provider=provider,
                mode=mode,
                secrets={"secret_key": "sealed"},
                hints={"secret_key": None},
                **times,
            )
        )


async def test_0007_turns_existing_merchants_into_test_twins_with_live_twins(
    fresh_db: Database,
) -> None:
    await migrate(fresh_db, "0006")
    async with fresh_db.engine.begin() as connection:
        await connection.run_sync(_seed)
    await migrate(fresh_db)  # what `hazina migrate` runs
    assert await is_current(fresh_db)

    async with fresh_db.engine.connect() as connection:
        twins = (
            await connection.execute(
                sa.select(moded_merchants).order_by(moded_merchants.c.livemode)
            )
        ).all()
        assert len(twins) == 2
        test, live = twins
        assert test.id == MERCHANT_ID
        assert test.account_id == MERCHANT_ID
        assert test.livemode is False
        assert test.api_key == "key_test_oldshop0001"
        assert live.livemode is True
        assert live.account_id == MERCHANT_ID
        assert live.id != MERCHANT_ID
        assert live.api_key.startswith("key_live_")
        assert len(live.api_key) > len("key_live_")
        assert (live.email, live.name, live.is_active) == ("old@example.com", "Old Shop", True)
        assert live.api_secret_hash != test.api_secret_hash

        endpoints = (
            await connection.execute(
                sa.select(
                    webhook_endpoints.c.id,
                    webhook_endpoints.c.merchant_id,
                    webhook_endpoints.c.url,
                    webhook_endpoints.c.secret,
                    webhook_endpoints.c.is_primary,
                    webhook_endpoints.c.enabled,
                )
            )
        ).all()
        by_owner = {row.merchant_id: row for row in endpoints}
        assert len(endpoints) == 2
        assert by_owner[MERCHANT_ID].id == "we_oldshopPrimary01"
        assert by_owner[MERCHANT_ID].url == "https://old.example.com/hook"
        live_endpoint = by_owner[live.id]
        assert live_endpoint.is_primary is True
        assert live_endpoint.enabled is True
        assert live_endpoint.url is None  # the live twin's URL is the merchant's to set
        assert live_endpoint.id.startswith("we_")
        assert live_endpoint.secret.startswith("whsec_")
        assert live_endpoint.secret != "whsec_oldshop"

        for table, row_id in (
            ("orders", "order_oldshop000000001"),
            ("payments", "pay_oldshop0000000001"),
        ):
            rows = moded(table)
            flag = await connection.scalar(sa.select(rows.c.livemode).where(rows.c.id == row_id))
            assert flag is False, table
        accounts = await connection.execute(
            sa.select(provider_accounts.c.id, provider_accounts.c.merchant_id)
        )
        owners = {row.id: row.merchant_id for row in accounts}
        assert owners == {"pa_oldshopLive00001": live.id, "pa_oldshopTest00001": MERCHANT_ID}
        payment_owner = await connection.scalar(
            sa.select(payments.c.merchant_id).where(payments.c.id == "pay_oldshop0000000001")
        )
        assert payment_owner == MERCHANT_ID

    # Both twins exist once: a second live twin for the same account is refused.
    with pytest.raises(sa.exc.IntegrityError):
        async with fresh_db.engine.begin() as connection:
            await connection.execute(
                moded_merchants.insert().values(
                    id=uuid.uuid4(),
                    account_id=MERCHANT_ID,
                    livemode=True,
                    name="Old Shop",
                    email="other@example.com",
                    api_key="key_live_duplicate",
                    api_secret_hash="1" * 64,
                    is_active=True,
                )
            )

    await downgrade(fresh_db, "0006")
    async with fresh_db.engine.connect() as connection:
        assert await connection.run_sync(_revision) == "0006"
        assert "livemode" not in await connection.run_sync(_columns("merchants"))
        assert "account_id" not in await connection.run_sync(_columns("merchants"))
        assert "livemode" not in await connection.run_sync(_columns("orders"))
        left = (await connection.execute(sa.select(merchants.c.id, merchants.c.api_key))).all()
        assert [tuple(row) for row in left] == [(MERCHANT_ID, "key_test_oldshop0001")]
        assert await connection.scalar(sa.select(sa.func.count()).select_from(orders)) == 1
        assert await connection.scalar(sa.select(sa.func.count()).select_from(payments)) == 1
        endpoint_owners = set(await connection.scalars(sa.select(webhook_endpoints.c.merchant_id)))
        assert endpoint_owners == {MERCHANT_ID}
        kept = set(await connection.scalars(sa.select(provider_accounts.c.id)))
        # The live account went with the live twin; the test one stayed.
        assert kept == {"pa_oldshopTest00001"}

    # And up again: the same data migrates once more.
    await migrate(fresh_db)
    async with fresh_db.engine.connect() as connection:
        modes = sorted(
            (await connection.execute(sa.select(moded_merchants.c.livemode))).scalars().all()
        )
        assert modes == [False, True]
