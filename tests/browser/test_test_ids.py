"""Every data-test-id of the gateway contract (sections 1.10 and 1.11), on its page, with the
element and attributes the contract gives it."""

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import PASSWORD, Site, log_in, new_order

pytestmark = pytest.mark.slow  # a real server and a browser

LOGIN = [
    'form[data-test-id="login-form"]',
    'input[type="email"][data-test-id="email-input"]',
    '[data-test-id="password-input"]',
    '[data-test-id="login-button"]',
]
DASHBOARD = [
    '[data-test-id="dashboard"] [data-test-id="api-credentials"] [data-test-id="api-key"]',
    '[data-test-id="dashboard"] [data-test-id="api-credentials"] [data-test-id="api-secret"]',
    '[data-test-id="stats-container"] [data-test-id="total-transactions"]',
    '[data-test-id="stats-container"] [data-test-id="total-amount"]',
    '[data-test-id="stats-container"] [data-test-id="success-rate"]',
]
ROW = 'table[data-test-id="transactions-table"] tr[data-test-id="transaction-row"][data-payment-id]'
TRANSACTIONS = [
    'table[data-test-id="transactions-table"]',
    *(
        f'{ROW} [data-test-id="{cell}"]'
        for cell in ("payment-id", "order-id", "amount", "method", "status", "created-at")
    ),
]
TRANSACTION_HEADERS = ["Payment ID", "Order ID", "Amount", "Method", "Status", "Created"]
CONFIG = '[data-test-id="webhook-config"] form[data-test-id="webhook-config-form"]'
LOG = (
    'table[data-test-id="webhook-logs-table"] tr[data-test-id="webhook-log-item"][data-webhook-id]'
)
WEBHOOKS = [
    f'{CONFIG} input[type="url"][data-test-id="webhook-url-input"]',
    f'{CONFIG} span[data-test-id="webhook-secret"]',
    f'{CONFIG} button[data-test-id="regenerate-secret-button"]',
    f'{CONFIG} button[type="submit"][data-test-id="save-webhook-button"]',
    f'{CONFIG} button[type="button"][data-test-id="test-webhook-button"]',
    'table[data-test-id="webhook-logs-table"]',
    *(
        f'{LOG} [data-test-id="{cell}"]'
        for cell in (
            "webhook-event",
            "webhook-status",
            "webhook-attempts",
            "webhook-last-attempt",
            "webhook-response-code",
        )
    ),
    f'{LOG} button[data-test-id="retry-webhook-button"][data-webhook-id]',
]
WEBHOOK_HEADERS = ["Event", "Status", "Attempts", "Last Attempt", "Response Code", "Actions"]
DOCS = [
    '[data-test-id="api-docs"] [data-test-id="section-create-order"]'
    ' pre[data-test-id="code-snippet-create-order"]',
    '[data-test-id="api-docs"] [data-test-id="section-sdk-integration"]'
    ' [data-test-id="code-snippet-sdk"]',
    '[data-test-id="api-docs"] [data-test-id="section-webhook-verification"]'
    ' [data-test-id="code-snippet-webhook"]',
]
CHECKOUT = [
    '[data-test-id="checkout-container"] [data-test-id="order-summary"]'
    ' [data-test-id="order-amount"]',
    '[data-test-id="checkout-container"] [data-test-id="order-summary"] [data-test-id="order-id"]',
    '[data-test-id="payment-methods"] [data-test-id="method-upi"][data-method="upi"]',
    '[data-test-id="payment-methods"] [data-test-id="method-card"][data-method="card"]',
    'form[data-test-id="upi-form"] [data-test-id="vpa-input"]',
    'form[data-test-id="upi-form"] [data-test-id="pay-button"]',
    'form[data-test-id="card-form"] [data-test-id="card-number-input"]',
    'form[data-test-id="card-form"] [data-test-id="expiry-input"][placeholder="MM/YY"]',
    'form[data-test-id="card-form"] [data-test-id="cvv-input"]',
    'form[data-test-id="card-form"] [data-test-id="cardholder-name-input"]',
    'form[data-test-id="card-form"] [data-test-id="pay-button"]',
    '[data-test-id="processing-state"] [data-test-id="processing-message"]',
    '[data-test-id="success-state"] [data-test-id="payment-id"]',
    '[data-test-id="success-state"] [data-test-id="success-message"]',
    '[data-test-id="error-state"] [data-test-id="error-message"]',
    '[data-test-id="error-state"] [data-test-id="retry-button"]',
]
MODAL = [
    '#payment-gateway-modal[data-test-id="payment-modal"] > .modal-overlay > .modal-content'
    ' > iframe[data-test-id="payment-iframe"]',
    '#payment-gateway-modal[data-test-id="payment-modal"] > .modal-overlay > .modal-content'
    ' > button.close-button[data-test-id="close-modal-button"]',
]


