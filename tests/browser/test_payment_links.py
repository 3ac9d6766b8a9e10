"""Seed 001's story in a real browser against real processes: the business requests a link
from its dashboard, `hazina fake whatsapp` receives the template with the link's code as its
URL button parameter and reports it delivered and read, the customer pays on the link page
(360 px wide), and the business is told by WhatsApp and by email (an aiosmtpd server) while its
endpoint receives payment.success."""

import email
import email.policy
import json
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from playwright.async_api import Browser, Page, expect

from hazina.testing.sink import WebhookSink, always
from tests.browser.conftest import PASSWORD, SERVER_ENV, Site, log_in, require_browser, screenshot
from tests.e2e.servers import AUTH, HazinaProcess, free_port, open_hub

APP_SECRET = "browser-whatsapp-app-secret"
TOKEN = "EAAGbrowsertoken"
PHONE_NUMBER_ID = "106540352242922"
MERCHANT_PHONE = "+255713000111"
CUSTOMER_PHONE = "+255712345678"
DOCS = Path(__file__).parents[2] / "docs"


class Mailbox:
    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
async def story(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[tuple[Site, HazinaProcess]]:
    require_browser()
    async with open_hub("sqlite", tmp_path) as hub:
        fake_port = free_port()
        fake = hub.start(
            "fake-whatsapp",
            "fake",
            "whatsapp",
            "--port",
            str(fake_port),
            "--phone-number-id",
            PHONE_NUMBER_ID,
            "--access-token",
            TOKEN,
            "--app-secret",
            APP_SECRET,
        )
        fake.url = f"http://127.0.0.1:{fake_port}"
        env = SERVER_ENV | {
            "HAZINA_WHATSAPP_API_BASE": fake.url,
            "HAZINA_SMTP_HOST": "127.0.0.1",
            "HAZINA_SMTP_PORT": str(mailbox[1]),
            "HAZINA_SMTP_SECURITY": "none",
        }
        server = await hub.serve(worker=True, **env)
        yield Site(hub, server), fake


async def test_a_link_from_the_dashboard_is_sent_read_paid_and_told(
    browser: Browser,
    page: Page,
    story: tuple[Site, HazinaProcess],
    mailbox: tuple[Mailbox, int],
    sink: WebhookSink,
) -> None:
    site, fake = story
    assert fake.url is not None
    async with (
        httpx.AsyncClient(base_url=site.url, headers=AUTH, timeout=30) as api,
        httpx.AsyncClient(base_url=fake.url, timeout=30) as graph,
    ):
        credentials = {
            "access_token": TOKEN,
            "app_secret": APP_SECRET,
            "phone_number_id": PHONE_NUMBER_ID,
            "verify_token": "browser-verify",
            "template_name": "payment_link",
        }
        account = await api.put(
            "/api/v1/provider-accounts/whatsapp", json={"credentials": credentials}
        )
        assert account.status_code == 200, account.text
        hook = account.json()["webhook_url"]
        assert hook == f"{site.url}/hooks/whatsapp/{account.json()['id']}"
        registered = await graph.post(
            "/_control/accounts",
            json={
                "phone_number_id": PHONE_NUMBER_ID,
                "access_token": TOKEN,
                "app_secret": APP_SECRET,
                "webhook_url": hook,
            },
        )
        assert registered.status_code == 200
        endpoint = sink.on("/hazina", always(200, b"ok"))
        saved = await api.put("/api/v1/webhooks/config", json={"webhook_url": endpoint})
        assert saved.status_code == 200, saved.text
        # The business wrote to its WhatsApp number today, so it can be told by text.
        wrote = await graph.post(
            "/_control/incoming",
            json={"phone_number_id": PHONE_NUMBER_ID, "from": MERCHANT_PHONE[1:], "text": "Hi"},
        )
        assert wrote.json()["webhook_status"] == 200

        await log_in(page, site, "test@example.com", PASSWORD)
        await page.goto(site.url + "/dashboard/links")
        settings = page.get_by_test_id("notification-settings-form")
        await settings.get_by_test_id("merchant-email-input").fill("owner@shop.example")
        await settings.get_by_test_id("merchant-phone-input").fill(MERCHANT_PHONE)
        await settings.get_by_test_id("paid-whatsapp").check()
        await settings.get_by_test_id("paid-email").check()
        await settings.get_by_test_id("save-notifications-button").click()
        await expect(page.locator(".flash")).to_have_text("Notification settings saved.")

        form = page.get_by_test_id("payment-link-form")
        await form.get_by_test_id("link-amount-input").fill("1250.00")
        await form.get_by_test_id("link-description-input").fill("Invoice 42")
        await form.get_by_test_id("link-customer-name-input").fill("Asha")
        await form.get_by_test_id("link-customer-phone-input").fill(CUSTOMER_PHONE)
        await form.get_by_test_id("link-send-whatsapp").check()
        await form.get_by_test_id("create-link-button").click()
        await expect(page.locator(".flash")).to_have_text("Payment link created.")
        row = page.get_by_test_id("payment-link-item").first
        code = await row.get_by_test_id("payment-link-url").inner_text()
        link_url = await row.get_by_test_id("payment-link-url").get_attribute("href")
        assert link_url == f"{site.url}/l/{code}"

        async def template_sent() -> bool:
            sent = (await graph.get("/_control/messages")).json()["data"]
            return any(m["type"] == "template" for m in sent)

        await site.hub.eventually(template_sent, within=20, what="the template at the fake")
        [template] = [
            m
            for m in (await graph.get("/_control/messages")).json()["data"]
            if m["type"] == "template"
        ]
        assert template["to"] == CUSTOMER_PHONE[1:]
        button = template["template"]["components"][1]
        assert button["parameters"] == [{"type": "text", "text": code}]

        async def read_shown() -> bool:
            await page.reload()
            status = row.get_by_test_id("message-status").first
            return await status.inner_text() == "read"

        await site.hub.eventually(read_shown, within=20, what="read on the link", interval=0.5)

        phone = await browser.new_context(viewport={"width": 360, "height": 740})
        try:
            buyer = await phone.new_page()
            await buyer.goto(link_url)
            await expect(buyer.get_by_test_id("order-amount")).to_have_text("₹1,250.00")
            await expect(buyer.get_by_test_id("link-description")).to_have_text("Invoice 42")
            await buyer.get_by_test_id("method-upi").click()
            assert await buyer.evaluate("document.documentElement.scrollWidth") <= 360
            await screenshot(buyer, "payment-link-360")
            DOCS.mkdir(exist_ok=True)
            await buyer.screenshot(path=DOCS / "payment-link-360.png", full_page=True)
            upi = buyer.get_by_test_id("upi-form")
            await upi.get_by_test_id("vpa-input").fill("asha@okhdfcbank")
            await upi.get_by_test_id("pay-button").click()
            await expect(buyer.get_by_test_id("success-state")).to_be_visible()
            await buyer.reload()
            await expect(buyer.get_by_test_id("link-receipt")).to_be_visible()
            assert await buyer.evaluate("document.documentElement.scrollWidth") <= 360
        finally:
            await phone.close()

        await page.reload()
        await expect(row.get_by_test_id("payment-link-status")).to_have_text("paid")

        async def told() -> bool:
            texts = [
                m
                for m in (await graph.get("/_control/messages")).json()["data"]
                if m["type"] == "text" and m["to"] == MERCHANT_PHONE[1:]
            ]
            return bool(texts) and bool(mailbox[0].received)

        await site.hub.eventually(told, within=20, what="the business told", interval=0.2)
        [mail] = mailbox[0].received
        assert mail["To"] == "owner@shop.example"
        assert mail["Subject"].startswith("Paid: ₹1,250.00 for order order_")
        await sink.wait_for(1, "/hazina", within=20)
        events = [json.loads(r.body)["event"] for r in sink.at("/hazina")]
        assert "payment.success" in events
