"""Reporting in a browser: the Overview's chart; the Transactions page filtered by status and
date, then exported (the CSV's rows are the API's list for the same filter); the Balances page
showing the ledger API's figures."""

import re
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import update

from hazina.db.models import Payment
from tests.browser.conftest import Site, log_in, screenshot
from tests.exports import as_csv, read_csv, without_added

pytestmark = pytest.mark.slow  # a real server and a browser


async def _merchant(site: Site) -> tuple[str, str, dict[str, str]]:
    """A merchant of its own (`hazina merchant create`): its login email, password, API keys."""
    email = f"reports-{secrets.token_hex(3)}@example.com"
    code, output = await site.hub.run("merchant", "create", "--name", "Reports", "--email", email)
    assert code == 0, output

    def field(name: str) -> str:
        match = re.search(rf"^{name}:\s+(\S+)$", output, re.MULTILINE)
        assert match, output
        return match.group(1)

    keys = {"X-Api-Key": field("test api key"), "X-Api-Secret": field("test api secret")}
    return email, field("password"), keys


async def _paid(site: Site, api: httpx.AsyncClient, amounts: list[int]) -> list[str]:
    ids = []
    for amount in amounts:
        order = await api.post("/api/v1/orders", json={"amount": amount})
        body = {"order_id": order.json()["id"], "method": "upi", "vpa": "buyer@okbank"}
        ids.append((await api.post("/api/v1/payments", json=body)).json()["id"])

    async def settled() -> bool:
        listed = (await api.get("/api/v1/payments", params={"limit": 100})).json()["data"]
        return all(payment["status"] == "success" for payment in listed)

    await site.hub.eventually(settled, within=30, what="the payments settled")
    return ids


async def test_transactions_filtered_by_status_and_date_then_exported(
    page: Page, site: Site
) -> None:
    email, password, keys = await _merchant(site)
    async with httpx.AsyncClient(base_url=site.url, headers=keys, timeout=30) as api:
        ids = await _paid(site, api, [1_000, 2_000, 3_000, 4_000])
        async with site.hub.database() as db, db.transaction() as session:
            # One declined, one from last week: the filter must leave out both.
            await session.execute(
                update(Payment).where(Payment.id == ids[1]).values(status="failed")
            )
            last_week = datetime.now(UTC) - timedelta(days=7)
            await session.execute(
                update(Payment).where(Payment.id == ids[2]).values(created_at=last_week)
            )
        today = datetime.now(UTC).date().isoformat()
        query = {"status": "success", "created_from": today, "created_to": today}
        expected = (await api.get("/api/v1/payments", params=query)).json()["data"]
    assert [payment["id"] for payment in expected] == [ids[3], ids[0]]

    await log_in(page, site, email, password)
    # The Overview's chart draws the same figures: today 1,000 + 4,000 of three payments.
    day = page.locator(f'[data-test-id="chart-day"][data-day="{today}"]')
    await expect(day).to_have_attribute("data-volume", "5000")
    await expect(day).to_have_attribute("data-success-rate", "67")
    await expect(page.get_by_test_id("chart-day")).to_have_count(30)
    await screenshot(page, "overview-chart")
    await page.goto(site.url + "/dashboard/transactions")
    await expect(page.get_by_test_id("transaction-row")).to_have_count(4)
    form = page.get_by_test_id("transactions-filter-form")
    await form.get_by_test_id("filter-status").select_option("success")
    await form.get_by_test_id("filter-created-from").fill(today)
    await form.get_by_test_id("filter-created-to").fill(today)
    await form.get_by_test_id("filter-apply").click()
    await expect(page.get_by_test_id("transaction-row")).to_have_count(2)
    shown = [
        await row.get_attribute("data-payment-id")
        for row in await page.get_by_test_id("transaction-row").all()
    ]
    assert shown == [payment["id"] for payment in expected]
    await expect(page.get_by_test_id("filter-status")).to_have_value("success")
    await screenshot(page, "transactions-filtered")

    async with page.expect_download() as started:
        await page.get_by_test_id("export-csv").click()
    download = await started.value
    assert download.suggested_filename.endswith(".csv")
    text = (await download.path()).read_text(encoding="utf-8")
    rows = read_csv(text)
    assert without_added(rows) == [as_csv(payment) for payment in expected]
    assert {row["provider"] for row in rows} == {"sandbox"}


async def test_the_balances_page_shows_the_apis_figures(page: Page, site: Site) -> None:
    email, password, keys = await _merchant(site)
    async with httpx.AsyncClient(base_url=site.url, headers=keys, timeout=30) as api:
        created = await api.post(
            "/api/v1/accounts", json={"kind": "creator", "currency": "INR", "name": "Amina"}
        )
        creator = created.json()["id"]
        order = await api.post(
            "/api/v1/orders",
            json={
                "amount": 10_000,
                "splits": [{"account_id": creator, "amount": 9_000}],
                "platform_fee_bps": 1_000,
            },
        )
        assert order.status_code == 201, order.text
        body = {"order_id": order.json()["id"], "method": "upi", "vpa": "fan@okbank"}
        assert (await api.post("/api/v1/payments", json=body)).status_code == 201

        async def released() -> bool:
            account = (await api.get(f"/api/v1/accounts/{creator}")).json()
            return bool(account["balance"]["available"] == 9_000)

        await site.hub.eventually(released, within=30, what="the creator's share released")
        accounts = (await api.get("/api/v1/accounts", params={"limit": 20})).json()["data"]
        balance = (await api.get("/api/v1/balance")).json()

    await log_in(page, site, email, password)
    await page.get_by_role("link", name="Balances").click()
    await expect(page.get_by_test_id("balances")).to_be_visible()
    row = page.locator('[data-test-id="balance-row"][data-currency="INR"]')
    for bucket in ("available", "pending", "reserved"):
        [figure] = [entry["amount"] for entry in balance[bucket]]
        await expect(row.get_by_test_id(f"balance-{bucket}")).to_have_attribute(
            "data-amount", str(figure)
        )
    await expect(row.get_by_test_id("balance-available")).to_have_text("₹10.00")  # the fee
    await expect(page.get_by_test_id("account-row")).to_have_count(len(accounts))
    for account in accounts:
        shown = page.locator(f'[data-test-id="account-row"][data-account-id="{account["id"]}"]')
        await expect(shown.get_by_test_id("account-kind")).to_have_text(account["kind"])
        for bucket, amount in account["balance"].items():
            await expect(shown.get_by_test_id(f"account-{bucket}")).to_have_attribute(
                "data-amount", str(amount)
            )
    await expect(page.get_by_test_id("transfer-row")).to_have_count(2)  # charge, release
    await screenshot(page, "balances")

    await page.get_by_role("link", name=creator).click()
    earning = page.get_by_test_id("earning-row")
    await expect(earning).to_have_attribute("data-order-id", order.json()["id"])
    await expect(earning.get_by_test_id("earning-net")).to_have_text("₹90.00")
    await expect(page.get_by_test_id("account-available")).to_have_text("₹90.00")
