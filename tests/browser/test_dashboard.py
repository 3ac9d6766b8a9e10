"""The dashboard in a browser: logging in, the figures, and the webhooks page."""

import hashlib
import hmac
import re
import secrets

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import func, select, update

from hazina.db.models import Payment
from hazina.testing.sink import Received, Reply, WebhookSink
from tests.browser.conftest import PASSWORD, Site, log_in, screenshot

pytestmark = pytest.mark.slow  # a real server and a browser


async def test_a_wrong_password_is_refused_and_the_right_one_logs_in(
    page: Page, site: Site
) -> None:
    await page.goto(site.url + "/dashboard")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fdashboard$"))
    await page.get_by_test_id("email-input").fill("test@example.com")
    await page.get_by_test_id("password-input").fill("not-the-password")
    await page.get_by_test_id("login-button").click()
    await expect(page.locator("[data-error]")).to_have_text("Invalid email or password")
    await expect(page.get_by_test_id("dashboard")).to_have_count(0)

    await page.get_by_test_id("password-input").fill(PASSWORD)
    await page.get_by_test_id("login-button").click()
    await expect(page).to_have_url(re.compile(r"/dashboard$"))
    await expect(page.get_by_test_id("api-key")).to_have_text("key_test_abc123")
    await expect(page.get_by_test_id("api-secret")).not_to_contain_text("secret_test_xyz789")


def _field(output: str, name: str) -> str:
    match = re.search(rf"^{name}:\s+(\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


async def test_the_figures_are_the_databases(page: Page, site: Site) -> None:
    """A merchant of its own (made by `hazina merchant create`, with its login), three payments,
    one of them failed: the page shows what the database holds."""
    hub = site.hub
    email = f"figures-{secrets.token_hex(3)}@example.com"
    code, output = await hub.run("merchant", "create", "--name", "Figures", "--email", email)
    assert code == 0, output
    # The sandbox's methods are test mode's: the test key pair pays with them.
    headers = {
        "X-Api-Key": _field(output, "test api key"),
        "X-Api-Secret": _field(output, "test api secret"),
    }
    async with httpx.AsyncClient(base_url=site.url, headers=headers) as api:
        ids = []
        for amount in (20_000_000, 30_000_000, 123_456):  # ₹2,00,000 + ₹3,00,000 + ₹1,234.56
            order = await api.post("/api/v1/orders", json={"amount": amount})
            body = {"order_id": order.json()["id"], "method": "upi", "vpa": "a@paytm"}
            ids.append((await api.post("/api/v1/payments", json=body)).json()["id"])

        async def settled() -> bool:
            statuses = [(await api.get(f"/api/v1/payments/{i}")).json()["status"] for i in ids]
            return all(status == "success" for status in statuses)

        await hub.eventually(settled, within=30, what="three payments settled")
    async with hub.database() as db:
        # The third is declined behind the API's back, as the sandbox would have done.
        async with db.transaction() as session:
            await session.execute(
                update(Payment).where(Payment.id == ids[2]).values(status="failed")
            )
        async with db.read() as session:
            total, succeeded = (
                await session.execute(
                    select(
                        func.count(), func.sum(Payment.amount).filter(Payment.status == "success")
                    ).where(Payment.id.in_(ids))
                )
            ).one()
    assert (total, succeeded) == (3, 50_000_000)

    await log_in(page, site, email, _field(output, "password"))
    stats = page.get_by_test_id("stats-container")
    await expect(stats.get_by_test_id("total-transactions")).to_have_text("3")
    await expect(stats.get_by_test_id("total-amount")).to_have_text("₹5,00,000")
    await expect(stats.get_by_test_id("success-rate")).to_have_text("67%")
    await expect(page.get_by_test_id("api-key")).to_have_text(headers["X-Api-Key"])
    await screenshot(page, "dashboard")


async def test_webhook_config_saved_test_sent_and_a_failed_delivery_retried(
    page: Page, site: Site, api: httpx.AsyncClient, sink: WebhookSink
) -> None:
    accepting = False

    def receiver(_request: Received, _count: int) -> Reply:
        return Reply(200, b"ok") if accepting else Reply(500, b"down for maintenance")

    url = sink.on("/hazina", receiver)
    await log_in(page, site, "test@example.com", PASSWORD)
    await page.goto(site.url + "/dashboard/webhooks")
    config = page.get_by_test_id("webhook-config-form")
    await config.get_by_test_id("webhook-url-input").fill(url)
    await config.get_by_test_id("save-webhook-button").click()
    await expect(page.locator(".flash")).to_have_text("Webhook URL saved.")
    await expect(page.get_by_test_id("webhook-url-input")).to_have_value(url)
    secret = await page.get_by_test_id("webhook-secret").inner_text()
    try:
        await page.get_by_test_id("test-webhook-button").click()
        await expect(page.locator(".flash")).to_have_text("Test webhook scheduled.")

        async def failed_once() -> bool:
            listed = await api.get("/api/v1/webhooks", params={"event": "webhook.test"})
            return [d["status"] for d in listed.json()["data"]][:1] == ["failed"]

        await site.hub.eventually(failed_once, within=20, what="the test webhook failed")
        request = sink.at("/hazina")[0]
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-webhook-signature"] == expected

        await page.reload()
        row = page.get_by_test_id("webhook-log-item").first
        await expect(row.get_by_test_id("webhook-event")).to_have_text("webhook.test")
        await expect(row.get_by_test_id("webhook-status")).to_have_text("failed")
        await expect(row.get_by_test_id("webhook-attempts")).to_have_text("1")
        await expect(row.get_by_test_id("webhook-response-code")).to_have_text("500")

        accepting = True
        await row.get_by_test_id("retry-webhook-button").click()
        await expect(page.locator(".flash")).to_have_text("Webhook retry scheduled.")
        delivery_id = await row.get_attribute("data-webhook-id")

        async def delivered() -> bool:
            found = await api.get(f"/api/v1/webhooks/{delivery_id}")
            return bool(found.json()["status"] == "success")

        await site.hub.eventually(delivered, within=20, what="the retried webhook delivered")
        await page.reload()
        row = page.locator(f'[data-test-id="webhook-log-item"][data-webhook-id="{delivery_id}"]')
        await expect(row.get_by_test_id("webhook-status")).to_have_text("success")
        await expect(row.get_by_test_id("webhook-response-code")).to_have_text("200")
        assert len(sink.at("/hazina")) == 2
    finally:
        # Later tests' payments must not be delivered to this test's receiver.
        await api.put("/api/v1/webhooks/config", json={"webhook_url": None})


async def test_an_invalid_webhook_url_shows_the_description(page: Page, site: Site) -> None:
    await log_in(page, site, "test@example.com", PASSWORD)
    await page.goto(site.url + "/dashboard/webhooks")
    await page.get_by_test_id("webhook-url-input").fill("ftp://example.com/hook")
    await page.get_by_test_id("save-webhook-button").click()
    await expect(page.locator("[data-error]")).to_have_text(
        "webhook_url must be an absolute http or https URL"
    )
