"""The hosted checkout with Paynow (a real `hazina serve` + `hazina fake paynow`, Chromium): a
ZWG order offers EcoCash; the customer enters Paynow's success test number and the page follows
the payment to success. InnBucks shows its code, QR code and deep link, then the payment."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import SERVER_ENV, Site, require_browser, screenshot
from tests.e2e.servers import AUTH, open_hub
from tests.e2e.test_paynow import Paynow


@pytest.fixture(scope="module")
async def paynow_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Site, Paynow]]:
    require_browser()
    async with open_hub("sqlite", tmp_path_factory.mktemp("paynow")) as hub:
        paynow = Paynow(hub)
        server = await paynow.start(**SERVER_ENV)
        yield Site(hub, server), paynow


async def zwg_order(site: Site) -> str:
    async with httpx.AsyncClient(base_url=site.url, headers=AUTH, timeout=30) as api:
        response = await api.post("/api/v1/orders", json={"amount": 125050, "currency": "ZWG"})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def test_ecocash_for_a_zwg_order_with_the_success_number(
    page: Page, paynow_site: tuple[Site, Paynow]
) -> None:
    site, _ = paynow_site
    await page.goto(f"{site.url}/checkout?order_id={await zwg_order(site)}")
    await expect(page.get_by_test_id("order-amount")).to_have_text("ZiG 1,250.50")
    buttons = page.get_by_test_id("payment-methods").locator("[data-method]")
    await expect(buttons).to_contain_text(["Paynow", "EcoCash", "OneMoney", "InnBucks"])

    await page.get_by_test_id("method-ecocash").click()
    await expect(page.get_by_test_id("ecocash-form")).to_be_visible()
    await page.get_by_test_id("ecocash-phone-input").fill("0771111111")
    await page.get_by_test_id("ecocash-form").get_by_test_id("pay-button").click()
    await expect(page.get_by_test_id("processing-state")).to_contain_text("•••• 1111")
    await expect(page.get_by_test_id("success-state")).to_be_visible()
    await screenshot(page, "checkout-paynow-ecocash-success")


async def test_innbucks_shows_its_code_qr_and_deep_link_then_the_payment(
    page: Page, paynow_site: tuple[Site, Paynow]
) -> None:
    site, paynow = paynow_site
    await page.goto(f"{site.url}/checkout?order_id={await zwg_order(site)}")
    await page.get_by_test_id("method-innbucks").click()
    code = page.get_by_test_id("authorization-code")
    await expect(code).to_have_text(re.compile(r"^\d{9}$"))
    number = await code.inner_text()
    link = page.get_by_test_id("authorization-link")
    await expect(link).to_have_attribute(
        "href", f"schinn.wbpycode://innbucks.co.zw?pymInnCode={number}"
    )
    qr = page.get_by_test_id("authorization-qr")
    await expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml,"))
    # The SVG decodes as an image (a document without its namespace would not).
    await page.wait_for_function(
        "image => image.complete && image.naturalWidth > 0", arg=await qr.element_handle()
    )
    await screenshot(page, "checkout-paynow-innbucks-code")

    await paynow.control("POST", f"/_control/innbucks/{number}/pay")
    await expect(page.get_by_test_id("success-state")).to_be_visible()
