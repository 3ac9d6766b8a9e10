"""`/dashboard/providers` and the checkout's provider buttons, over HTTP on both databases."""

import re
import uuid

import httpx
from sqlalchemy import select

from hazina.bootstrap import Container, start
from hazina.db.models import AuditLog
from hazina.domain.gateways import GENERIC
from hazina.services.merchants import TEST_MERCHANT_ID, create_merchant
from tests.conftest import AUTH, http_client, make_settings
from tests.databases import truncate_all
from tests.web.conftest import csrf_of, log_in, post_form
from tests.web.test_dashboard import texts_of

PAGE = "/dashboard/providers"
STRIPE = {
    "mode": "test",
    "secret_key": "sk_test_pagesecret0001",
    "webhook_secret": "whsec_pagewebhook0002",
    "publishable_key": "pk_test_pagepublish0003",
}
CLICKPESA = {"mode": "test", "client_id": "IDpageclient0004", "api_key": "SKpageapikey0005"}
SECRET_VALUES = [v for v in {**STRIPE, **CLICKPESA}.values() if v != "test"]


def method_buttons(page: httpx.Response) -> list[str]:
    return re.findall(r'data-test-id="method-([a-z]+)"', page.text)


def assert_no_secret(page: httpx.Response) -> None:
    shown = [value for value in SECRET_VALUES if value in page.text]
    assert shown == [], shown


async def accounts_of(client: httpx.AsyncClient) -> dict[str, dict[str, object]]:
    response = await client.get("/api/v1/provider-accounts")
    assert response.status_code == 200, response.text
    return {account["provider"]: account for account in response.json()["data"]}


def unconnected(container: Container) -> list[str]:
    """A card per provider the deployment knows, none connected (generic gateways are named
    and listed in a section of their own)."""
    catalogue = container.providers.registry.credential_catalogue()
    return ["not connected" for name in catalogue if name != GENERIC]


def credential_inputs(container: Container) -> int:
    catalogue = container.providers.registry.credential_catalogue()
    return sum(len(fields.names) for name, fields in catalogue.items() if name != GENERIC)


async def test_the_page_saves_masks_and_deletes_an_account(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, container: Container
) -> None:
    empty = await dashboard.get(PAGE)
    assert empty.status_code == 200
    assert '<a href="/dashboard/providers" aria-current="page">Providers</a>' in empty.text
    assert texts_of(empty, "provider-mode") == unconnected(container)
    assert 'data-test-id="delete-provider-button"' not in empty.text

    saved = await post_form(dashboard, PAGE, f"{PAGE}/stripe", STRIPE)
    assert saved.status_code == 303
    assert saved.headers["location"] == PAGE
    account = (await accounts_of(client))["stripe"]
    assert account["mode"] == "test"

    shown = await dashboard.get(PAGE)
    assert "Stripe account saved." in shown.text
    assert_no_secret(shown)
    assert texts_of(shown, "provider-mode") == ["test mode", *unconnected(container)[1:]]
    assert texts_of(shown, "provider-webhook-url") == [account["webhook_url"]]
    assert str(account["webhook_url"]).endswith(f"/hooks/stripe/{account['id']}")
    assert texts_of(shown, "provider-credential") == [
        "configured …0001",
        "configured …0002",
        "configured …0003",
    ]
    # Every credential input is a password input, and none carries a value.
    inputs = re.findall(r"<input[^>]*data-test-id=\"provider-input-[^>]*>", shown.text)
    assert len(inputs) == credential_inputs(container)  # every provider's fields
    assert all('type="password"' in tag and "value=" not in tag for tag in inputs), inputs

    async with container.db.read() as session:
        audit = await session.scalar(
            select(AuditLog).where(AuditLog.action == "provider_account.created")
        )
    assert audit is not None
    assert audit.merchant_id == TEST_MERCHANT_ID
    assert audit.actor.startswith("dashboard_user:")

    deleted = await post_form(dashboard, PAGE, f"{PAGE}/stripe/delete")
    assert deleted.status_code == 303
    assert await accounts_of(client) == {}
    after = await dashboard.get(PAGE)
    assert "Stripe account removed." in after.text
    assert texts_of(after, "provider-mode") == unconnected(container)

    again = await post_form(dashboard, PAGE, f"{PAGE}/stripe/delete")
    assert again.status_code == 404
    assert "Provider account not found" in again.text


