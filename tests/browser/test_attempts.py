"""Attempts on one order in a browser: a customer who abandons a provider's page or a USSD prompt
pays again, and a payment whose provider reported another amount never reads as a success.

One deployment for the module: `hazina serve` (with its worker) whose default Stripe and ClickPesa
accounts (environment, test mode) talk to `hazina fake stripe` and `hazina fake clickpesa`, each a
process of its own that signs and posts its webhooks back to `/hooks/{provider}`.
"""

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import stripe as stripe_sdk
from playwright.async_api import Page, expect

from hazina.domain import ids
from hazina.domain.checksums import compute_checksum
from tests.browser.conftest import SERVER_ENV, Site, new_order, require_browser, screenshot
from tests.browser.test_providers import Stripe, start_stripe_fake
from tests.e2e.servers import AUTH, Hub, open_hub
from tests.e2e.test_providers import start_fake

pytestmark = pytest.mark.slow  # real servers, two provider fakes and a browser

STRIPE_KEY = "sk_test_browserattempts"
STRIPE_WEBHOOK_SECRET = "whsec_browserattempts"
CLICKPESA_CLIENT_ID = "IDbrowserattempts"
CLICKPESA_API_KEY = "SKbrowserattempts"
CLICKPESA_CHECKSUM_KEY = "CHKbrowserattempts"
PHONE = "255712345678"
TZS_1000 = 100_000  # minor units
MODAL = '#payment-gateway-modal[data-test-id="payment-modal"]'


@dataclass(frozen=True)
class Deployment:
    site: Site
    stripe: Stripe
    clickpesa_url: str

    @property
    def hub(self) -> Hub:
        return self.site.hub


