"""Provider accounts over HTTP: write-only credentials, masks on read, audit rows, tenancy."""

import logging
import secrets
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hazina.bootstrap import Container
from hazina.db.models import AuditLog, ProviderAccount
from hazina.domain.errors import NotFound
from hazina.services.merchants import TEST_MERCHANT_ID, create_merchant
from hazina.services.provider_accounts import (
    CredentialsUnreadable,
    load_access,
)
from tests.envelopes import assert_error
from tests.factories import other_merchant_headers

STRIPE = {
    "secret_key": "sk_test_51HazinaSecretKey000000000000wxyz",
    "webhook_secret": "whsec_HazinaWebhookSecret00000000abcd",
    "publishable_key": "pk_test_51HazinaPublishable0000000pqrs",
}
CLICKPESA = {"client_id": "IDclickpesaClient0001", "api_key": "SKclickpesaApiKey000000000001"}
ALL_SECRETS = [*STRIPE.values(), *CLICKPESA.values()]
URL = "/api/v1/provider-accounts"
STRIPE_LIVE = {
    "secret_key": "sk_live_51HazinaLiveKey0000000000000live",
    "webhook_secret": STRIPE["webhook_secret"],
}
TEST_KEYS_ONLY = (
    "mode must be test: test keys manage test accounts only "
    "(use the live keys, or the dashboard's live mode, for live accounts)"
)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in ALL_SECRETS:
            assert secret not in text


