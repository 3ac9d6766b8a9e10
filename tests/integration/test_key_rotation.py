"""Key rotation: every secret re-sealed under the newest key, resumably; and the CLI around it."""

import asyncio
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hazina.bootstrap import Container, start
from hazina.cli import main
from hazina.db.database import Database
from hazina.db.models import AuditLog, ProviderAccount
from hazina.providers.clickpesa import ClickPesaProvider
from hazina.providers.stripe import StripeProvider
from hazina.services.key_rotation import rotate_secrets
from hazina.services.merchants import TEST_MERCHANT_ID, create_merchant
from hazina.services.provider_accounts import load_access, put_account
from hazina.vault.keyring import KeyRing, generate_key_entry
from tests.conftest import TEST_MASTER_KEYS, make_settings

STRIPE = {
    "secret_key": "sk_test_51HazinaRotation00000000000001",
    "webhook_secret": "whsec_HazinaRotation000000000000001",
}
CLICKPESA = {"client_id": "IDRotation0001", "api_key": "SKRotation000000000001"}

# What the deployment's adapters declare an account of each provider holds.
CATALOGUE = {p.name: p.credentials for p in (StripeProvider, ClickPesaProvider)}


async def seed_accounts(db: Database, vault: KeyRing) -> list[uuid.UUID]:
    """Three merchants, each with a Stripe and a ClickPesa account: six accounts in all."""
    merchants = [TEST_MERCHANT_ID]
    for n in range(2):
        created = await create_merchant(
            db, vault, name=f"M{n}", email=f"rot{n}@example.com", actor="t"
        )
        merchants.append(created.merchant.id)
    for merchant_id in merchants:
        for provider, secrets in (("stripe", STRIPE), ("clickpesa", CLICKPESA)):
            await put_account(
                db,
                vault,
                merchant_id,
                provider,
                "test",
                secrets,
                "test",
                livemode=False,
                base_url="http://h",
                catalogue=CATALOGUE,
            )
    return merchants


async def tokens(db: Database) -> list[str]:
    async with db.read() as session:
        accounts = await session.scalars(select(ProviderAccount))
        return [str(token) for account in accounts for token in account.secrets.values()]


def rotated_ring() -> KeyRing:
    return KeyRing.parse(f"{TEST_MASTER_KEYS},{generate_key_entry('next')}")


async def test_rotation_reseals_everything_once_and_secrets_survive(
    container: Container,
) -> None:
    merchants = await seed_accounts(container.db, KeyRing.parse(TEST_MASTER_KEYS))
    ring = rotated_ring()
    assert not any(ring.is_current(token) for token in await tokens(container.db))

    progress: list[tuple[int, int]] = []
    result = await rotate_secrets(container.db, ring, lambda *step: progress.append(step))
    assert (result.accounts, result.accounts_rotated, result.secrets_rotated) == (6, 6, 12)
    assert progress == [(done, 6) for done in range(1, 7)]
    assert all(ring.is_current(token) for token in await tokens(container.db))
    for merchant_id in merchants:
        stripe = await load_access(container.db, ring, "stripe", merchant_id=merchant_id)
        clickpesa = await load_access(container.db, ring, "clickpesa", merchant_id=merchant_id)
        assert stripe.secrets == STRIPE
        assert clickpesa.secrets == CLICKPESA

    again = await rotate_secrets(container.db, ring)
    assert (again.accounts, again.accounts_rotated, again.secrets_rotated) == (6, 0, 0)

    async with container.db.read() as session:
        audits = list(
            await session.scalars(
                select(AuditLog)
                .where(AuditLog.action == "vault.keys_rotated")
                .order_by(AuditLog.id)
            )
        )
    # Three merchants, two twins each: six primary webhook endpoints, re-sealed once.
    assert [audit.details for audit in audits] == [
        {
            "accounts": 6,
            "accounts_rotated": 6,
            "secrets_rotated": 12,
            "webhook_endpoints": 6,
            "webhook_endpoints_rotated": 6,
        },
        {
            "accounts": 6,
            "accounts_rotated": 0,
            "secrets_rotated": 0,
            "webhook_endpoints": 6,
            "webhook_endpoints_rotated": 0,
        },
    ]
    assert all(audit.merchant_id is None and audit.actor == "cli" for audit in audits)


