"""Providers in a browser: connecting an account on `/dashboard/providers`, and paying with
Stripe from the hosted checkout against the Stripe fake running as its own process."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import (
    PASSWORD,
    SERVER_ENV,
    Site,
    log_in,
    new_order,
    require_browser,
    screenshot,
)
from tests.e2e.servers import AUTH, Hub, free_port, open_hub

pytestmark = pytest.mark.slow  # real servers and a browser

SECRET_KEY = "sk_test_browserpage4242"
MODAL = '#payment-gateway-modal[data-test-id="payment-modal"]'
WEBHOOK_SECRET = "whsec_browserpage7777"


async def test_the_providers_page_connects_and_removes_a_stripe_account(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    await log_in(page, site, "test@example.com", PASSWORD)
    await page.get_by_role("link", name="Providers").click()
    await expect(page).to_have_url(re.compile(r"/dashboard/providers$"))
    card = page.locator('[data-test-id="provider-card"][data-provider="stripe"]')
    await expect(card.get_by_test_id("provider-mode")).to_have_text("not connected")

    await card.get_by_test_id("provider-mode-input").select_option("test")
    await card.get_by_test_id("provider-input-secret_key").fill(SECRET_KEY)
    await card.get_by_test_id("provider-input-webhook_secret").fill(WEBHOOK_SECRET)
    await card.get_by_test_id("save-provider-button").click()

    await expect(page.locator(".flash")).to_have_text("Stripe account saved.")
    accounts = (await api.get("/api/v1/provider-accounts")).json()["data"]
    assert [(a["provider"], a["mode"]) for a in accounts] == [("stripe", "test")]
    await expect(card.get_by_test_id("provider-mode")).to_have_text("test mode")
    await expect(card.get_by_test_id("provider-webhook-url")).to_have_text(
        accounts[0]["webhook_url"]
    )
    await expect(card.get_by_test_id("provider-credential")).to_have_text(
        ["configured …4242", "configured …7777", "not set"]
    )
    for field in ("secret_key", "webhook_secret", "publishable_key"):
        await expect(card.get_by_test_id(f"provider-input-{field}")).to_have_value("")
    content = await page.content()
    assert SECRET_KEY not in content
    assert WEBHOOK_SECRET not in content
    await screenshot(page, "providers")

    page.once("dialog", lambda dialog: dialog.accept())  # "Remove the Stripe account?"
    await card.get_by_test_id("delete-provider-button").click()
    await expect(page.locator(".flash")).to_have_text("Stripe account removed.")
    await expect(card.get_by_test_id("provider-mode")).to_have_text("not connected")
    assert (await api.get("/api/v1/provider-accounts")).json()["data"] == []


STRIPE_KEY = "sk_test_browserdefault"
STRIPE_WEBHOOK_SECRET = "whsec_browserdefault"


@dataclass(frozen=True)
class Stripe:
    """`hazina fake stripe` as its own process, and its control API."""

    fake_url: str

    async def control(self, path: str, **payload: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.fake_url, timeout=30) as control:
            response = await control.post(f"/_control/{path}", json=payload)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def start_stripe_fake(hub: Hub) -> Stripe:
    port = free_port()
    fake = hub.start("fake-stripe", "fake", "stripe", "--port", str(port))
    url = f"http://127.0.0.1:{port}"

    async def listening() -> bool:
        try:
            async with httpx.AsyncClient(timeout=1) as client:
                await client.get(url)  # any answer will do
        except httpx.TransportError:
            return False
        return True

    await hub.eventually(listening, within=20, what=f"{fake.name} listening")
    return Stripe(url)


@pytest.fixture(scope="module")
async def stripe_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Site, Stripe]]:
    """A single-tenant deployment: `hazina serve` whose default Stripe account (environment)
    talks to `hazina fake stripe`, itself a process, which signs and posts its webhooks back."""
    require_browser()
    async with open_hub("sqlite", tmp_path_factory.mktemp("stripe")) as hub:
        stripe = await start_stripe_fake(hub)
        server = await hub.serve(
            worker=True,
            HAZINA_STRIPE_API_BASE=stripe.fake_url,
            STRIPE_SECRET_KEY=STRIPE_KEY,
            STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
            **SERVER_ENV,
        )
        registered = await stripe.control(
            "webhook_endpoints",
            api_key=STRIPE_KEY,
            url=f"{server.url}/hooks/stripe",
            secret=STRIPE_WEBHOOK_SECRET,
        )
        assert registered["status"] == "enabled"
        yield Site(hub, server), stripe


async def test_the_checkout_pays_with_stripe_through_its_redirect(
    page: Page, stripe_site: tuple[Site, Stripe]
) -> None:
    site, stripe = stripe_site
    async with httpx.AsyncClient(base_url=site.url, headers=AUTH, timeout=30) as api:
        order_id = await new_order(api)
        await page.goto(f"{site.url}/checkout?order_id={order_id}")
        await expect(page.get_by_test_id("order-amount")).to_have_text("₹500.00")
        buttons = page.get_by_test_id("payment-methods").locator("[data-method]")
        await expect(buttons).to_have_text(["UPI", "Card", "Stripe"])

        # The fake answers its session URL with a 404 (it serves no payment page): what matters
        # is that the browser goes there, so the request is awaited, not the page.
        session_page = re.compile(re.escape(stripe.fake_url) + r"/c/pay/(cs_test_\w+)$")
        async with page.expect_request(session_page) as requested:
            await page.get_by_test_id("method-stripe").click()
        url = (await requested.value).url
        match = session_page.match(url)
        assert match, url
        await page.wait_for_url(session_page, wait_until="commit")

        listed = (await api.get("/api/v1/payments")).json()["data"]
        [payment] = [p for p in listed if p["order_id"] == order_id]
        assert (payment["method"], payment["status"]) == ("stripe", "pending")
        assert payment["provider_reference"] == match.group(1)
        assert payment["next_action"] == {"type": "redirect", "url": url}

        # The customer pays on "Stripe": the fake posts the signed webhook to /hooks/stripe,
        # which applies it before answering.
        completed = await stripe.control(
            f"checkout/sessions/{match.group(1)}/complete", payment_status="paid"
        )
        assert {event["delivery"]["status"] for event in completed["events"]} == {200}
        paid = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
        assert paid["status"] == "success"
        order = (await api.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "paid"

        # Back where the session's success_url points.
        await page.goto(f"{site.url}/success?payment_id={payment['id']}")
        await expect(page.locator("main")).to_contain_text(payment["id"])
        await expect(page.locator("main")).to_contain_text("₹500.00 · success")


async def test_inside_the_sdk_iframe_stripe_opens_in_a_new_tab_and_the_modal_reports(
    page: Page, stripe_site: tuple[Site, Stripe]
) -> None:
    """Stripe's page cannot be framed and the merchant's page must stay: the checkout opens it
    in a tab of its own, keeps polling, and checkout.js's onSuccess runs when the tab is paid."""
    site, stripe = stripe_site
    await page.goto(site.url + "/demo")
    await page.locator("#demo-pay").click()
    checkout = page.frame_locator('[data-test-id="payment-iframe"]')
    await expect(checkout.get_by_test_id("method-stripe")).to_have_text("Stripe")

    async with page.context.expect_page() as opened:
        await checkout.get_by_test_id("method-stripe").click()
    tab = await opened.value
    session_page = re.compile(re.escape(stripe.fake_url) + r"/c/pay/(cs_test_\w+)$")
    await tab.wait_for_url(session_page, wait_until="commit")
    assert await tab.evaluate("() => window.opener") is None  # no handle back on the checkout
    link = checkout.locator("[data-next-link] a")
    await expect(link).to_have_attribute("href", tab.url)
    await expect(checkout.get_by_test_id("processing-state")).to_be_visible()
    await expect(page).to_have_url(site.url + "/demo")  # the merchant's page stays

    match = session_page.match(tab.url)
    assert match, tab.url
    completed = await stripe.control(
        f"checkout/sessions/{match.group(1)}/complete", payment_status="paid"
    )
    assert {event["delivery"]["status"] for event in completed["events"]} == {200}

    # The iframe's polling sees the success and tells checkout.js, which closes the modal.
    result = page.locator("[data-demo-result]")
    await expect(result).to_have_text(re.compile(r"^Paid: pay_[A-Za-z0-9]{16}$"))
    await expect(page.locator(MODAL)).to_have_count(0)
    async with httpx.AsyncClient(base_url=site.url, headers=AUTH, timeout=30) as api:
        payment_id = await result.get_attribute("data-payment-id")
        payment = (await api.get(f"/api/v1/payments/{payment_id}")).json()
    assert (payment["method"], payment["status"]) == ("stripe", "success")
    assert payment["provider_reference"] == match.group(1)
