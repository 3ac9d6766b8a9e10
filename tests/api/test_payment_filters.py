"""`GET /api/v1/payments` filtered: status, method, provider, UTC days, amounts and a search, all
together narrowing one list; bad values answer the contract's 400 and list nothing."""

from typing import Any

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.worker import Worker
from tests.conftest import http_client
from tests.factories import other_merchant_headers
from tests.ledger.helpers import new_account
from tests.payment_mix import Mix, payment_mix
from tests.waiting import drain


async def listed(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/v1/payments", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["data"])
    return [payment["id"] for payment in body["data"]]


@pytest.fixture
async def mix(client: httpx.AsyncClient, worker: Worker, db: Database) -> Mix:
    return await payment_mix(client, worker, db)


async def test_each_filter_narrows_the_list(client: httpx.AsyncClient, mix: Mix) -> None:
    ids = mix.ids

    async def names(**params: Any) -> list[str]:
        by_id = {payment_id: name for name, payment_id in ids.items()}
        return [by_id[payment_id] for payment_id in await listed(client, **params)]

    # Newest first, like the unfiltered list.
    assert await names() == ["big", "alice", "bob", "card", "old"]
    assert await names(status="failed") == ["bob"]
    assert await names(status="success") == ["big", "alice", "card", "old"]
    assert await names(method="card") == ["big", "card"]
    assert await names(provider="sandbox") == ["big", "alice", "bob", "card", "old"]
    assert await names(provider="stripe") == []
    # Whole UTC days, both ends included: the earlier day's first and last instants.
    day = mix.earlier.isoformat()
    assert await names(created_from=day, created_to=day) == ["bob", "card"]
    assert await names(created_from=day) == ["big", "alice", "bob", "card"]
    assert await names(created_to=day) == ["bob", "card", "old"]
    next_day = mix.earlier.fromordinal(mix.earlier.toordinal() + 1).isoformat()
    assert await names(created_from=next_day, created_to=mix.today.isoformat()) == [
        "big",
        "alice",
    ]
    # The calendar's ends are days like any other.
    assert await names(created_from="0001-01-01", created_to="9999-12-31") == await names()
    assert await names(amount_min=10_000, amount_max=25_000) == ["alice", "card"]
    assert await names(amount_min=99_999) == ["big"]
    assert await names(amount_max=4_999) == []
    # Together: every field holds.
    assert await names(status="success", method="upi", created_to=day) == ["old"]
    # An empty parameter means "any", as a blank form field does.
    assert await names(status="", method="", q="") == ["big", "alice", "bob", "card", "old"]


async def test_search_by_id_receipt_or_customer(client: httpx.AsyncClient, mix: Mix) -> None:
    ids = mix.ids
    alice = (await client.get(f"/api/v1/payments/{ids['alice']}")).json()
    assert await listed(client, q=ids["alice"]) == [ids["alice"]]
    assert await listed(client, q=alice["order_id"]) == [ids["alice"]]
    # Receipts and the customer's VPA: any part, any case.
    assert await listed(client, q="inv-2026") == [ids["alice"], ids["card"]]
    assert await listed(client, q="INV-2026-002") == [ids["card"]]
    assert await listed(client, q="ALICE@OK") == [ids["alice"]]
    assert await listed(client, q="paytm") == [ids["bob"]]
    # LIKE's wildcards are literal text here: `%` and `_` match themselves only.
    assert await listed(client, q="50%_") == [ids["big"]]
    assert await listed(client, q="%") == [ids["big"]]
    assert await listed(client, q="_") == [ids["big"]]
    # A part of an id is not an id.
    assert await listed(client, q=ids["alice"][:-1]) == []


async def test_another_merchant_finds_none_of_them(container: Container, mix: Mix) -> None:
    async with http_client(container, await other_merchant_headers(container)) as other:
        assert await listed(other) == []
        assert await listed(other, q=mix.ids["alice"]) == []
        assert await listed(other, q="inv-2026") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=paid", "status"),
        ("method=UPI", "method"),
        ("provider=" + "x" * 33, "provider"),
        ("created_from=2026-02-30", "created_from"),
        ("created_to=yesterday", "created_to"),
        ("created_from=0", "created_from: Value error, must be a day written YYYY-MM-DD"),
        ("created_to=1700000000", "created_to"),
        ("amount_min=-1", "amount_min"),
        ("amount_max=1.5", "amount_max"),
        ("amount_max=" + str(2**63), "amount_max"),
        ("q=" + "x" * 201, "q"),
        ("created_from=2026-03-02&created_to=2026-03-01", "created_from must not be after"),
        ("amount_min=10&amount_max=9", "amount_min must not exceed"),
    ],
)
async def test_a_bad_filter_is_a_clear_400(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await client.get(f"/api/v1/payments?{query}")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST_ERROR"
    assert field in error["description"], error


async def test_a_wallets_account_id_finds_its_credit_payments(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    wallet = await new_account(client, kind="customer")
    top_up = await client.post(
        "/api/v1/orders",
        json={"amount": 5_000, "purpose": "top_up", "customer_account_id": wallet},
    )
    assert top_up.status_code == 201, top_up.text
    body = {"order_id": top_up.json()["id"], "method": "upi", "vpa": "fan@okbank"}
    assert (await client.post("/api/v1/payments", json=body)).status_code == 201
    await drain(worker)
    order = await client.post("/api/v1/orders", json={"amount": 1_500})
    spend = {"order_id": order.json()["id"], "method": "credit", "account_id": wallet}
    spent = await client.post("/api/v1/payments", json=spend)
    assert spent.status_code == 201, spent.text
    assert await listed(client, q=wallet) == [spent.json()["id"]]
    assert await listed(client, method="credit", provider="credit") == [spent.json()["id"]]