async def test_a_refused_form_shows_the_description_and_never_the_secret(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    missing = await post_form(dashboard, PAGE, f"{PAGE}/stripe", {**STRIPE, "webhook_secret": ""})
    assert missing.status_code == 400
    assert "Missing credential fields for stripe: webhook_secret" in missing.text
    assert_no_secret(missing)

    # In test mode the form saves test accounts only: a live one is refused.
    live_key = await post_form(dashboard, PAGE, f"{PAGE}/stripe", {**STRIPE, "mode": "live"})
    assert live_key.status_code == 400
    assert "mode must be test: test keys manage test accounts only" in live_key.text
    assert_no_secret(live_key)
    assert '<option value="live"' not in live_key.text
    assert '<option value="test" selected>' in live_key.text

    # The dashboard's live mode saves live accounts, and refuses test keys there.
    switched = await post_form(dashboard, "/dashboard", "/dashboard/mode", {"livemode": "true"})
    assert switched.status_code == 303
    live_mode = await post_form(dashboard, PAGE, f"{PAGE}/stripe", {**STRIPE, "mode": "live"})
    assert live_mode.status_code == 400
    assert "secret_key must start with sk_live_ or rk_live_ in live mode" in live_mode.text
    assert_no_secret(live_mode)
    assert '<option value="live" selected>' in live_mode.text  # the choice survives, not the keys
    assert '<option value="test"' not in live_mode.text
    back = await post_form(dashboard, "/dashboard", "/dashboard/mode", {"livemode": "false"})
    assert back.status_code == 303

    unknown = await post_form(dashboard, PAGE, f"{PAGE}/nosuchpay", {"mode": "test"})
    assert unknown.status_code == 400
    assert "Unsupported provider" in unknown.text
    assert await accounts_of(client) == {}


async def test_the_forms_need_the_sessions_csrf_token(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    without = await dashboard.post(f"{PAGE}/stripe", data=STRIPE)
    assert without.status_code == 403
    forged = await dashboard.post(f"{PAGE}/stripe", data={**STRIPE, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert await accounts_of(client) == {}

    assert (await post_form(dashboard, PAGE, f"{PAGE}/stripe", STRIPE)).status_code == 303
    delete = await dashboard.post(f"{PAGE}/stripe/delete", data={"csrf_token": "forged"})
    assert delete.status_code == 403
    assert set(await accounts_of(client)) == {"stripe"}


async def test_the_page_needs_a_login(visitor: httpx.AsyncClient) -> None:
    page = await visitor.get(PAGE)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fdashboard%2Fproviders"
    token = csrf_of(await visitor.get("/login"))
    posted = await visitor.post(f"{PAGE}/stripe", data={**STRIPE, "csrf_token": token})
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/login")


async def test_each_merchant_sees_and_changes_only_its_own_accounts(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, container: Container
) -> None:
    other = await create_merchant(
        container.db,
        container.providers.vault,
        name="Other Shop",
        email=f"shop-{uuid.uuid4().hex[:6]}@example.com",
        actor="test",
        owner_password="other-password",
    )
    headers = {"X-Api-Key": other.merchant.api_key, "X-Api-Secret": other.api_secret}
    theirs = {"sk_test_theirsecret9999", "whsec_theirwebhook8888"}
    async with http_client(container, headers) as their_api:
        put = await their_api.put(
            "/api/v1/provider-accounts/stripe",
            json={
                "mode": "test",
                "credentials": {
                    "secret_key": "sk_test_theirsecret9999",
                    "webhook_secret": "whsec_theirwebhook8888",
                },
            },
        )
        assert put.status_code == 200, put.text
        their_account = put.json()

        mine = await dashboard.get(PAGE)
        assert their_account["id"] not in mine.text
        assert "…9999" not in mine.text
        assert [value for value in theirs if value in mine.text] == []
        assert texts_of(mine, "provider-mode") == unconnected(container)

        # Deleting "stripe" from our session finds no account of ours; theirs stays.
        refused = await post_form(dashboard, PAGE, f"{PAGE}/stripe/delete")
        assert refused.status_code == 404
        # Saving ours makes a second account; theirs is unchanged.
        assert (await post_form(dashboard, PAGE, f"{PAGE}/stripe", STRIPE)).status_code == 303
        assert (await accounts_of(their_api))["stripe"] == their_account
        assert (await accounts_of(client))["stripe"]["id"] != their_account["id"]

    # Their owner sees their account, and not ours.
    dashboard.cookies.clear()
    assert (await log_in(dashboard, other.merchant.email, "other-password")).status_code == 303
    page = await dashboard.get(PAGE)
    assert texts_of(page, "provider-webhook-url") == [their_account["webhook_url"]]
    assert texts_of(page, "provider-credential")[:2] == ["configured …9999", "configured …8888"]
    assert_no_secret(page)


async def test_the_checkout_offers_a_provider_once_the_merchant_has_an_account(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, container: Container
) -> None:
    order = (await client.post("/api/v1/orders", json={"amount": 1000})).json()
    before = await anonymous.get("/checkout", params={"order_id": order["id"]})
    assert method_buttons(before) == ["upi", "card"]
    assert "data-provider" not in before.text
    assert 'data-test-id="clickpesa-form"' not in before.text

    put = await client.put(
        "/api/v1/provider-accounts/clickpesa",
        json={"mode": "test", "credentials": {k: v for k, v in CLICKPESA.items() if k != "mode"}},
    )
    assert put.status_code == 200, put.text
    after = await anonymous.get("/checkout", params={"order_id": order["id"]})
    assert method_buttons(after) == ["upi", "card", "clickpesa"]
    assert re.search(
        r'data-test-id="method-clickpesa" data-method="clickpesa" data-has-form="true"'
        r" data-provider>ClickPesa<",
        after.text,
    )
    assert 'form class="stack pay-form" data-test-id="clickpesa-form"' in after.text
    assert_no_secret(after)

    # Another merchant's order: that merchant has no account, so no ClickPesa button.
    other = await create_merchant(
        container.db,
        container.providers.vault,
        name="Other Shop",
        email=f"shop-{uuid.uuid4().hex[:6]}@example.com",
        actor="test",
    )
    headers = {"X-Api-Key": other.merchant.api_key, "X-Api-Secret": other.api_secret}
    async with http_client(container, headers) as their_api:
        their_order = (await their_api.post("/api/v1/orders", json={"amount": 1000})).json()
    theirs = await anonymous.get("/checkout", params={"order_id": their_order["id"]})
    assert method_buttons(theirs) == ["upi", "card"]

    # An unknown order has no mode: not even the sandbox's (test-mode) methods are offered.
    unknown = await anonymous.get("/checkout", params={"order_id": "order_unknown"})
    assert method_buttons(unknown) == []


async def test_a_deployment_default_account_offers_its_provider_to_every_merchant(
    database_url: str,
) -> None:
    settings = make_settings(
        database_url,
        stripe_secret_key="sk_test_deploymentdefault",
        stripe_webhook_secret="whsec_deploymentdefault",
    )
    container = await start(settings)
    try:
        async with http_client(container, AUTH) as client:
            order = (await client.post("/api/v1/orders", json={"amount": 1000})).json()
        async with http_client(container) as anonymous:
            page = await anonymous.get("/checkout", params={"order_id": order["id"]})
        assert method_buttons(page) == ["upi", "card", "stripe"]
        assert re.search(
            r'data-test-id="method-stripe" data-method="stripe" data-has-form="false"'
            r" data-provider>Stripe<",
            page.text,
        )
        assert "deploymentdefault" not in page.text
    finally:
        await truncate_all(container.db)
        await container.close()
