"""Seed 001's story in a real browser against real processes, on both databases: the business
requests a link from its dashboard, `hazina fake whatsapp` receives the template with the link's
code as its URL button parameter and reports it delivered and read, the customer pays on the
link page (360 px wide) in the sandbox or at Stripe (`hazina fake stripe`, whose signed webhooks
settle the payment), and the business is told by WhatsApp and by email (an aiosmtpd server)
while its endpoint receives payment.success."""

import email
import email.policy
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from playwright.async_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from hazina.testing.sink import WebhookSink, always
from tests.browser.conftest import PASSWORD, SERVER_ENV, Site, log_in, require_browser, screenshot
from tests.browser.test_providers import Stripe, start_stripe_fake
from tests.e2e.servers import AUTH, Hub, free_port, open_hub

pytestmark = pytest.mark.slow  # real servers, two provider fakes and a browser

APP_SECRET = "browser-whatsapp-app-secret"
TOKEN = "EAAGbrowsertoken"
PHONE_NUMBER_ID = "106540352242922"
MERCHANT_PHONE = "+255713000111"
CUSTOMER_PHONE = "+255712345678"
STRIPE_KEY = "sk_test_browserlinks"
STRIPE_WEBHOOK_SECRET = "whsec_browserlinks"
PHONE = ViewportSize(width=360, height=740)
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


@dataclass(frozen=True)
class Story:
    """`hazina serve --worker` whose WhatsApp account talks to `hazina fake whatsapp`, whose
    default Stripe account (environment, test mode) talks to `hazina fake stripe`, and whose
    email goes to the aiosmtpd mailbox."""

    site: Site
    whatsapp_url: str
    stripe: Stripe
    mailbox: Mailbox

    @property
    def hub(self) -> Hub:
        return self.site.hub


