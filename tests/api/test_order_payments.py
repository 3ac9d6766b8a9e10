"""One payment in flight per order: a second is refused while one is pending, allowed after it
failed, refused once the order is paid; concurrent attempts on one order serialise."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.models import Event, Job, Payment
from hazina.worker import Worker
from tests.conftest import make_settings
from tests.settling import mark_failed
from tests.waiting import drain

PAID = {"error": {"code": "BAD_REQUEST_ERROR", "description": "Order is already paid"}}


def in_progress(payment_id: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": f"Order already has a payment in progress: {payment_id}",
        }
    }


async def new_order(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/orders", json={"amount": 50000})
    assert response.status_code == 201
    order_id: str = response.json()["id"]
    return order_id


def upi(order_id: str, vpa: str = "user@paytm") -> dict[str, Any]:
    return {"order_id": order_id, "method": "upi", "vpa": vpa}


async def payments_of(db: Database, order_id: str) -> list[tuple[str, str]]:
    async with db.read() as session:
        rows = await session.execute(
            select(Payment.id, Payment.status)
            .where(Payment.order_id == order_id)
            .order_by(Payment.created_at, Payment.id)
        )
        return [(row.id, row.status) for row in rows]


async def count(db: Database, model: type[Any]) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_second_payment_is_refused_while_one_is_pending(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, db: Database
) -> None:
    order_id = await new_order(client)
    first = await client.post("/api/v1/payments", json=upi(order_id))
    assert first.status_code == 201
    payment_id = first.json()["id"]
    card = {
        "number": "4111111111111111",
        "expiry_month": 12,
        "expiry_year": 2099,
        "cvv": "123",
        "holder_name": "J",
    }
    for response in (
        await client.post("/api/v1/payments", json=upi(order_id)),  # the very same request
        await client.post("/api/v1/payments", json=upi(order_id, "other@bank")),
        await client.post(
            "/api/v1/payments", json={"order_id": order_id, "method": "card", "card": card}
        ),
        await anonymous.post("/api/v1/payments/public", json=upi(order_id)),
        await client.post(
            "/api/v1/payments", json=upi(order_id), headers={"Idempotency-Key": "fresh"}
        ),
    ):
        assert (response.status_code, response.json()) == (400, in_progress(payment_id))
    assert await payments_of(db, order_id) == [(payment_id, "pending")]
    assert (await count(db, Job), await count(db, Event)) == (1, 2)
    # A refusal is not stored against the key: the key still works once the order is payable.
    await mark_failed(db, payment_id)
    retried = await client.post(
        "/api/v1/payments", json=upi(order_id), headers={"Idempotency-Key": "fresh"}
    )
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


async def test_other_orders_are_not_held_up(client: httpx.AsyncClient) -> None:
    busy = await new_order(client)
    assert (await client.post("/api/v1/payments", json=upi(busy))).status_code == 201
    other = await new_order(client)
    assert (await client.post("/api/v1/payments", json=upi(other))).status_code == 201


async def test_pending_then_failed_then_allowed_then_paid_then_refused(
    client: httpx.AsyncClient, db: Database, worker: Worker
) -> None:
    order_id = await new_order(client)
    first = (await client.post("/api/v1/payments", json=upi(order_id))).json()["id"]
    refused = await client.post("/api/v1/payments", json=upi(order_id))
    assert (refused.status_code, refused.json()) == (400, in_progress(first))
    await mark_failed(db, first)
    second = await client.post("/api/v1/payments", json=upi(order_id))
    assert second.status_code == 201
    second_id = second.json()["id"]
    refused = await client.post("/api/v1/payments", json=upi(order_id))
    assert (refused.status_code, refused.json()) == (400, in_progress(second_id))
    await drain(worker)  # the sandbox approves it
    assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "paid"
    for response in (
        await client.post("/api/v1/payments", json=upi(order_id)),
        await client.post("/api/v1/payments", json=upi(order_id, "x@bank")),
    ):
        assert (response.status_code, response.json()) == (400, PAID)
    assert await payments_of(db, order_id) == [(first, "failed"), (second_id, "success")]


class TestAfterADecline:
    """TEST_PAYMENT_SUCCESS=false: the worker's decline leaves the order payable again."""

    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return make_settings(database_url, test_payment_success=False)

    async def test_a_declined_payment_frees_the_order(
        self, client: httpx.AsyncClient, db: Database, worker: Worker
    ) -> None:
        order_id = await new_order(client)
        first = (await client.post("/api/v1/payments", json=upi(order_id))).json()["id"]
        refused = await client.post("/api/v1/payments", json=upi(order_id))
        assert (refused.status_code, refused.json()) == (400, in_progress(first))
        await drain(worker)
        second = await client.post("/api/v1/payments", json=upi(order_id))
        assert second.status_code == 201, second.text
        assert await payments_of(db, order_id) == [
            (first, "failed"),
            (second.json()["id"], "pending"),
        ]


async def test_concurrent_attempts_on_one_order_create_one_payment(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, db: Database
) -> None:
    order_id = await new_order(client)
    attempts = [
        client.post("/api/v1/payments", json=upi(order_id, f"user{n}@bank")) for n in range(5)
    ] + [
        anonymous.post("/api/v1/payments/public", json=upi(order_id, f"buyer{n}@bank"))
        for n in range(5)
    ]
    responses = await asyncio.gather(*attempts)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [400] * 9, [r.text for r in responses]
    [created] = [response for response in responses if response.status_code == 201]
    payment_id = created.json()["id"]
    for response in responses:
        if response.status_code == 400:
            assert response.json() == in_progress(payment_id)
    assert await payments_of(db, order_id) == [(payment_id, "pending")]
    assert (await count(db, Payment), await count(db, Job), await count(db, Event)) == (1, 1, 2)
    assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "attempted"
