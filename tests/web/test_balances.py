"""The Balances pages over HTTP on both databases: every figure the ledger API's, a creator's
earnings per order, and the entries export equal to the API's entries."""

import re
from typing import Any

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.services.reporting.ledger_exports import ENTRY_COLUMNS, entry_batches
from hazina.worker import Worker
from tests.conftest import http_client
from tests.factories import other_merchant_headers
from tests.ledger.helpers import new_account
from tests.waiting import drain
from tests.web.test_dashboard import texts_of


def amounts_of(page: httpx.Response, test_id: str) -> list[int]:
    """The `data-amount` of every element carrying `data-test-id`, in page order."""
    found = re.findall(rf'data-test-id="{test_id}" data-amount="(-?\d+)"', page.text)
    return [int(amount) for amount in found]


async def api(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def sale(client: httpx.AsyncClient, worker: Worker) -> dict[str, str]:
    """A creator's 8,000 of a 10,000 order with a 10 % fee, paid, then half refunded."""
    creator = await new_account(client, name="Amina", reference="creator-7")
    order = await client.post(
        "/api/v1/orders",
        json={
            "amount": 10_000,
            "splits": [{"account_id": creator, "amount": 8_000}],
            "platform_fee_bps": 1_000,
        },
    )
    assert order.status_code == 201, order.text
    payment = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "upi", "vpa": "fan@okbank"},
    )
    assert payment.status_code == 201, payment.text
    await drain(worker)
    refund = await client.post(
        f"/api/v1/payments/{payment.json()['id']}/refunds", json={"amount": 5_000}
    )
    assert refund.status_code == 201, refund.text
    await drain(worker)
    return {"creator": creator, "order": order.json()["id"], "payment": payment.json()["id"]}


async def test_the_balances_page_shows_the_apis_figures(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, sale: dict[str, str]
) -> None:
    page = await dashboard.get("/dashboard/balances")
    assert page.status_code == 200
    balance = await api(client, "/api/v1/balance")
    for bucket in ("available", "pending", "reserved"):
        assert amounts_of(page, f"balance-{bucket}") == [row["amount"] for row in balance[bucket]]
    assert [row["amount"] for row in balance["available"]] == [1_000]  # 500 fee + 500 revenue

    accounts = (await api(client, "/api/v1/accounts", limit=20))["data"]
    assert sale["creator"] in [account["id"] for account in accounts]
    rows = [f'data-test-id="account-row" data-account-id="{account["id"]}"' for account in accounts]
    assert [page.text.index(row) for row in rows] == sorted(page.text.index(row) for row in rows)
    for bucket in ("pending", "available", "reserved"):
        assert amounts_of(page, f"account-{bucket}") == [
            account["balance"][bucket] for account in accounts
        ]
    transfers = (await api(client, "/api/v1/ledger/transfers", limit=10))["data"]
    assert amounts_of(page, "transfer-amount") == [transfer["amount"] for transfer in transfers]
    assert texts_of(page, "transfer-kind") == [transfer["kind"] for transfer in transfers]


async def test_a_creators_page_shows_its_earnings_per_order_and_entries(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, sale: dict[str, str]
) -> None:
    creator = sale["creator"]
    page = await dashboard.get(f"/dashboard/balances/{creator}")
    assert page.status_code == 200
    account = await api(client, f"/api/v1/accounts/{creator}")
    assert account["balance"] == {"pending": 0, "available": 4_000, "reserved": 0}
    for bucket in ("available", "pending", "reserved"):
        assert amounts_of(page, f"account-{bucket}") == [account["balance"][bucket]]
    # The charge credited 8,000; the half refund took 4,000 back.
    assert f'data-test-id="earning-row" data-order-id="{sale["order"]}"' in page.text
    assert amounts_of(page, "earning-earned") == [8_000]
    assert amounts_of(page, "earning-reversed") == [4_000]
    assert amounts_of(page, "earning-net") == [4_000]

    entries = (await api(client, f"/api/v1/accounts/{creator}/entries", limit=100))["data"]
    shown = [f'data-entry-id="{entry["id"]}"' for entry in entries]
    assert all(marker in page.text for marker in shown)

    export = await dashboard.get(f"/dashboard/balances/{creator}/entries.csv")
    assert export.status_code == 200, export.text
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    lines = export.text.splitlines()
    assert lines[0] == ",".join(ENTRY_COLUMNS)
    expected = [
        ",".join("" if entry[column] is None else str(entry[column]) for column in ENTRY_COLUMNS)
        for entry in entries
    ]
    assert lines[1:] == expected


async def test_entry_batches_walk_every_entry_once(
    client: httpx.AsyncClient, container: Container, sale: dict[str, str]
) -> None:
    creator = sale["creator"]
    entries = (await api(client, f"/api/v1/accounts/{creator}/entries", limit=100))["data"]
    assert len(entries) == 4
    batches = [
        [row["id"] for row in batch]
        async for batch in entry_batches(container.db, TEST_MERCHANT_ID, creator, batch=3)
    ]
    assert batches == [[e["id"] for e in entries[:3]], [entries[3]["id"]]]


async def test_another_merchants_account_is_not_found(
    container: Container, dashboard: httpx.AsyncClient
) -> None:
    async with http_client(container, await other_merchant_headers(container)) as other:
        theirs = await new_account(other)
    for path in (f"/dashboard/balances/{theirs}", f"/dashboard/balances/{theirs}/entries.csv"):
        response = await dashboard.get(path)
        assert response.status_code == 404, response.text
        assert "Account not found" in response.text
        assert response.headers["content-type"].startswith("text/html")
