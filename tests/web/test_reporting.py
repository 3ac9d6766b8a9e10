"""The Transactions page filtered and exported as CSV, and the Overview's 30-day chart, over
HTTP through the ASGI app on both databases: the CSV holds exactly the API's list for the same
query string, the chart exactly the database's figures."""

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.domain.clock import utc_now
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.services.reporting.exports import payment_batches
from hazina.services.reporting.filters import NO_FILTER, PaymentFilter
from hazina.worker import Worker
from tests.conftest import http_client
from tests.exports import as_csv, read_csv, without_added
from tests.factories import other_merchant_headers, pending_payment
from tests.payment_mix import Mix, payment_mix
from tests.waiting import drain
from tests.web.test_dashboard import texts_of


@pytest.fixture
async def mix(client: httpx.AsyncClient, worker: Worker, db: Database) -> Mix:
    return await payment_mix(client, worker, db)


async def api_list(client: httpx.AsyncClient, query: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/payments", params={"limit": 100, **query})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return read_csv(response.text)


async def test_the_page_filters_and_its_export_equals_the_apis_list(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, mix: Mix
) -> None:
    query = {"status": "success", "created_from": mix.earlier.isoformat(), "method": "card"}
    page = await dashboard.get("/dashboard/transactions", params={**query, "q": ""})
    assert page.status_code == 200
    expected = await api_list(client, query)
    assert [p["id"] for p in expected] == [mix.ids["big"], mix.ids["card"]]
    assert texts_of(page, "payment-id") == [p["id"] for p in expected]
    # The form shows the filter it applied; the export link carries the same query.
    assert re.search(r'<option value="success"\s+selected', page.text)
    # Every method and provider a payment can have, the ledger's credit among them.
    for name in ("upi", "card", "sandbox", "credit"):
        assert f'<option value="{name}"' in page.text
    [href] = re.findall(r'href="([^"]+)"[^>]*data-test-id="export-csv"', page.text)
    href = href.replace("&amp;", "&")
    assert href.startswith("/dashboard/transactions/export.csv?")

    rows = csv_rows(await dashboard.get(href))
    assert without_added(rows) == [as_csv(p) for p in expected]
    assert [(row["receipt"], row["provider"]) for row in rows] == [
        ("50%_off", "sandbox"),
        ("inv-2026-002", "sandbox"),
    ]


async def test_the_unfiltered_export_is_every_payment_and_formulas_stay_text(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, mix: Mix
) -> None:
    rows = csv_rows(await dashboard.get("/dashboard/transactions/export.csv"))
    assert [row["id"] for row in rows] == [p["id"] for p in await api_list(client, {})]
    receipts = {row["id"]: row["receipt"] for row in rows}
    # A spreadsheet would run `=HYPERLINK(1)`: the export writes it as text.
    assert receipts[mix.ids["old"]] == "'=HYPERLINK(1)"
    assert receipts[mix.ids["bob"]] == ""


async def test_paging_keeps_the_filter(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    cheap = [(await pending_payment(client, 100))["id"] for _ in range(21)]
    await pending_payment(client, 200)
    first = await dashboard.get("/dashboard/transactions", params={"amount_max": "100"})
    assert texts_of(first, "payment-id") == cheap[::-1][:20]
    [next_href] = re.findall(r'<a href="([^"]+)" rel="next">', first.text)
    assert next_href.replace("&amp;", "&") == "?amount_max=100&offset=20"
    second = await dashboard.get("/dashboard/transactions" + next_href.replace("&amp;", "&"))
    assert texts_of(second, "payment-id") == [cheap[0]]


@pytest.mark.parametrize(
    "query",
    ["status=paid", "created_from=2026-03-02&created_to=2026-03-01", "amount_min=ten"],
)
async def test_a_bad_filter_is_a_400_page_that_lists_nothing(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, query: str
) -> None:
    await pending_payment(client)
    for path in ("/dashboard/transactions", "/dashboard/transactions/export.csv"):
        page = await dashboard.get(f"{path}?{query}")
        assert page.status_code == 400, page.text
        assert page.headers["content-type"].startswith("text/html")
        field = query.split("=")[0]
        assert field in texts_of(page, "transactions-filter-form")[0] or field in page.text
        assert re.search(r"<p class=\"error\" role=\"alert\" data-error>[^<]*" + field, page.text)
        assert texts_of(page, "payment-id") == []


async def test_another_merchants_payments_are_never_exported(
    container: Container, dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    mine = await pending_payment(client)
    async with http_client(container, await other_merchant_headers(container)) as other:
        theirs = await pending_payment(other)
    rows = csv_rows(await dashboard.get("/dashboard/transactions/export.csv"))
    assert [row["id"] for row in rows] == [mine["id"]]
    searched = await dashboard.get("/dashboard/transactions/export.csv", params={"q": theirs["id"]})
    assert csv_rows(searched) == []


async def test_export_batches_walk_every_row_once_across_equal_timestamps(
    db: Database, client: httpx.AsyncClient
) -> None:
    """Keyset pages of two over five payments created at the same instant: each exactly once,
    in the API list's order (created_at, then id, both descending)."""
    ids = [(await pending_payment(client, 100 + n))["id"] for n in range(5)]
    async with db.transaction() as session:
        await session.execute(
            update(Payment).where(Payment.id.in_(ids)).values(created_at=utc_now())
        )
    batches = [
        [row["id"] for row in batch]
        async for batch in payment_batches(db, TEST_MERCHANT_ID, NO_FILTER, batch=2)
    ]
    assert [len(batch) for batch in batches] == [2, 2, 1]
    walked = [payment_id for batch in batches for payment_id in batch]
    assert walked == [p["id"] for p in await api_list(client, {})]
    assert sorted(walked) == sorted(ids)
    only = PaymentFilter(amount_min=103)
    expected = [p["id"] for p in await api_list(client, {"amount_min": 103})]
    assert len(expected) == 2
    assert [
        row["id"]
        async for batch in payment_batches(db, TEST_MERCHANT_ID, only, batch=1)
        for row in batch
    ] == expected


async def test_the_overview_charts_the_last_30_days(dashboard: httpx.AsyncClient, mix: Mix) -> None:
    page = await dashboard.get("/dashboard")
    days = re.findall(r'<g data-test-id="chart-day" ([^>]*)>', page.text)
    assert len(days) == 30
    figures = [dict(re.findall(r'data-([a-z-]+)="([^"]*)"', attributes)) for attributes in days]
    by_day = {day["day"]: day for day in figures}
    assert figures[0]["day"] == (mix.today - timedelta(days=29)).isoformat()
    assert figures[-1]["day"] == mix.today.isoformat()
    # alice 10,000 + big 99,999 today; card 25,000 succeeded and bob failed on the earlier day.
    assert by_day[mix.today.isoformat()] == {
        "day": mix.today.isoformat(),
        "volume": "109999",
        "payments": "2",
        "successful": "2",
        "success-rate": "100",
    }
    assert by_day[mix.earlier.isoformat()] == {
        "day": mix.earlier.isoformat(),
        "volume": "25000",
        "payments": "2",
        "successful": "1",
        "success-rate": "50",
    }
    quiet = [
        day for day in figures if day["day"] not in (mix.today.isoformat(), mix.earlier.isoformat())
    ]
    assert {(day["volume"], day["payments"], day["success-rate"]) for day in quiet} == {
        ("0", "0", "")
    }
    # `old`, forty days back, is outside the window; the totals above still count it.
    assert texts_of(page, "total-transactions") == ["5"]
    assert 'data-test-id="daily-chart" data-currency="INR"' in page.text
    assert "₹1,099.99 from 2 of 2 payments (100% succeeded)" in page.text


async def test_the_chart_draws_one_currency_and_links_the_others(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, worker: Worker
) -> None:
    for amount, currency in ((12_345, "USD"), (50_000, "INR")):
        order = await client.post("/api/v1/orders", json={"amount": amount, "currency": currency})
        assert order.status_code == 201, order.text
        body = {"order_id": order.json()["id"], "method": "upi", "vpa": "fan@okbank"}
        assert (await client.post("/api/v1/payments", json=body)).status_code == 201
    await drain(worker)
    today = utc_now().date().isoformat()

    def volume_today(page: httpx.Response) -> str:
        match = re.search(rf'data-day="{today}" data-volume="(\d+)"', page.text)
        assert match, page.text
        return match.group(1)

    default = await dashboard.get("/dashboard")
    assert 'data-test-id="daily-chart" data-currency="INR"' in default.text
    assert volume_today(default) == "50000"
    assert texts_of(default, "chart-currency") == ["USD"]
    usd = await dashboard.get("/dashboard", params={"currency": "USD"})
    assert 'data-test-id="daily-chart" data-currency="USD"' in usd.text
    assert volume_today(usd) == "12345"
    assert texts_of(usd, "chart-currency") == ["INR"]
    assert (await dashboard.get("/dashboard", params={"currency": "usd"})).status_code == 400
