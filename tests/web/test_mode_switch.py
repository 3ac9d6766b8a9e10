"""The dashboard's test-mode switch over HTTP, on SQLite and PostgreSQL: the TEST MODE banner in
test mode only, every page showing the chosen twin's data, and the switch guarded by CSRF."""

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hazina.bootstrap import Container
from hazina.db.models import Payment
from hazina.services.merchants import (
    TEST_MERCHANT_ID,
    MerchantIdentity,
    find_twin,
    roll_api_secret,
)
from tests.conftest import AUTH
from tests.factories import pending_payment
from tests.web.conftest import csrf_of

BANNER = 'data-test-id="test-mode-banner"'
LIVE_WEBHOOK = "https://live.example.com/hazina"
TEST_WEBHOOK = "https://test.example.com/hazina"


def texts_of(page: httpx.Response, test_id: str) -> list[str]:
    found = re.findall(rf'data-test-id="{test_id}"[^>]*>(.*?)</', page.text, re.DOTALL)
    return [re.sub(r"<[^>]+>", "", text).strip() for text in found]


def payment_rows(page: httpx.Response) -> list[str]:
    return re.findall(r'data-test-id="transaction-row" data-payment-id="([^"]+)"', page.text)


async def switch(
    dashboard: httpx.AsyncClient, *, livemode: bool, page: str = "/dashboard"
) -> httpx.Response:
    token = csrf_of(await dashboard.get(page))
    return await dashboard.post(
        "/dashboard/mode",
        data={"csrf_token": token, "livemode": "true" if livemode else "false"},
        headers={"Referer": f"http://hazina.test{page}"},
    )


async def live_payment(
    client: httpx.AsyncClient, container: Container, twin: MerchantIdentity
) -> dict[str, Any]:
    """A live order over the API and a successful live payment written to the database: a live
    key cannot pay with the sandbox, and the dashboard only reads the row."""
    secret = await roll_api_secret(container.db, twin.id, actor="test", cache=container.credentials)
    headers = {"X-Api-Key": twin.api_key, "X-Api-Secret": secret}
    order = await client.post(
        "/api/v1/orders", json={"amount": 777_700, "currency": "INR"}, headers=headers
    )
    assert order.status_code == 201, order.text
    assert order.json()["livemode"] is True
    configured = await client.put(
        "/api/v1/webhooks/config", json={"webhook_url": LIVE_WEBHOOK}, headers=headers
    )
    assert configured.status_code == 200, configured.text
    async with container.db.transaction() as session:
        session.add(
            Payment(
                id="pay_livedashboard0001",
                order_id=order.json()["id"],
                merchant_id=twin.id,
                livemode=True,
                amount=777_700,
                currency="INR",
                method="stripe",
                provider="stripe",
                status="success",
                captured=True,
            )
        )
    async with container.db.read() as session:
        stored = await session.scalar(select(Payment).where(Payment.id == "pay_livedashboard0001"))
    assert stored is not None
    return {"id": stored.id, "order_id": stored.order_id, "headers": headers}


@pytest.fixture
async def live_twin(container: Container) -> MerchantIdentity:
    return await find_twin(container.db, TEST_MERCHANT_ID, livemode=True)


