"""The hosted checkout in a browser: paying, failing and retrying, and fitting a phone screen."""

import re

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import (
    PASSWORD,
    Site,
    log_in,
    new_order,
    screenshot,
)
from tests.e2e.servers import AUTH

pytestmark = pytest.mark.slow  # a real server and a browser


async def test_a_upi_payment_succeeds_and_is_listed_in_the_transactions(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    order_id = await new_order(api)
    await page.goto(f"{site.url}/checkout?order_id={order_id}")
    await expect(page.get_by_test_id("order-amount")).to_have_text("₹500.00")
    await expect(page.get_by_test_id("order-id")).to_have_text(order_id)

    await page.get_by_test_id("method-upi").click()
    upi = page.get_by_test_id("upi-form")
    await upi.get_by_test_id("vpa-input").fill("asha@okhdfcbank")
    await upi.get_by_test_id("pay-button").click()
    await expect(page.get_by_test_id("processing-message")).to_have_text("Processing payment...")
    await expect(page.get_by_test_id("success-state")).to_be_visible()
    payment_id = await page.get_by_test_id("payment-id").inner_text()
    assert re.fullmatch(r"pay_[A-Za-z0-9]{16}", payment_id)
    await expect(page).to_have_url(re.compile(rf"/success\?payment_id={payment_id}$"))

    payment = (await api.get(f"/api/v1/payments/{payment_id}")).json()
    assert (payment["status"], payment["order_id"], payment["vpa"]) == (
        "success",
        order_id,
        "asha@okhdfcbank",
    )

    await log_in(page, site, "test@example.com", PASSWORD)
    await page.goto(site.url + "/dashboard/transactions")
    row = page.locator(f'[data-test-id="transaction-row"][data-payment-id="{payment_id}"]')
    await expect(row.get_by_test_id("payment-id")).to_have_text(payment_id)
    await expect(row.get_by_test_id("order-id")).to_have_text(order_id)
    await expect(row.get_by_test_id("amount")).to_have_text("₹500.00")
    await expect(row.get_by_test_id("method")).to_have_text("upi")
    await expect(row.get_by_test_id("status")).to_have_text("success")
    created = await row.get_by_test_id("created-at").inner_text()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", created)

    # The row opens the payment: its events, and a refund made from the page.
    await row.get_by_role("link", name=payment_id).click()
    await expect(page.locator("[data-payment-status]")).to_have_text("success")
    await expect(page.locator("[data-events]")).to_contain_text("payment.success")
    await page.locator("[data-refund-amount]").fill("100.50")
    await page.locator("[data-refund-button]").click()
    await expect(page.locator(".flash")).to_have_text("Refund of ₹100.50 created.")
    await expect(page.locator("[data-refunds] tbody tr")).to_have_count(1)
    refunds = (await api.get(f"/api/v1/payments/{payment_id}/refunds")).json()
    assert [refund["amount"] for refund in refunds["data"]] == [10050]


async def test_a_declined_payment_shows_the_error_and_retry_pays_again(
    page: Page, declining_site: Site
) -> None:
    async with httpx.AsyncClient(base_url=declining_site.url, headers=AUTH) as api:
        order_id = await new_order(api, 12345)
        await page.goto(f"{declining_site.url}/checkout?order_id={order_id}")
        await expect(page.get_by_test_id("order-amount")).to_have_text("₹123.45")

        await page.get_by_test_id("method-card").click()
        card = page.get_by_test_id("card-form")
        await card.get_by_test_id("card-number-input").fill("4111 1111 1111 1111")
        await card.get_by_test_id("expiry-input").fill("12/99")
        await card.get_by_test_id("cvv-input").fill("123")
        await card.get_by_test_id("cardholder-name-input").fill("Asha Rao")
        await card.get_by_test_id("pay-button").click()
        await expect(page.get_by_test_id("error-state")).to_be_visible()
        await expect(page.get_by_test_id("error-message")).to_have_text("Payment processing failed")

        # Retry leads back to the methods; the second attempt is a new payment of the order.
        await page.get_by_test_id("retry-button").click()
        await expect(page.get_by_test_id("error-state")).to_be_hidden()
        await page.get_by_test_id("method-upi").click()
        await page.get_by_test_id("vpa-input").fill("asha@paytm")
        await page.get_by_test_id("upi-form").get_by_test_id("pay-button").click()
        await expect(page.get_by_test_id("processing-state")).to_be_visible()
        await expect(page.get_by_test_id("error-state")).to_be_visible()

        payments = (await api.get("/api/v1/payments", params={"limit": 100})).json()["data"]
        mine = [payment for payment in payments if payment["order_id"] == order_id]
        assert sorted((p["method"], p["status"]) for p in mine) == [
            ("card", "failed"),
            ("upi", "failed"),
        ]


async def test_an_invalid_vpa_shows_the_api_description(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    await page.goto(f"{site.url}/checkout?order_id={await new_order(api)}")
    await page.get_by_test_id("method-upi").click()
    await page.get_by_test_id("vpa-input").fill("user@@bank")
    await page.get_by_test_id("upi-form").get_by_test_id("pay-button").click()
    await expect(page.get_by_test_id("error-message")).to_have_text("VPA format invalid")


async def test_the_checkout_fits_a_360_px_phone(
    browser: Browser, site: Site, api: httpx.AsyncClient
) -> None:
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = await context.new_page()
        await page.goto(f"{site.url}/checkout?order_id={await new_order(api)}")
        await expect(page.get_by_test_id("order-amount")).to_have_text("₹500.00")
        await page.get_by_test_id("method-card").click()  # the widest form
        await expect(page.get_by_test_id("card-form")).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
        await screenshot(page, "checkout")
    finally:
        await context.close()


async def test_a_checkout_without_an_order_says_so(page: Page, site: Site) -> None:
    response = await page.goto(site.url + "/checkout")
    assert response is not None
    assert response.status == 400
    await expect(page.locator("h1")).to_have_text("No order")
    await page.goto(site.url + "/checkout?order_id=order_doesnotexist00")
    await expect(page.get_by_test_id("error-message")).to_have_text("Order not found")
    await expect(page.get_by_test_id("retry-button")).to_be_hidden()