@pytest.fixture(scope="module")
async def deployment(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    require_browser()
    async with open_hub("sqlite", tmp_path_factory.mktemp("attempts")) as hub:
        stripe = await start_stripe_fake(hub)
        clickpesa_url = await start_fake(hub, "clickpesa")
        server = await hub.serve(
            worker=True,
            HAZINA_STRIPE_API_BASE=stripe.fake_url,
            STRIPE_SECRET_KEY=STRIPE_KEY,
            STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
            HAZINA_CLICKPESA_API_BASE=clickpesa_url,
            CLICKPESA_CLIENT_ID=CLICKPESA_CLIENT_ID,
            CLICKPESA_API_KEY=CLICKPESA_API_KEY,
            CLICKPESA_WEBHOOK_SIGNING_KEY=CLICKPESA_CHECKSUM_KEY,
            **SERVER_ENV,
        )
        registered = await stripe.control(
            "webhook_endpoints",
            api_key=STRIPE_KEY,
            url=f"{server.url}/hooks/stripe",
            secret=STRIPE_WEBHOOK_SECRET,
        )
        assert registered["status"] == "enabled"
        async with httpx.AsyncClient(base_url=clickpesa_url, timeout=30) as control:
            client = await control.post(
                "/_control/clients",
                json={
                    "client_id": CLICKPESA_CLIENT_ID,
                    "api_key": CLICKPESA_API_KEY,
                    "checksum_key": CLICKPESA_CHECKSUM_KEY,
                    "webhook_url": f"{server.url}/hooks/clickpesa",
                },
            )
        assert client.status_code == 201, client.text
        yield Deployment(Site(hub, server), stripe, clickpesa_url)


@pytest.fixture
async def api(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    """The test merchant's JSON API on this module's server."""
    url = deployment.site.url
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as client:
        yield client


# --- Reading the state ----------------------------------------------------------------------


async def payments_of(api: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    """The order's payments (in no particular order: two made in one tick tie)."""
    response = await api.get("/api/v1/payments", params={"limit": 100})
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["data"]
    return [p for p in listed if p["order_id"] == order_id]


async def payment(api: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/payments/{payment_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def order_status(api: httpx.AsyncClient, order_id: str) -> str:
    response = await api.get(f"/api/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def events_about(
    api: httpx.AsyncClient, event_type: str, payment_ids: list[str]
) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/events", params={"type": event_type, "limit": 100})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] <= 100, "more events than one page: filter by order instead"
    return [event for event in page["data"] if event["resource_id"] in payment_ids]


async def wait_for_status(
    deployment: Deployment, api: httpx.AsyncClient, payment_id: str, status: str
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def reached() -> bool:
        nonlocal found
        found = await payment(api, payment_id)
        return bool(found["status"] == status)

    await deployment.hub.eventually(reached, within=30, what=f"payment {payment_id} {status}")
    return found


async def stripe_session(deployment: Deployment, session_id: str) -> dict[str, Any]:
    """The Checkout Session as Stripe's API answers it (the fake's `GET /v1/…`)."""
    async with httpx.AsyncClient(base_url=deployment.stripe.fake_url, timeout=30) as client:
        response = await client.get(
            f"/v1/checkout/sessions/{session_id}",
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def session_page(deployment: Deployment) -> re.Pattern[str]:
    return re.compile(re.escape(deployment.stripe.fake_url) + r"/c/pay/(cs_test_\w+)$")


# --- Provider reports carrying another amount ----------------------------------------------


async def stripe_reports_amount(deployment: Deployment, session_id: str, units: int) -> None:
    """The customer pays the session at "Stripe", whose events (signed with the account's
    webhook secret, as Stripe would) report `units` instead of the amount asked for."""
    completed = await deployment.stripe.control(
        f"checkout/sessions/{session_id}/complete", payment_status="paid", deliver=False
    )
    types = [event["type"] for event in completed["events"]]
    assert types == ["checkout.session.completed", "payment_intent.succeeded"]
    async with httpx.AsyncClient(base_url=deployment.site.url, timeout=30) as client:
        for event in completed["events"]:
            body = json.loads(event["body"])
            found = body["data"]["object"]
            for field in ("amount_total", "amount_subtotal", "amount", "amount_received"):
                if field in found:
                    found[field] = units
            text = json.dumps(body, indent=2)
            signature = stripe_sdk.WebhookSignature.generate_signature_header(
                text, STRIPE_WEBHOOK_SECRET
            )
            response = await client.post(
                "/hooks/stripe",
                content=text.encode(),
                headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            )
            assert response.status_code == 200, response.text


async def clickpesa_completes(
    deployment: Deployment, payment_id: str, *, collected: str | None = None
) -> dict[str, Any]:
    """The customer approves the USSD prompt at "ClickPesa". With `collected`, the webhook
    (checksummed with the account's key, as ClickPesa would) reports that amount instead."""
    reference = ids.alphanumeric_reference(payment_id)
    async with httpx.AsyncClient(base_url=deployment.clickpesa_url, timeout=30) as control:
        response = await control.post(
            f"/_control/payments/{reference}/complete",
            json={"status": "SUCCESS", "deliver": collected is None},
        )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    if collected is None:
        assert response.headers["x-fake-delivery-status"] == "200"
        return payload
    payload.pop("checksum")
    payload["data"]["collectedAmount"] = collected
    payload["checksum"] = compute_checksum(CLICKPESA_CHECKSUM_KEY, payload)
    async with httpx.AsyncClient(base_url=deployment.site.url, timeout=30) as client:
        delivered = await client.post("/hooks/clickpesa", json=payload)
    assert delivered.status_code == 200, delivered.text
    return payload


# --- The customer's side --------------------------------------------------------------------


async def pay_by_card(page: Page) -> None:
    await page.get_by_test_id("method-card").click()
    card = page.get_by_test_id("card-form")
    await card.get_by_test_id("card-number-input").fill("4111 1111 1111 1111")
    await card.get_by_test_id("expiry-input").fill("12/99")
    await card.get_by_test_id("cvv-input").fill("123")
    await card.get_by_test_id("cardholder-name-input").fill("Asha Rao")
    await card.get_by_test_id("pay-button").click()


async def open_shop(page: Page, deployment: Deployment, order_id: str, *, on_review: bool) -> None:
    """A merchant's page with checkout.js (the demo shop's, not its button) opens the checkout
    for the order; every callback the SDK makes is recorded in `window.calls` as `[name, data]`.

    The page is Hazina's own origin: a page the test serves itself (page.route) is of no address
    space Chromium knows, and its Local Network Access check refuses its loading checkout.js
    from the loopback."""
    await page.goto(deployment.site.url + "/demo")
    await page.evaluate(
        """([orderId, key, onReview]) => {
            window.calls = [];
            var record = (name) => (data) => window.calls.push([name, data || null]);
            var options = {
                key: key, orderId: orderId,
                onSuccess: record("success"), onFailure: record("failure"),
                onClose: record("close")
            };
            if (onReview) options.onReview = record("review");
            new PaymentGateway(options).open();
        }""",
        [order_id, AUTH["X-Api-Key"], on_review],
    )


async def sdk_calls(page: Page) -> list[list[Any]]:
    calls: list[list[Any]] = await page.evaluate("() => window.calls")
    return calls


# --- 1. The abandoned checkout ---------------------------------------------------------------


async def test_the_abandoned_checkout_story(
    page: Page, deployment: Deployment, api: httpx.AsyncClient
) -> None:
    """Stripe → Cancel → back on the checkout → Stripe again → pay: the first session was
    expired at Stripe and its payment failed, the second succeeded, the order is paid once."""
    site, pages = deployment.site, session_page(deployment)
    order_id = await new_order(api)
    checkout_url = f"{site.url}/checkout?order_id={order_id}"
    await page.goto(checkout_url)
    await page.get_by_test_id("method-stripe").click()
    await page.wait_for_url(pages)
    first = pages.fullmatch(page.url)
    assert first, page.url
    await expect(page.locator(".amount")).to_have_text("500.00 INR")

    # The customer backs out on Stripe's page: Stripe sends them to the cancel URL.
    await page.get_by_role("button", name="Cancel").click()
    await page.wait_for_url(checkout_url)
    await expect(page.get_by_test_id("payment-methods")).to_be_visible()
    assert (await stripe_session(deployment, first.group(1)))["status"] == "open"

    # A new attempt: Hazina ends the first at Stripe before starting the second.
    await page.get_by_test_id("method-stripe").click()
    await page.wait_for_url(pages)
    second = pages.fullmatch(page.url)
    assert second, page.url
    assert second.group(1) != first.group(1)
    assert (await stripe_session(deployment, first.group(1)))["status"] == "expired"
    attempts = {p["provider_reference"]: p for p in await payments_of(api, order_id)}
    assert attempts.keys() == {first.group(1), second.group(1)}
    abandoned, current = attempts[first.group(1)], attempts[second.group(1)]
    assert (abandoned["status"], abandoned["error_code"]) == ("failed", "PAYMENT_EXPIRED")
    assert current["status"] == "pending"

    # The customer pays; the fake posts its signed webhook, then sends them to success_url.
    await page.get_by_role("button", name="Pay", exact=True).click()
    await page.wait_for_url(f"{site.url}/success?payment_id={current['id']}")
    await expect(page.locator("[data-outcome]")).to_have_attribute("data-outcome", "success")
    await expect(page.locator("main")).to_contain_text("₹500.00 · success")
    await screenshot(page, "attempts-stripe-second-attempt")

    # Stripe's own report of the expiry (sent after it answered) reached Hazina and changed
    # nothing: the first attempt stays failed.
    await deployment.stripe.control("deliveries/flush")
    async with httpx.AsyncClient(base_url=deployment.stripe.fake_url, timeout=30) as control:
        listed = await control.get("/_control/events", params={"type": "checkout.session.expired"})
    expiries = [
        event
        for event in listed.json()["data"]
        if json.loads(event["body"])["data"]["object"]["id"] == first.group(1)
    ]
    assert [event["delivery"]["status"] for event in expiries] == [200]

    abandoned, current = await payment(api, abandoned["id"]), await payment(api, current["id"])
    assert (abandoned["status"], abandoned["error_code"]) == ("failed", "PAYMENT_EXPIRED")
    assert (current["status"], current["amount_received"]) == ("success", 50000)
    assert await order_status(api, order_id) == "paid"
    both = [abandoned["id"], current["id"]]
    successes = await events_about(api, "payment.success", both)
    assert [event["resource_id"] for event in successes] == [current["id"]]
    assert [e["resource_id"] for e in await events_about(api, "payment.failed", both)] == [
        abandoned["id"]
    ]


# --- 2. A USSD prompt abandoned, then a card ---------------------------------------------------


async def test_a_ussd_attempt_abandoned_then_a_card_attempt_in_test_mode(
    page: Page, deployment: Deployment, api: httpx.AsyncClient
) -> None:
    """ClickPesa's USSD prompt is ignored and the customer pays by card instead: the order is
    paid once. ClickPesa cannot end its attempt, so it stays pending; when the customer approves
    it after all, ClickPesa (which cannot refund by API) leaves it in review, never success."""
    site = deployment.site
    response = await api.post("/api/v1/orders", json={"amount": TZS_1000, "currency": "TZS"})
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    checkout_url = f"{site.url}/checkout?order_id={order_id}"
    await page.goto(checkout_url)
    buttons = page.get_by_test_id("payment-methods").locator("[data-method]")
    await expect(buttons).to_have_text(["UPI", "Card", "Stripe", "ClickPesa"])

    await page.get_by_test_id("method-clickpesa").click()
    form = page.get_by_test_id("clickpesa-form")
    await form.get_by_test_id("phone-input").fill(PHONE)
    await form.get_by_test_id("pay-button").click()
    await expect(page.get_by_test_id("processing-state")).to_be_visible()
    # The checkout shows the phone masked: the public payment carries no customer number.
    await expect(page.locator("[data-next-action]")).to_contain_text(
        f"Check your phone (•••• {PHONE[-4:]})"
    )
    [ussd] = await payments_of(api, order_id)
    assert (ussd["method"], ussd["status"]) == ("clickpesa", "pending")
    assert ussd["next_action"]["type"] == "ussd_push"

    # The customer never answers the prompt, comes back to the checkout and pays by card.
    await page.goto(checkout_url)
    await expect(page.get_by_test_id("payment-methods")).to_be_visible()
    await pay_by_card(page)
    await expect(page.get_by_test_id("success-state")).to_be_visible()
    card_id = await page.get_by_test_id("payment-id").inner_text()
    await page.wait_for_url(f"{site.url}/success?payment_id={card_id}")
    await expect(page.locator("[data-outcome]")).to_have_attribute("data-outcome", "success")

    card = await payment(api, card_id)
    assert (card["method"], card["status"], card["order_id"]) == ("card", "success", order_id)
    assert (await payment(api, ussd["id"]))["status"] == "pending"  # ClickPesa cannot cancel
    assert await order_status(api, order_id) == "paid"
    assert {p["id"] for p in await payments_of(api, order_id)} == {ussd["id"], card_id}

    # The customer approves the old prompt after all: money arrives for a paid order.
    await clickpesa_completes(deployment, ussd["id"])
    late = await wait_for_status(deployment, api, ussd["id"], "review")
    assert late["review_reason"] == "order_already_paid"
    assert await order_status(api, order_id) == "paid"
    both = [ussd["id"], card_id]
    assert [e["resource_id"] for e in await events_about(api, "payment.success", both)] == [card_id]
    review = await events_about(api, "payment.review_required", both)
    assert [event["resource_id"] for event in review] == [ussd["id"]]

    await page.goto(f"{site.url}/success?payment_id={ussd['id']}")
    await expect(page.locator("[data-outcome]")).to_have_attribute("data-outcome", "held")
    await expect(page.get_by_test_id("review-message")).to_be_visible()


# --- 3. A mismatched payment never reads as success -----------------------------------------


async def test_an_underpaid_ussd_payment_shows_the_review_state_on_the_checkout(
    page: Page, deployment: Deployment, api: httpx.AsyncClient
) -> None:
    site = deployment.site
    response = await api.post("/api/v1/orders", json={"amount": TZS_1000, "currency": "TZS"})
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    await page.goto(f"{site.url}/checkout?order_id={order_id}")
    await page.get_by_test_id("method-clickpesa").click()
    await page.get_by_test_id("phone-input").fill(PHONE)
    await page.get_by_test_id("clickpesa-form").get_by_test_id("pay-button").click()
    await expect(page.locator("[data-next-action]")).to_contain_text("Check your phone")
    [started] = await payments_of(api, order_id)

    await clickpesa_completes(deployment, started["id"], collected="900")

    held = page.get_by_test_id("review-state")
    await expect(held).to_be_visible()
    await expect(held.get_by_test_id("review-payment-id")).to_have_text(started["id"])
    await expect(page.get_by_test_id("review-message")).to_have_text(
        "The merchant is checking this payment before confirming your order."
    )
    await expect(page.get_by_test_id("success-state")).to_be_hidden()
    await screenshot(page, "attempts-review")

    found = await payment(api, started["id"])
    assert (found["status"], found["review_reason"]) == ("review", "amount_mismatch")
    assert found["amount_received"] == 90_000
    assert await order_status(api, order_id) != "paid"
    assert await events_about(api, "payment.success", [started["id"]]) == []
    assert len(await events_about(api, "payment.review_required", [started["id"]])) == 1

    await page.goto(f"{site.url}/success?payment_id={started['id']}")
    await expect(page.locator("[data-outcome]")).to_have_attribute("data-outcome", "held")


async def test_an_overpaid_stripe_payment_calls_on_review_never_on_success(
    page: Page, deployment: Deployment, api: httpx.AsyncClient
) -> None:
    """Inside the SDK's iframe: Stripe in its own tab reports more than the order's amount; the
    iframe shows the review state, the SDK calls onReview and keeps the modal; Stripe's return
    page (`/success?payment_id=…`) says the payment is held."""
    order_id = await new_order(api)
    await open_shop(page, deployment, order_id, on_review=True)
    checkout = page.frame_locator('[data-test-id="payment-iframe"]')
    async with page.context.expect_page() as opened:
        await checkout.get_by_test_id("method-stripe").click()
    tab = await opened.value
    pages = session_page(deployment)
    await tab.wait_for_url(pages)
    match = pages.fullmatch(tab.url)
    assert match, tab.url
    await expect(checkout.get_by_test_id("processing-state")).to_be_visible()
    [started] = await payments_of(api, order_id)
    assert started["provider_reference"] == match.group(1)

    await stripe_reports_amount(deployment, match.group(1), 60000)

    await expect(checkout.get_by_test_id("review-state")).to_be_visible()
    await expect(checkout.get_by_test_id("review-payment-id")).to_have_text(started["id"])
    await expect(checkout.get_by_test_id("success-state")).to_be_hidden()
    await page.wait_for_function("() => window.calls.length > 0")
    calls = await sdk_calls(page)
    assert [name for name, _ in calls] == ["review"]
    assert calls[0][1]["paymentId"] == started["id"]
    assert calls[0][1]["status"] == "review"
    await expect(page.locator(MODAL)).to_have_count(1)  # onSuccess would have closed it

    found = await payment(api, started["id"])
    assert (found["status"], found["review_reason"]) == ("review", "amount_mismatch")
    assert found["amount_received"] == 60000
    assert await order_status(api, order_id) != "paid"
    assert await events_about(api, "payment.success", [started["id"]]) == []

    # Stripe's tab: the session is complete, and its link goes back to the success URL.
    await tab.reload()
    await tab.get_by_role("link", name="Return to the merchant").click()
    await tab.wait_for_url(f"{deployment.site.url}/success?payment_id={started['id']}")
    await expect(tab.locator("[data-outcome]")).to_have_attribute("data-outcome", "held")
    await expect(tab.get_by_test_id("review-message")).to_be_visible()
    await tab.close()


async def test_without_on_review_a_mismatched_payment_calls_on_failure(
    page: Page, deployment: Deployment, api: httpx.AsyncClient
) -> None:
    response = await api.post("/api/v1/orders", json={"amount": TZS_1000, "currency": "TZS"})
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    await open_shop(page, deployment, order_id, on_review=False)
    checkout = page.frame_locator('[data-test-id="payment-iframe"]')
    await checkout.get_by_test_id("method-clickpesa").click()
    await checkout.get_by_test_id("phone-input").fill(PHONE)
    await checkout.get_by_test_id("clickpesa-form").get_by_test_id("pay-button").click()
    await expect(checkout.locator("[data-next-action]")).to_contain_text("Check your phone")
    [started] = await payments_of(api, order_id)

    await clickpesa_completes(deployment, started["id"], collected="1100")

    await expect(checkout.get_by_test_id("review-state")).to_be_visible()
    await page.wait_for_function("() => window.calls.length > 0")
    calls = await sdk_calls(page)
    assert [name for name, _ in calls] == ["failure"]
    assert (calls[0][1]["paymentId"], calls[0][1]["status"]) == (started["id"], "review")
    await expect(page.locator(MODAL)).to_have_count(1)
    found = await payment(api, started["id"])
    assert (found["status"], found["review_reason"]) == ("review", "amount_mismatch")