async def assert_present(page: Page, selectors: list[str]) -> None:
    missing = [selector for selector in selectors if await page.locator(selector).count() == 0]
    assert not missing, f"missing on {page.url}: {missing}"


async def test_every_contract_test_id_is_on_its_page(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    # A payment and a webhook delivery, so the tables have rows.
    order_id = await new_order(api)
    payment = await api.post(
        "/api/v1/payments", json={"order_id": order_id, "method": "upi", "vpa": "a@paytm"}
    )
    assert payment.status_code == 201
    sent = await api.post("/api/v1/webhooks/test")
    assert sent.status_code == 200

    await page.goto(site.url + "/login")
    await assert_present(page, LOGIN)
    await log_in(page, site, "test@example.com", PASSWORD)
    await assert_present(page, DASHBOARD)
    await page.goto(site.url + "/dashboard/transactions")
    await assert_present(page, TRANSACTIONS)
    headers = page.locator('[data-test-id="transactions-table"] thead th')
    await expect(headers).to_have_text(TRANSACTION_HEADERS)
    await page.goto(site.url + "/dashboard/webhooks")
    await page.get_by_test_id("webhook-url-input").fill("http://127.0.0.1:9/unreachable")
    await page.get_by_test_id("save-webhook-button").click()
    try:
        await page.get_by_test_id("test-webhook-button").click()
        await expect(page.get_by_test_id("webhook-log-item").first).to_be_visible()
        await assert_present(page, WEBHOOKS)
    finally:
        await api.put("/api/v1/webhooks/config", json={"webhook_url": None})
    headers = page.locator('[data-test-id="webhook-logs-table"] thead th')
    await expect(headers).to_have_text(WEBHOOK_HEADERS)
    await page.goto(site.url + "/dashboard/docs")
    await assert_present(page, DOCS)

    await page.goto(f"{site.url}/checkout?order_id={await new_order(api)}")
    await assert_present(page, CHECKOUT)
    await expect(page.get_by_test_id("processing-message")).to_have_text(
        "Processing payment...", use_inner_text=False
    )

    await page.goto(site.url + "/demo")
    await page.locator("#demo-pay").click()
    await assert_present(page, MODAL)


# Sections 1.10 and 1.11 of the contract, in their order.
CONTRACT_TEST_IDS = [
    "login-form",
    "email-input",
    "password-input",
    "login-button",
    "dashboard",
    "api-credentials",
    "api-key",
    "api-secret",
    "stats-container",
    "total-transactions",
    "total-amount",
    "success-rate",
    "transactions-table",
    "transaction-row",
    "payment-id",
    "order-id",
    "amount",
    "method",
    "status",
    "created-at",
    "webhook-config",
    "webhook-config-form",
    "webhook-url-input",
    "webhook-secret",
    "regenerate-secret-button",
    "save-webhook-button",
    "test-webhook-button",
    "webhook-logs-table",
    "webhook-log-item",
    "webhook-event",
    "webhook-status",
    "webhook-attempts",
    "webhook-last-attempt",
    "webhook-response-code",
    "retry-webhook-button",
    "api-docs",
    "section-create-order",
    "code-snippet-create-order",
    "section-sdk-integration",
    "code-snippet-sdk",
    "section-webhook-verification",
    "code-snippet-webhook",
    "checkout-container",
    "order-summary",
    "order-amount",
    "payment-methods",
    "method-upi",
    "method-card",
    "upi-form",
    "vpa-input",
    "pay-button",
    "card-form",
    "card-number-input",
    "expiry-input",
    "cvv-input",
    "cardholder-name-input",
    "processing-state",
    "processing-message",
    "success-state",
    "success-message",
    "error-state",
    "error-message",
    "retry-button",
    "payment-modal",
    "payment-iframe",
    "close-modal-button",
]


def test_the_lists_above_name_every_contract_test_id() -> None:
    listed = " ".join(LOGIN + DASHBOARD + TRANSACTIONS + WEBHOOKS + DOCS + CHECKOUT + MODAL)
    assert len(set(CONTRACT_TEST_IDS)) == 66
    assert [tid for tid in CONTRACT_TEST_IDS if f'data-test-id="{tid}"' not in listed] == []