@pytest.fixture(params=["sqlite", "postgres"])
async def story(
    request: pytest.FixtureRequest, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[Story]:
    require_browser()
    async with open_hub(request.param, tmp_path) as hub:
        await hub.prepare()
        whatsapp_port = free_port()
        hub.start(
            "fake-whatsapp",
            "fake",
            "whatsapp",
            "--port",
            str(whatsapp_port),
            "--phone-number-id",
            PHONE_NUMBER_ID,
            "--access-token",
            TOKEN,
            "--app-secret",
            APP_SECRET,
        )
        stripe = await start_stripe_fake(hub)
        env = SERVER_ENV | {
            "HAZINA_WHATSAPP_API_BASE": f"http://127.0.0.1:{whatsapp_port}",
            "HAZINA_SMTP_HOST": "127.0.0.1",
            "HAZINA_SMTP_PORT": str(mailbox[1]),
            "HAZINA_SMTP_SECURITY": "none",
            "HAZINA_STRIPE_API_BASE": stripe.fake_url,
            "STRIPE_SECRET_KEY": STRIPE_KEY,
            "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        }
        server = await hub.serve(worker=True, **env)
        registered = await stripe.control(
            "webhook_endpoints",
            api_key=STRIPE_KEY,
            url=f"{server.url}/hooks/stripe",
            secret=STRIPE_WEBHOOK_SECRET,
        )
        assert registered["status"] == "enabled"
        yield Story(Site(hub, server), f"http://127.0.0.1:{whatsapp_port}", stripe, mailbox[0])


@pytest.fixture
async def api(story: Story) -> AsyncIterator[httpx.AsyncClient]:
    """The test merchant's JSON API on the story's server."""
    async with httpx.AsyncClient(base_url=story.site.url, headers=AUTH, timeout=30) as client:
        yield client


@pytest.fixture
async def graph(story: Story) -> AsyncIterator[httpx.AsyncClient]:
    """The WhatsApp fake: its Graph API and its `/_control/` calls."""
    async with httpx.AsyncClient(base_url=story.whatsapp_url, timeout=30) as client:
        yield client


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    """The customer's phone, 360 px wide."""
    context = await browser.new_context(viewport=PHONE)
    yield context
    await context.close()


@dataclass(frozen=True)
class RequestedLink:
    id: str
    code: str
    url: str
    row: Locator  # the link's row on /dashboard/links


# --- The business's side ---------------------------------------------------------------------


async def connect_whatsapp(story: Story, api: httpx.AsyncClient, graph: httpx.AsyncClient) -> None:
    """The merchant's WhatsApp account, known to the fake with its webhook URL; the business
    wrote to its number today, so it can be told by text."""
    credentials = {
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "phone_number_id": PHONE_NUMBER_ID,
        "verify_token": "browser-verify",
        "template_name": "payment_link",
    }
    account = await api.put("/api/v1/provider-accounts/whatsapp", json={"credentials": credentials})
    assert account.status_code == 200, account.text
    hook = account.json()["webhook_url"]
    assert hook == f"{story.site.url}/hooks/whatsapp/{account.json()['id']}"
    registered = await graph.post(
        "/_control/accounts",
        json={
            "phone_number_id": PHONE_NUMBER_ID,
            "access_token": TOKEN,
            "app_secret": APP_SECRET,
            "webhook_url": hook,
        },
    )
    assert registered.status_code == 200, registered.text
    wrote = await graph.post(
        "/_control/incoming",
        json={"phone_number_id": PHONE_NUMBER_ID, "from": MERCHANT_PHONE[1:], "text": "Hi"},
    )
    assert wrote.json()["webhook_status"] == 200


async def request_link(
    story: Story,
    page: Page,
    api: httpx.AsyncClient,
    graph: httpx.AsyncClient,
    sink: WebhookSink,
    methods: tuple[str, ...],
) -> RequestedLink:
    """From the dashboard: the business asks to be told when paid, then requests a link (for
    `methods`, or every method when empty) sent over WhatsApp, which the customer reads."""
    site = story.site
    await connect_whatsapp(story, api, graph)
    endpoint = sink.on("/hazina", always(200, b"ok"))
    saved = await api.put("/api/v1/webhooks/config", json={"webhook_url": endpoint})
    assert saved.status_code == 200, saved.text

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
    for method in methods:
        await form.get_by_role("checkbox", name=method, exact=True).check()
    await form.get_by_test_id("link-send-whatsapp").check()
    await form.get_by_test_id("create-link-button").click()
    await expect(page.locator(".flash")).to_have_text("Payment link created.")
    row = page.get_by_test_id("payment-link-item").first
    code = await row.get_by_test_id("payment-link-url").inner_text()
    url = await row.get_by_test_id("payment-link-url").get_attribute("href")
    link_id = await row.get_attribute("data-link-id")
    assert url == f"{site.url}/l/{code}"
    assert link_id is not None
    created = (await api.get(f"/api/v1/payment-links/{link_id}")).json()
    assert created["methods"] == (list(methods) or None)

    async def template_sent() -> bool:
        sent = (await graph.get("/_control/messages")).json()["data"]
        return any(m["type"] == "template" for m in sent)

    await story.hub.eventually(template_sent, within=20, what="the template at the fake")
    [template] = [
        m for m in (await graph.get("/_control/messages")).json()["data"] if m["type"] == "template"
    ]
    assert template["to"] == CUSTOMER_PHONE[1:]
    button = template["template"]["components"][1]
    assert button["parameters"] == [{"type": "text", "text": code}]

    async def read_shown() -> bool:
        await page.reload()
        status = row.get_by_test_id("message-status").first
        return await status.inner_text() == "read"

    await story.hub.eventually(read_shown, within=20, what="read on the link", interval=0.5)
    return RequestedLink(link_id, code, url, row)


async def assert_paid_and_told(
    story: Story,
    page: Page,
    api: httpx.AsyncClient,
    graph: httpx.AsyncClient,
    sink: WebhookSink,
    link: RequestedLink,
    payment_id: str,
) -> None:
    """The link reads paid over the API and on the dashboard, the business is told by WhatsApp
    and by email, and its endpoint receives the payment's payment.success."""
    found = (await api.get(f"/api/v1/payment-links/{link.id}")).json()
    assert found["status"] == "paid"
    await page.reload()
    await expect(link.row.get_by_test_id("payment-link-status")).to_have_text("paid")

    async def told() -> bool:
        texts = [
            m
            for m in (await graph.get("/_control/messages")).json()["data"]
            if m["type"] == "text" and m["to"] == MERCHANT_PHONE[1:]
        ]
        return bool(texts) and bool(story.mailbox.received)

    await story.hub.eventually(told, within=20, what="the business told", interval=0.2)
    [mail] = story.mailbox.received
    assert mail["To"] == "owner@shop.example"
    assert mail["Subject"].startswith(f"Paid: ₹1,250.00 for order {found['order_id']}")

    def successes() -> list[dict[str, Any]]:
        bodies = [json.loads(received.body) for received in sink.at("/hazina")]
        return [body for body in bodies if body["event"] == "payment.success"]

    async def delivered() -> bool:
        return bool(successes())

    await story.hub.eventually(delivered, within=20, what="payment.success at the endpoint")
    [success] = successes()
    assert success["data"]["payment"]["id"] == payment_id


# --- The customer's side ---------------------------------------------------------------------


async def open_link(buyer: Page, link: RequestedLink) -> None:
    await buyer.goto(link.url)
    await expect(buyer.get_by_test_id("order-amount")).to_have_text("₹1,250.00")
    await expect(buyer.get_by_test_id("link-description")).to_have_text("Invoice 42")


async def see_the_receipt(buyer: Page, link: RequestedLink, payment_id: str) -> None:
    await buyer.goto(link.url)
    await expect(buyer.get_by_test_id("link-receipt")).to_be_visible()
    await expect(buyer.get_by_test_id("payment-id")).to_have_text(payment_id)
    assert await buyer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


# --- The stories -----------------------------------------------------------------------------


async def test_a_link_from_the_dashboard_is_sent_read_paid_and_told(
    page: Page,
    phone: BrowserContext,
    story: Story,
    api: httpx.AsyncClient,
    graph: httpx.AsyncClient,
    sink: WebhookSink,
) -> None:
    link = await request_link(story, page, api, graph, sink, methods=())

    buyer = await phone.new_page()
    await open_link(buyer, link)
    await buyer.get_by_test_id("method-upi").click()
    assert await buyer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(buyer, "payment-link-360")
    DOCS.mkdir(exist_ok=True)
    await buyer.screenshot(path=DOCS / "payment-link-360.png", full_page=True)
    upi = buyer.get_by_test_id("upi-form")
    await upi.get_by_test_id("vpa-input").fill("asha@okhdfcbank")
    await upi.get_by_test_id("pay-button").click()
    await expect(buyer.get_by_test_id("success-state")).to_be_visible()
    payment_id = await buyer.get_by_test_id("payment-id").inner_text()
    await see_the_receipt(buyer, link, payment_id)

    await assert_paid_and_told(story, page, api, graph, sink, link, payment_id)


async def test_a_link_for_stripe_is_paid_at_stripe_and_told(
    page: Page,
    phone: BrowserContext,
    story: Story,
    api: httpx.AsyncClient,
    graph: httpx.AsyncClient,
    sink: WebhookSink,
) -> None:
    """The link allows Stripe only: its page offers Stripe alone, the customer pays on Stripe's
    hosted page, whose signed webhooks settle the payment, and Stripe sends them back to
    Hazina's success page; the link then shows the receipt."""
    site = story.site
    link = await request_link(story, page, api, graph, sink, methods=("stripe",))

    buyer = await phone.new_page()
    await open_link(buyer, link)
    buttons = buyer.get_by_test_id("payment-methods").locator("[data-method]")
    await expect(buttons).to_have_text(["Stripe"])
    session_page = re.compile(re.escape(story.stripe.fake_url) + r"/c/pay/(cs_test_\w+)$")
    await buyer.get_by_test_id("method-stripe").click()
    await buyer.wait_for_url(session_page)
    session = session_page.fullmatch(buyer.url)
    assert session, buyer.url
    await expect(buyer.locator(".amount")).to_have_text("1,250.00 INR")

    await buyer.get_by_role("button", name="Pay", exact=True).click()
    success_page = re.compile(re.escape(site.url) + r"/success\?payment_id=(pay_\w+)$")
    await buyer.wait_for_url(success_page)
    returned = success_page.fullmatch(buyer.url)
    assert returned, buyer.url
    payment_id = returned.group(1)
    await expect(buyer.locator("[data-outcome]")).to_have_attribute("data-outcome", "success")
    await expect(buyer.locator("main")).to_contain_text("₹1,250.00 · success")
    paid = (await api.get(f"/api/v1/payments/{payment_id}")).json()
    assert (paid["method"], paid["status"]) == ("stripe", "success")
    assert paid["provider_reference"] == session.group(1)
    await see_the_receipt(buyer, link, payment_id)
    await screenshot(buyer, "payment-link-stripe-receipt-360")

    await assert_paid_and_told(story, page, api, graph, sink, link, payment_id)
