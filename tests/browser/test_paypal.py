"""Paying with PayPal from the hosted checkout: the customer picks PayPal, approves on the PayPal
fake's page (its own process), and comes back to `/success` once Hazina captured the order."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import SERVER_ENV, Site, require_browser
from tests.e2e.servers import AUTH, open_hub
from tests.e2e.test_paypal import PayPal
from tests.e2e.test_providers import start_fake

pytestmark = pytest.mark.slow  # real servers and a browser


@pytest.fixture(scope="module")
async def paypal_site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Site, str]]:
    """A single-tenant deployment whose default PayPal account talks to `hazina fake paypal`."""
    require_browser()
    async with open_hub("sqlite", tmp_path_factory.mktemp("paypal")) as hub:
        paypal = PayPal(hub, await start_fake(hub, "paypal"))
        server = await paypal.serve(**SERVER_ENV)
        yield Site(hub, server), paypal.url


async def test_the_checkout_pays_with_paypal_approved_on_its_page(
    page: Page, paypal_site: tuple[Site, str]
) -> None:
    site, fake_url = paypal_site
    async with httpx.AsyncClient(base_url=site.url, headers=AUTH, timeout=30) as api:
        created = await api.post("/api/v1/orders", json={"amount": 2500, "currency": "USD"})
        order_id = created.json()["id"]
        await page.goto(f"{site.url}/checkout?order_id={order_id}")
        buttons = page.get_by_test_id("payment-methods").locator("[data-method]")
        await expect(buttons).to_have_text(["UPI", "Card", "PayPal"])

        await page.get_by_test_id("method-paypal").click()
        await page.wait_for_url(re.compile(re.escape(fake_url) + r"/checkoutnow\?token=\w+$"))
        await expect(page.locator("#amount")).to_have_text("USD 25.00")
        await page.locator("#approve").click()

        # PayPal sends the customer to Hazina's return URL, which asks for the capture and
        # shows /success; the page says "processing" until the capture job has run.
        success = re.compile(re.escape(site.url) + r"/success\?payment_id=pay_\w+$")
        await page.wait_for_url(success)
        payment_id = page.url.rsplit("=", 1)[1]

        async def captured() -> bool:
            found = (await api.get(f"/api/v1/payments/{payment_id}")).json()
            return bool(found["status"] == "success")

        await site.hub.eventually(captured, within=30, what="PayPal payment captured")
        await page.reload()
        await expect(page.locator("[data-outcome]")).to_have_attribute("data-outcome", "success")
        await expect(page.locator("main")).to_contain_text("$25.00 · success")
        order = (await api.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "paid"