async def test_an_interrupted_rotation_resumes_where_it_stopped(container: Container) -> None:
    await seed_accounts(container.db, KeyRing.parse(TEST_MASTER_KEYS))
    ring = rotated_ring()

    def stop_after_two(done: int, _total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await rotate_secrets(container.db, ring, stop_after_two)
    current = [ring.is_current(token) for token in await tokens(container.db)]
    assert current.count(True) == 4  # two accounts, two secrets each, committed

    resumed = await rotate_secrets(container.db, ring)
    assert (resumed.accounts_rotated, resumed.secrets_rotated) == (4, 8)
    assert all(ring.is_current(token) for token in await tokens(container.db))


async def test_rotation_stops_on_a_secret_no_key_opens(container: Container) -> None:
    stranger = KeyRing.parse(generate_key_entry("lost"))
    await put_account(
        container.db,
        stranger,
        TEST_MERCHANT_ID,
        "stripe",
        "test",
        STRIPE,
        "t",
        livemode=False,
        base_url="h",
        catalogue=CATALOGUE,
    )
    with pytest.raises(
        ValueError, match=r"of provider account pa_\w+ does not decrypt: unknown key id"
    ):
        await rotate_secrets(container.db, rotated_ring())


def test_keys_generate_prints_an_entry_for_the_ring() -> None:
    result = CliRunner().invoke(main, ["keys", "generate", "--kid", "k2"])
    assert result.exit_code == 0, result.output
    entry = result.stdout.strip()
    assert KeyRing.parse(entry).current_kid == "k2"
    assert "HAZINA_MASTER_KEYS" in result.stderr
    refused = CliRunner().invoke(main, ["keys", "generate", "--kid", "no:colons"])
    assert refused.exit_code == 1
    assert "key id must be" in refused.output


def test_keys_rotate_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite only: the command runs its own event loop, as it does from a shell."""
    monkeypatch.chdir(tmp_path)  # away from any .env
    url = f"sqlite+aiosqlite:///{tmp_path / 'hazina.db'}"
    two_keys = f"{TEST_MASTER_KEYS},{generate_key_entry('next')}"

    async def seed() -> None:
        container = await start(make_settings(url))
        try:
            await seed_accounts(container.db, KeyRing.parse(TEST_MASTER_KEYS))
        finally:
            await container.close()

    asyncio.run(seed())
    env = {"HAZINA_DATABASE_URL": url, "HAZINA_MASTER_KEYS": two_keys}
    first = CliRunner().invoke(main, ["keys", "rotate"], env=env)
    assert first.exit_code == 0, first.output
    assert "6 accounts examined, 6 re-encrypted (12 secrets)" in first.stdout
    assert "6/6" in first.stderr  # the progress bar
    second = CliRunner().invoke(main, ["keys", "rotate"], env=env)
    assert "6 accounts examined, 0 re-encrypted (0 secrets)" in second.stdout

    async def check() -> None:
        container = await start(make_settings(url, master_keys=two_keys))
        try:
            assert all(
                container.providers.vault.is_current(token) for token in await tokens(container.db)
            )
            access = await load_access(
                container.db, container.providers.vault, "stripe", merchant_id=TEST_MERCHANT_ID
            )
            assert access.secrets == STRIPE
        finally:
            await container.close()

    asyncio.run(check())

    production = {
        "HAZINA_DATABASE_URL": url,
        "HAZINA_ENV": "production",
        "HAZINA_MASTER_KEYS": "",
        "HAZINA_SESSION_SECRET": "s" * 32,
    }
    refused = CliRunner().invoke(main, ["keys", "rotate"], env=production)
    assert refused.exit_code == 1
    assert "HAZINA_MASTER_KEYS is required in production" in refused.output
