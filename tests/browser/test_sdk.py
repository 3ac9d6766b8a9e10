"""checkout.js on the demo page: the modal, a payment inside its iframe, and the callbacks."""

import re

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import Site, screenshot

pytestmark = pytest.mark.slow  # a real server and a browser

MODAL = '#payment-gateway-modal[data-test-id="payment-modal"] > .modal-overlay > .modal-content'


async def test_the_sdk_opens_the_modal_and_a_upi_payment_inside_it_succeeds(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    await page.goto(site.url + "/demo")
    order_id = await page.locator("[data-demo-order]").inner_text()
    await page.locator("#demo-pay").click()

    modal = page.get_by_test_id("payment-modal")
    await expect(modal).to_be_visible()
    iframe = page.locator(f'{MODAL} > iframe[data-test-id="payment-iframe"]')
    await expect(iframe).to_have_attribute(
        "src", f"{site.url}/checkout?order_id={order_id}&embedded=true"
    )
    await expect(page.locator(f"{MODAL} > button.close-button")).to_have_text("×")

    checkout = page.frame_locator('[data-test-id="payment-iframe"]')
    await expect(checkout.get_by_test_id("order-amount")).to_have_text("₹500.00")
    await checkout.get_by_test_id("method-upi").click()
    await checkout.get_by_test_id("vpa-input").fill("asha@okicici")
    await screenshot(page, "modal")
    await checkout.get_by_test_id("upi-form").get_by_test_id("pay-button").click()

    # onSuccess receives the payment id, then the modal closes (and onClose runs).
    result = page.locator("[data-demo-result]")
    await expect(result).to_have_text(re.compile(r"^Paid: pay_[A-Za-z0-9]{16}$"))
    await expect(modal).to_have_count(0)
    await expect(result).to_have_attribute("data-closed", "true")
    payment_id = await result.get_attribute("data-payment-id")
    payment = (await api.get(f"/api/v1/payments/{payment_id}")).json()
    assert (payment["status"], payment["order_id"]) == ("success", order_id)


async def test_messages_from_anything_but_the_checkout_iframe_are_ignored(
    page: Page, site: Site
) -> None:
    await page.goto(site.url + "/demo")
    await page.locator("#demo-pay").click()
    await expect(page.get_by_test_id("payment-iframe")).to_be_visible()
    # Same origin as the checkout, but not its iframe: a fake result must change nothing.
    # Resolves once the message was dispatched: the SDK's listener, added first, has run by then.
    await page.evaluate(
        """() => new Promise((resolve) => {
            window.addEventListener("message", () => resolve(), {once: true});
            window.postMessage({type: "payment_success", data: {paymentId: "pay_forged"}}, "*");
        })"""
    )
    await expect(page.locator("[data-demo-result]")).to_have_text("")
    await expect(page.get_by_test_id("payment-modal")).to_have_count(1)

    await page.get_by_test_id("close-modal-button").click()
    await expect(page.get_by_test_id("payment-modal")).to_have_count(0)
    await expect(page.locator("[data-demo-result]")).to_have_attribute("data-closed", "true")


async def test_the_sdk_throws_without_a_key(page: Page, site: Site) -> None:
    await page.goto(site.url + "/demo")
    message = await page.evaluate(
        """() => {
            try { new PaymentGateway({orderId: "order_x"}); return "no error"; }
            catch (error) { return error.message; }
        }"""
    )
    assert message == "PaymentGateway: the 'key' option is required"


async def test_checkout_js_is_served_as_javascript(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        response = await client.get("/checkout.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "window.PaymentGateway = PaymentGateway" in response.text