async def test_switching_modes_shows_each_twins_data(
    dashboard: httpx.AsyncClient,
    client: httpx.AsyncClient,
    container: Container,
    live_twin: MerchantIdentity,
) -> None:
    test_payment = await pending_payment(client, 12_300)
    assert (
        await client.put("/api/v1/webhooks/config", json={"webhook_url": TEST_WEBHOOK})
    ).status_code == 200
    live = await live_payment(client, container, live_twin)

    # Test mode, the default after logging in.
    overview = await dashboard.get("/dashboard")
    assert overview.status_code == 200
    assert BANNER in overview.text
    assert "TEST MODE" in overview.text
    assert texts_of(overview, "api-key") == [AUTH["X-Api-Key"]]
    assert texts_of(overview, "total-transactions") == ["1"]
    assert texts_of(overview, "total-amount") == ["₹0"]  # the test payment is still pending
    transactions = await dashboard.get("/dashboard/transactions")
    assert BANNER in transactions.text
    assert payment_rows(transactions) == [test_payment["id"]]
    hidden = await dashboard.get(f"/dashboard/transactions/{live['id']}")
    assert hidden.status_code == 404
    webhooks = await dashboard.get("/dashboard/webhooks")
    assert TEST_WEBHOOK in webhooks.text
    assert LIVE_WEBHOOK not in webhooks.text

    # Live mode: no banner, the live twin's keys, figures, payments and webhook config.
    switched = await switch(dashboard, livemode=True, page="/dashboard/transactions")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/dashboard/transactions"
    transactions = await dashboard.get("/dashboard/transactions")
    assert transactions.status_code == 200
    assert BANNER not in transactions.text
    assert payment_rows(transactions) == [live["id"]]
    assert texts_of(transactions, "amount") == ["₹7,777.00"]
    overview = await dashboard.get("/dashboard")
    assert BANNER not in overview.text
    assert "TEST MODE" not in overview.text
    [live_key] = texts_of(overview, "api-key")
    assert live_key == live_twin.api_key
    assert live_key.startswith("key_live_")
    assert texts_of(overview, "total-transactions") == ["1"]
    assert texts_of(overview, "total-amount") == ["₹7,777"]
    assert texts_of(overview, "success-rate") == ["100%"]
    detail = await dashboard.get(f"/dashboard/transactions/{live['id']}")
    assert detail.status_code == 200
    assert live["order_id"] in detail.text
    hidden = await dashboard.get(f"/dashboard/transactions/{test_payment['id']}")
    assert hidden.status_code == 404
    webhooks = await dashboard.get("/dashboard/webhooks")
    assert LIVE_WEBHOOK in webhooks.text
    assert TEST_WEBHOOK not in webhooks.text
    for page in ("/dashboard/providers", "/dashboard/docs", "/dashboard/webhooks"):
        shown = await dashboard.get(page)
        assert shown.status_code == 200, page
        assert BANNER not in shown.text, page

    # And back to test mode: the test data again.
    back = await switch(dashboard, livemode=False)
    assert back.status_code == 303
    assert back.headers["location"] == "/dashboard"
    overview = await dashboard.get("/dashboard")
    assert BANNER in overview.text
    assert texts_of(overview, "api-key") == [AUTH["X-Api-Key"]]
    transactions = await dashboard.get("/dashboard/transactions")
    assert payment_rows(transactions) == [test_payment["id"]]


async def test_the_switch_needs_the_csrf_token(
    dashboard: httpx.AsyncClient, live_twin: MerchantIdentity
) -> None:
    refused = await dashboard.post("/dashboard/mode", data={"livemode": "true"})
    assert refused.status_code == 403
    wrong = await dashboard.post("/dashboard/mode", data={"livemode": "true", "csrf_token": "x"})
    assert wrong.status_code == 403
    overview = await dashboard.get("/dashboard")
    assert BANNER in overview.text
    assert texts_of(overview, "api-key") == [AUTH["X-Api-Key"]]

    # In live mode, a forged switch back to test mode is refused alike.
    assert (await switch(dashboard, livemode=True)).status_code == 303
    refused = await dashboard.post("/dashboard/mode", data={"livemode": "false"})
    assert refused.status_code == 403
    overview = await dashboard.get("/dashboard")
    assert BANNER not in overview.text
    assert texts_of(overview, "api-key") == [live_twin.api_key]


async def test_the_switch_needs_a_login(visitor: httpx.AsyncClient) -> None:
    response = await visitor.post("/dashboard/mode", data={"livemode": "true"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_the_switch_page_offers_the_other_mode(dashboard: httpx.AsyncClient) -> None:
    overview = await dashboard.get("/dashboard")
    assert re.search(r'name="livemode" value="true"', overview.text)
    assert texts_of(overview, "mode-switch") == ["Test mode: on"]
    await switch(dashboard, livemode=True)
    overview = await dashboard.get("/dashboard")
    assert re.search(r'name="livemode" value="false"', overview.text)
    assert texts_of(overview, "mode-switch") == ["Test mode: off"]


async def test_the_redirect_stays_on_this_sites_dashboard(dashboard: httpx.AsyncClient) -> None:
    """Back to the page the switch was on, by path only: another site's Referer never makes
    the redirect leave Hazina, and a non-dashboard page sends back to the overview."""
    for referer, expected in (
        ("https://evil.example.com/dashboard/webhooks", "/dashboard/webhooks"),
        ("https://evil.example.com/phish", "/dashboard"),
        ("http://hazina.test/checkout?order_id=x", "/dashboard"),
    ):
        token = csrf_of(await dashboard.get("/dashboard"))
        response = await dashboard.post(
            "/dashboard/mode",
            data={"csrf_token": token, "livemode": "true"},
            headers={"Referer": referer},
        )
        assert response.status_code == 303
        assert response.headers["location"] == expected, referer