async def put(
    client: httpx.AsyncClient,
    provider: str = "stripe",
    credentials: dict[str, str] | None = None,
    mode: str = "test",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {"mode": mode, "credentials": STRIPE if credentials is None else credentials}
    response = await client.put(f"{URL}/{provider}", json=body, headers=headers)
    assert_no_secret(response.text)
    return response


async def listed(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> Any:
    response = await client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    assert_no_secret(response.text)
    return response.json()["data"]


async def twin_headers(container: Container) -> tuple[dict[str, str], dict[str, str]]:
    """A new merchant's test and live credentials: one account, two modes."""
    suffix = secrets.token_hex(4)
    credentials = await create_merchant(
        container.db,
        container.providers.vault,
        name="Twins",
        email=f"twins-{suffix}@example.com",
        actor="test",
    )
    test = {"X-Api-Key": credentials.merchant.api_key, "X-Api-Secret": credentials.api_secret}
    live = {
        "X-Api-Key": credentials.live_merchant.api_key,
        "X-Api-Secret": credentials.live_api_secret,
    }
    return test, live


async def audit_rows(container: Container) -> list[AuditLog]:
    async with container.db.read() as session:
        rows = await session.scalars(
            select(AuditLog).where(AuditLog.action.like("provider_account.%")).order_by(AuditLog.id)
        )
        return list(rows)


async def test_put_stores_sealed_secrets_and_answers_masks_only(
    client: httpx.AsyncClient, container: Container
) -> None:
    response = await put(client)
    assert response.status_code == 200, response.text
    account = response.json()
    assert set(account) == {
        "id",
        "provider",
        "mode",
        "webhook_url",
        "credentials",
        "created_at",
        "updated_at",
    }
    assert account["id"].startswith("pa_")
    assert account["provider"] == "stripe"
    assert account["mode"] == "test"
    base_url = container.settings.base_url
    assert account["webhook_url"] == f"{base_url}/hooks/stripe/{account['id']}"
    assert account["credentials"] == {
        "secret_key": {"configured": True, "last4": "…wxyz"},
        "webhook_secret": {"configured": True, "last4": "…abcd"},
        "publishable_key": {"configured": True, "last4": "…pqrs"},
    }
    assert await listed(client) == [account]

    async with container.db.read() as session:
        row = await session.get(ProviderAccount, account["id"])
    assert row is not None
    assert_no_secret(repr(row.secrets), repr(row.hints))
    assert all(container.providers.vault.is_current(token) for token in row.secrets.values())

    access = await load_access(
        container.db, container.providers.vault, "stripe", account_id=account["id"]
    )
    assert access.secrets == STRIPE
    assert access.mode == "test"
    by_merchant = await load_access(
        container.db, container.providers.vault, "stripe", merchant_id=TEST_MERCHANT_ID
    )
    assert by_merchant == access
    assert_no_secret(repr(access))


async def test_put_replaces_the_credentials_and_keeps_the_id(
    client: httpx.AsyncClient, container: Container
) -> None:
    first = (await put(client)).json()
    replacement = {
        "secret_key": "sk_test_51HazinaOtherKey00000000000next",
        "webhook_secret": STRIPE["webhook_secret"],
    }
    second = (await put(client, credentials=replacement)).json()
    assert second["id"] == first["id"]
    assert second["webhook_url"] == first["webhook_url"]
    assert second["mode"] == "test"
    assert second["credentials"]["secret_key"] == {"configured": True, "last4": "…next"}
    assert second["credentials"]["publishable_key"] == {"configured": False, "last4": None}
    access = await load_access(
        container.db, container.providers.vault, "stripe", account_id=first["id"]
    )
    assert access.secrets == replacement

    created, updated = await audit_rows(container)
    assert created.action == "provider_account.created"
    assert created.actor == "api"
    assert created.target == f"provider_account:{first['id']}"
    assert created.details is not None
    assert created.details["changed"] == sorted(STRIPE)
    assert updated.action == "provider_account.updated"
    assert updated.details == {
        "provider": "stripe",
        "mode": "test",
        "previous_mode": "test",
        "changed": ["secret_key"],
        "removed": ["publishable_key"],
    }
    assert_no_secret(repr(created.details), repr(updated.details))
    assert replacement["secret_key"] not in repr(updated.details)


async def test_live_credentials_go_to_the_live_twins_own_account(
    client: httpx.AsyncClient, container: Container
) -> None:
    """A test key cannot save a live key; the live keys keep a live account of their own."""
    test, live = await twin_headers(container)
    mine = (await put(client, headers=test)).json()
    refused = await put(client, credentials=STRIPE_LIVE, mode="live", headers=test)
    assert_error(refused, 400, "BAD_REQUEST_ERROR", TEST_KEYS_ONLY)
    response = await put(client, credentials=STRIPE_LIVE, mode="live", headers=live)
    assert response.status_code == 200, response.text
    account = response.json()
    assert account["id"] != mine["id"]
    assert account["mode"] == "live"
    assert account["webhook_url"] != mine["webhook_url"]
    assert account["credentials"]["secret_key"] == {"configured": True, "last4": "…live"}
    assert account["credentials"]["publishable_key"] == {"configured": False, "last4": None}
    # Each twin lists only its own account, in its own mode.
    assert await listed(client, test) == [mine]
    assert await listed(client, live) == [account]
    access = await load_access(
        container.db, container.providers.vault, "stripe", account_id=account["id"]
    )
    assert (access.secrets, access.mode) == (STRIPE_LIVE, "live")
    # A live key without `mode` means a live account; test credentials there are refused.
    no_mode = await client.put(f"{URL}/stripe", json={"credentials": STRIPE_LIVE}, headers=live)
    assert no_mode.status_code == 200, no_mode.text
    assert (no_mode.json()["id"], no_mode.json()["mode"]) == (account["id"], "live")
    wrong_prefix = await put(client, credentials=STRIPE, mode="live", headers=live)
    assert_error(
        wrong_prefix,
        400,
        "BAD_REQUEST_ERROR",
        "secret_key must start with sk_live_ or rk_live_ in live mode",
    )
    test_mode = await put(client, credentials=STRIPE, mode="test", headers=live)
    assert_error(
        test_mode,
        400,
        "BAD_REQUEST_ERROR",
        "mode must be live: live keys manage live accounts only "
        "(use the test keys, or the dashboard's test mode, for test accounts)",
    )
    assert await listed(client, live) == [no_mode.json()]


async def test_clickpesa_optional_checksum_key(client: httpx.AsyncClient) -> None:
    response = await put(client, "clickpesa", CLICKPESA)
    assert response.status_code == 200, response.text
    credentials = response.json()["credentials"]
    assert credentials["client_id"] == {"configured": True, "last4": "…0001"}
    assert credentials["checksum_key"] == {"configured": False, "last4": None}
    providers = [account["provider"] for account in await listed(client)]
    assert providers == ["clickpesa"]
    await put(client)
    assert [account["provider"] for account in await listed(client)] == ["clickpesa", "stripe"]


async def test_short_secrets_show_no_last_four(client: httpx.AsyncClient) -> None:
    response = await put(client, "clickpesa", {"client_id": "ID1", "api_key": "short-key"})
    assert response.json()["credentials"]["client_id"] == {"configured": True, "last4": None}


@pytest.mark.parametrize(
    ("provider", "mode", "credentials", "description"),
    [
        (
            "nosuchpay",
            "test",
            STRIPE,
            "Unsupported provider 'nosuchpay': use one of clickpesa, ecocash, "
            "paynow, paypal, stripe, whatsapp",
        ),
        ("stripe", "sandbox", STRIPE, TEST_KEYS_ONLY),
        (
            "stripe",
            "test",
            {"secret_key": STRIPE["secret_key"]},
            "Missing credential fields for stripe: webhook_secret",
        ),
        (
            "stripe",
            "test",
            {**STRIPE, "password": "hunter2hunter2"},
            "Unknown credential fields for stripe: password "
            "(accepted: secret_key, webhook_secret, publishable_key)",
        ),
        (
            "stripe",
            "test",
            {**STRIPE, "secret_key": "sk_live_51HazinaSecretKey000000000000wxyz"},
            "secret_key must start with sk_test_ or rk_test_ in test mode",
        ),
        # A test key cannot save a live account, whatever its credentials.
        ("stripe", "live", STRIPE, TEST_KEYS_ONLY),
        ("stripe", "live", STRIPE_LIVE, TEST_KEYS_ONLY),
        (
            "stripe",
            "test",
            {**STRIPE, "webhook_secret": "HazinaWebhookSecret00000000abcd"},
            "webhook_secret must start with whsec_ in test mode",
        ),
        (
            "clickpesa",
            "test",
            {"client_id": "ID 1", "api_key": "x"},
            "client_id must be at most 4096 characters without spaces",
        ),
        (
            "clickpesa",
            "test",
            {"client_id": "", "api_key": "x"},
            "Missing credential fields for clickpesa: client_id",
        ),
    ],
)
async def test_bad_input_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient,
    container: Container,
    provider: str,
    mode: str,
    credentials: dict[str, str],
    description: str,
) -> None:
    before = (await put(client, "clickpesa", CLICKPESA)).json()
    response = await put(client, provider, credentials, mode)
    assert_error(response, 400, "BAD_REQUEST_ERROR", description)
    assert await listed(client) == [before]
    assert len(await audit_rows(container)) == 1


async def test_malformed_bodies_are_400_without_echoing_values(client: httpx.AsyncClient) -> None:
    too_long = await client.put(
        f"{URL}/stripe",
        json={"mode": "test", "credentials": {**STRIPE, "secret_key": "sk_test_" + "x" * 5000}},
    )
    assert too_long.status_code == 400
    assert "xxxx" not in too_long.text
    assert_no_secret(too_long.text)
    no_credentials = await client.put(f"{URL}/stripe", json={"mode": "test"})
    assert_error(no_credentials, 400, "BAD_REQUEST_ERROR", "credentials: Field required")
    long_mode = await client.put(f"{URL}/stripe", json={"mode": "x" * 11, "credentials": STRIPE})
    assert long_mode.status_code == 400
    assert long_mode.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert_no_secret(long_mode.text)
    # Without `mode`, the account takes the key's own mode.
    no_mode = await client.put(f"{URL}/stripe", json={"credentials": STRIPE})
    assert no_mode.status_code == 200, no_mode.text
    assert no_mode.json()["mode"] == "test"
    assert_no_secret(no_mode.text)


async def test_delete_removes_the_account_and_audits_it(
    client: httpx.AsyncClient, container: Container
) -> None:
    account = (await put(client)).json()
    deleted = await client.delete(f"{URL}/stripe")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert await listed(client) == []
    assert_error(
        await client.delete(f"{URL}/stripe"), 404, "NOT_FOUND_ERROR", "Provider account not found"
    )
    with pytest.raises(NotFound):
        await load_access(
            container.db, container.providers.vault, "stripe", account_id=account["id"]
        )
    *_, row = await audit_rows(container)
    assert row.action == "provider_account.deleted"
    assert row.details == {"provider": "stripe", "removed": sorted(STRIPE)}


async def test_requires_credentials(anonymous: httpx.AsyncClient) -> None:
    for response in (
        await anonymous.get(URL),
        await anonymous.put(f"{URL}/stripe", json={"mode": "test", "credentials": STRIPE}),
        await anonymous.delete(f"{URL}/stripe"),
        await anonymous.get("/api/v1/audit-logs"),
    ):
        assert_error(response, 401, "AUTHENTICATION_ERROR", "Invalid API credentials")


async def test_another_merchant_can_neither_see_nor_delete_the_account(
    client: httpx.AsyncClient, container: Container
) -> None:
    mine = (await put(client)).json()
    other = await other_merchant_headers(container)
    assert await listed(client, other) == []
    assert_error(
        await client.delete(f"{URL}/stripe", headers=other),
        404,
        "NOT_FOUND_ERROR",
        "Provider account not found",
    )
    audit = (await client.get("/api/v1/audit-logs", headers=other)).json()
    assert not any(entry["target"] == f"provider_account:{mine['id']}" for entry in audit["data"])

    theirs = (await put(client, headers=other)).json()
    assert theirs["id"] != mine["id"]
    assert await listed(client) == [mine]
    with pytest.raises(NotFound):
        # The hook route's lookup: the id and the merchant must both match.
        await load_access(
            container.db,
            container.providers.vault,
            "stripe",
            merchant_id=TEST_MERCHANT_ID,
            account_id=theirs["id"],
        )


async def test_a_ciphertext_copied_into_another_merchants_row_does_not_decrypt(
    client: httpx.AsyncClient, container: Container
) -> None:
    mine = (await put(client)).json()
    theirs = (await put(client, headers=await other_merchant_headers(container))).json()
    async with container.db.transaction() as session:
        source = await session.get(ProviderAccount, mine["id"])
        assert source is not None
        await session.execute(
            update(ProviderAccount)
            .where(ProviderAccount.id == theirs["id"])
            .values(secrets=dict(source.secrets))
        )
    with pytest.raises(CredentialsUnreadable, match=f"provider account {theirs['id']}"):
        await load_access(
            container.db, container.providers.vault, "stripe", account_id=theirs["id"]
        )
    access = await load_access(
        container.db, container.providers.vault, "stripe", account_id=mine["id"]
    )
    assert access.secrets == STRIPE


async def test_audit_logs_list_credential_changes_newest_first(
    client: httpx.AsyncClient, container: Container
) -> None:
    await put(client)
    await put(client, "clickpesa", CLICKPESA)
    await client.delete(f"{URL}/stripe")
    await client.post("/api/v1/webhooks/regenerate-secret")

    response = await client.get("/api/v1/audit-logs", params={"limit": 3})
    assert response.status_code == 200
    assert_no_secret(response.text)
    page = response.json()
    assert set(page) == {"data", "total", "limit", "offset"}
    assert page["limit"] == 3
    assert page["offset"] == 0
    # The seed's api_key.created and dashboard_user.created, three credential changes, one
    # secret regeneration.
    assert page["total"] == 6
    assert [entry["action"] for entry in page["data"]] == [
        "webhook_secret.regenerated",
        "provider_account.deleted",
        "provider_account.created",
    ]
    entry = page["data"][1]
    assert set(entry) == {"id", "actor", "action", "target", "details", "created_at"}
    assert entry["actor"] == "api"
    assert entry["target"].startswith("provider_account:pa_")
    rest = (await client.get("/api/v1/audit-logs", params={"offset": 3})).json()
    assert [entry["action"] for entry in rest["data"]] == [
        "provider_account.created",
        "dashboard_user.created",
        "api_key.created",
    ]


async def test_no_secret_reaches_a_log_line(
    client: httpx.AsyncClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await put(client)
        await put(client, "clickpesa", CLICKPESA)
        await listed(client)
        await client.get("/api/v1/audit-logs")
        access = await load_access(
            container.db, container.providers.vault, "stripe", merchant_id=TEST_MERCHANT_ID
        )
        logging.getLogger("hazina").info("loaded %r", access)
        await put(client, "stripe", {"secret_key": STRIPE["secret_key"]})
        await client.delete(f"{URL}/clickpesa")
    assert caplog.records
    assert_no_secret(caplog.text)


async def test_unknown_account_ids_are_not_found(container: Container) -> None:
    with pytest.raises(NotFound):
        await load_access(
            container.db, container.providers.vault, "stripe", account_id="pa_0000000000000000"
        )
    with pytest.raises(NotFound):
        await load_access(
            container.db, container.providers.vault, "stripe", merchant_id=uuid.uuid4()
        )
