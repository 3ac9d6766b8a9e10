"""Webhook endpoint secrets sealed at rest: stored as vault tokens bound to their row and field,
still signing deliveries that `standardwebhooks` verifies, re-sealed by key rotation, sealed on
the first start after migration 0009, and capped in number per merchant."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import standardwebhooks
from sqlalchemy import select, update

from hazina.bootstrap import Container, start
from hazina.db.database import Database
from hazina.db.models import WebhookEndpoint
from hazina.db.schema import migrate
from hazina.services.key_rotation import rotate_secrets
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.services.webhook_secrets import SecretField, secret_context
from hazina.testing.sink import WebhookSink
from hazina.vault.keyring import KeyRing, generate_key_entry
from hazina.worker import Worker
from tests.conftest import AUTH, TEST_MASTER_KEYS, http_client, make_settings
from tests.databases import postgres_database, postgres_reachable, require_postgres, sqlite_url
from tests.envelopes import assert_error
from tests.waiting import drain

SEEDED_SECRET = "whsec_test_abc123"  # the contract's seeded test merchant's webhook secret


async def primary(db: Database) -> WebhookEndpoint:
    async with db.read() as session:
        endpoint = await session.scalar(
            select(WebhookEndpoint).where(
                WebhookEndpoint.merchant_id == TEST_MERCHANT_ID,
                WebhookEndpoint.is_primary.is_(True),
            )
        )
    assert endpoint is not None
    return endpoint


async def test_the_stored_secret_is_a_token_bound_to_its_row_and_field(
    client: httpx.AsyncClient, container: Container
) -> None:
    config = (await client.get("/api/v1/webhooks/config")).json()
    assert config["webhook_secret"] == SEEDED_SECRET
    row = await primary(container.db)
    assert row.secrets_sealed is True
    assert SEEDED_SECRET not in row.secret
    vault = container.providers.vault
    context = secret_context(TEST_MERCHANT_ID, row.id, SecretField.CURRENT)
    assert vault.decrypt(row.secret, context) == SEEDED_SECRET
    # Copied into the previous-secret field, or read for another endpoint, it does not open.
    with pytest.raises(ValueError, match="does not authenticate"):
        vault.decrypt(row.secret, secret_context(TEST_MERCHANT_ID, row.id, SecretField.PREVIOUS))
    with pytest.raises(ValueError, match="does not authenticate"):
        vault.decrypt(row.secret, secret_context(TEST_MERCHANT_ID, "we_other", SecretField.CURRENT))

    created = await client.post("/api/v1/webhook-endpoints", json={"url": "https://a.example/h"})
    assert created.status_code == 201, created.text
    async with container.db.read() as session:
        stored = await session.get(WebhookEndpoint, created.json()["id"])
    assert stored is not None
    assert stored.secrets_sealed
    assert created.json()["secret"] not in stored.secret


async def test_deliveries_verify_with_standardwebhooks_under_both_secrets(
    client: httpx.AsyncClient, container: Container, worker: Worker, sink: WebhookSink
) -> None:
    await client.put("/api/v1/webhooks/config", json={"webhook_url": sink.url("/hook")})
    regenerated = await client.post("/api/v1/webhooks/regenerate-secret")
    new_secret = regenerated.json()["webhook_secret"]
    assert new_secret != SEEDED_SECRET
    row = await primary(container.db)
    assert row.previous_secret is not None
    assert SEEDED_SECRET not in row.previous_secret

    assert (await client.post("/api/v1/webhooks/test")).status_code == 200
    await drain(worker)
    [received] = sink.at("/hook")
    # The old secret signs beside the new one for a day: receivers holding either verify.
    for secret in (new_secret, SEEDED_SECRET):
        payload = standardwebhooks.Webhook(secret).verify(received.body, received.headers)
        assert payload["event"] == "webhook.test"


async def test_rotation_reseals_endpoint_secrets_under_the_newest_key(
    client: httpx.AsyncClient, container: Container
) -> None:
    await client.post("/api/v1/webhooks/regenerate-secret")
    before = (await client.get("/api/v1/webhooks/config")).json()["webhook_secret"]
    spec = f"{TEST_MASTER_KEYS},{generate_key_entry('next')}"
    ring = KeyRing.parse(spec)
    assert not ring.is_current((await primary(container.db)).secret)

    result = await rotate_secrets(container.db, ring)
    # The seeded merchant's two twins, one primary endpoint each.
    assert (result.endpoints, result.endpoints_rotated) == (2, 2)
    row = await primary(container.db)
    assert row.previous_secret is not None
    assert ring.is_current(row.secret)
    assert ring.is_current(row.previous_secret)
    assert (await rotate_secrets(container.db, ring)).endpoints_rotated == 0

    later = await start(make_settings(container.settings.database_url, master_keys=spec))
    try:
        async with http_client(later, AUTH) as after:
            config = (await after.get("/api/v1/webhooks/config")).json()
        assert config["webhook_secret"] == before
    finally:
        await later.close()


async def test_endpoints_per_merchant_are_capped(container: Container) -> None:
    capped = make_settings(container.settings.database_url, max_webhook_endpoints=3)
    limited = await start(capped)
    try:
        async with http_client(limited, AUTH) as client:
            for n in range(2):  # the primary endpoint is the first of three
                created = await client.post(
                    "/api/v1/webhook-endpoints", json={"url": f"https://a.example/{n}"}
                )
                assert created.status_code == 201, created.text
            refused = await client.post(
                "/api/v1/webhook-endpoints", json={"url": "https://a.example/3"}
            )
            assert_error(
                refused,
                400,
                "BAD_REQUEST_ERROR",
                "A merchant may have at most 3 webhook endpoints; delete one first",
            )
    finally:
        await limited.close()


# --- the upgrade path: rows written before migration 0009 -------------------------------------

MERCHANT_ID = uuid.UUID("2a7d0c4e-5b6f-4a1d-8e9f-0b1c2d3e4f5a")
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEGACY_SECRET = "whsec_bGVnYWN5LXNlY3JldC1iZWZvcmUtMDAwOQ=="
LEGACY_PREVIOUS = "whsec_b2xkLXNlY3JldC1iZWZvcmUtMDAwOQ=="
TYPED = (sa.bindparam("m", type_=sa.Uuid()), sa.bindparam("now", type_=sa.DateTime(timezone=True)))


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    require_postgres(await postgres_reachable())
    async with postgres_database() as url:
        yield url


async def test_plaintext_secrets_from_before_0009_are_sealed_at_start_and_keep_signing(
    fresh_url: str,
) -> None:
    db = Database(fresh_url)
    try:
        await migrate(db, "0008")
        async with db.engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "INSERT INTO merchants (id, account_id, livemode, name, email, api_key,"
                    " api_secret_hash, is_active, created_at, updated_at) VALUES (:m, :m, :f,"
                    " 'Old', 'old@example.com', 'key_test_old0009', 'h', :t, :now, :now)"
                ).bindparams(*TYPED),
                {"m": MERCHANT_ID, "f": False, "t": True, "now": NOW},
            )
            await connection.execute(
                sa.text(
                    "INSERT INTO webhook_endpoints (id, merchant_id, url, secret,"
                    " previous_secret, previous_secret_expires_at, enabled, is_primary,"
                    " created_at, updated_at) VALUES ('we_old0009primary', :m, NULL, :s, :p,"
                    " :later, :t, :t, :now, :now)"
                ).bindparams(*TYPED, sa.bindparam("later", type_=sa.DateTime(timezone=True))),
                {
                    "m": MERCHANT_ID,
                    "s": LEGACY_SECRET,
                    "p": LEGACY_PREVIOUS,
                    "later": datetime(2099, 1, 1, tzinfo=UTC),
                    "t": True,
                    "now": NOW,
                },
            )
        await migrate(db)  # what `hazina migrate` runs: no key ring, so nothing sealed yet
        async with db.read() as session:
            legacy = await session.get(WebhookEndpoint, "we_old0009primary")
        assert legacy is not None
        assert (legacy.secret, legacy.secrets_sealed) == (LEGACY_SECRET, False)
    finally:
        await db.dispose()

    container = await start(make_settings(fresh_url))  # what every process does first
    try:
        async with container.db.read() as session:
            sealed = await session.get(WebhookEndpoint, "we_old0009primary")
        assert sealed is not None
        assert sealed.secrets_sealed
        assert sealed.previous_secret is not None
        assert LEGACY_SECRET not in sealed.secret
        assert LEGACY_PREVIOUS not in sealed.previous_secret
        vault = container.providers.vault
        opened = [
            vault.decrypt(token, secret_context(MERCHANT_ID, sealed.id, field))
            for token, field in (
                (sealed.secret, SecretField.CURRENT),
                (sealed.previous_secret, SecretField.PREVIOUS),
            )
        ]
        assert opened == [LEGACY_SECRET, LEGACY_PREVIOUS]
        # A second start finds nothing left to seal and changes nothing.
        again = await start(make_settings(fresh_url))
        await again.close()
        async with container.db.read() as session:
            unchanged = await session.get(WebhookEndpoint, "we_old0009primary")
        assert unchanged is not None
        assert unchanged.secret == sealed.secret
    finally:
        await container.close()


async def test_an_unsealed_row_written_during_an_upgrade_still_signs(
    client: httpx.AsyncClient, container: Container, worker: Worker, sink: WebhookSink
) -> None:
    """An older process beside a newer one writes plaintext (`secrets_sealed` false by default):
    deliveries keep verifying with it until the next start or rotation seals it."""
    row = await primary(container.db)
    async with container.db.transaction() as session:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == row.id)
            .values(secret=LEGACY_SECRET, secrets_sealed=False, url=sink.url("/old"))
        )
    assert (await client.post("/api/v1/webhooks/test")).status_code == 200
    await drain(worker)
    [received] = sink.at("/old")
    standardwebhooks.Webhook(LEGACY_SECRET).verify(received.body, received.headers)
