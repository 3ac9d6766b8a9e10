"""Several attempts per order: a new one is allowed while another is pending or after one
failed, refused once the order is paid; concurrent attempts are all created and the order is
paid once, the duplicates refunded."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.models import Event, Job, Payment, Refund
from hazina.worker import Worker
from tests.conftest import make_settings
from tests.settling import mark_failed
from tests.waiting import drain

PAID = {"error": {"code": "BAD_REQUEST_ERROR", "description": "Order already paid"}}


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


async def test_a_second_payment_is_allowed_while_one_is_pending(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, db: Database
) -> None:
    """A customer can always try again: an attempt still pending does not lock the order."""
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
    responses = [
        await client.post("/api/v1/payments", json=upi(order_id)),  # the very same request
        await client.post("/api/v1/payments", json=upi(order_id, "other@bank")),
        await client.post(
            "/api/v1/payments", json={"order_id": order_id, "method": "card", "card": card}
        ),
        await anonymous.post("/api/v1/payments/public", json=upi(order_id)),
        await client.post(
            "/api/v1/payments", json=upi(order_id), headers={"Idempotency-Key": "fresh"}
        ),
    ]
    for response in responses:
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "pending"
        assert response.json()["order_id"] == order_id
    created = [payment_id] + [response.json()["id"] for response in responses]
    assert len(set(created)) == 6
    assert sorted(await payments_of(db, order_id)) == sorted(
        (created_id, "pending") for created_id in created
    )
    # The sandbox cannot end an attempt: each keeps its job and its two events.
    assert (await count(db, Job), await count(db, Event)) == (6, 12)
    assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "attempted"
    # The attempt made with a key is stored against it: the same request replays it.
    retried = await client.post(
        "/api/v1/payments", json=upi(order_id), headers={"Idempotency-Key": "fresh"}
    )
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json() == responses[-1].json()
    assert await count(db, Payment) == 6


async def test_other_orders_are_not_held_up(client: httpx.AsyncClient) -> None:
    busy = await new_order(client)
    assert (await client.post("/api/v1/payments", json=upi(busy))).status_code == 201
    other = await new_order(client)
    assert (await client.post("/api/v1/payments", json=upi(other))).status_code == 201


async def test_pending_then_another_then_failed_then_allowed_then_paid_then_refused(
    client: httpx.AsyncClient, db: Database, worker: Worker
) -> None:
    order_id = await new_order(client)
    first = (await client.post("/api/v1/payments", json=upi(order_id))).json()["id"]
    another = await client.post("/api/v1/payments", json=upi(order_id))
    assert another.status_code == 201, another.text
    another_id = another.json()["id"]
    await mark_failed(db, first)
    await mark_failed(db, another_id)
    second = await client.post("/api/v1/payments", json=upi(order_id))
    assert second.status_code == 201
    second_id = second.json()["id"]
    await drain(worker)  # the sandbox approves it
    assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "paid"
    for response in (
        await client.post("/api/v1/payments", json=upi(order_id)),
        await client.post("/api/v1/payments", json=upi(order_id, "x@bank")),
    ):
        assert (response.status_code, response.json()) == (400, PAID)
    assert await payments_of(db, order_id) == [
        (first, "failed"),
        (another_id, "failed"),
        (second_id, "success"),
    ]


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
        retry = await client.post("/api/v1/payments", json=upi(order_id))
        assert retry.status_code == 201, retry.text
        retry_id = retry.json()["id"]
        await drain(worker)
        assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "attempted"
        second = await client.post("/api/v1/payments", json=upi(order_id))
        assert second.status_code == 201, second.text
        assert await payments_of(db, order_id) == [
            (first, "failed"),
            (retry_id, "failed"),
            (second.json()["id"], "pending"),
        ]


async def test_concurrent_attempts_on_one_order_are_all_created_and_pay_it_once(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, db: Database, worker: Worker
) -> None:
    order_id = await new_order(client)
    attempts = [
        client.post("/api/v1/payments", json=upi(order_id, f"user{n}@bank")) for n in range(5)
    ] + [
        anonymous.post("/api/v1/payments/public", json=upi(order_id, f"buyer{n}@bank"))
        for n in range(5)
    ]
    responses = await asyncio.gather(*attempts)
    assert [response.status_code for response in responses] == [201] * 10, [
        r.text for r in responses
    ]
    created = {response.json()["id"] for response in responses}
    assert len(created) == 10
    assert sorted(await payments_of(db, order_id)) == sorted(
        (payment_id, "pending") for payment_id in created
    )
    assert (await count(db, Payment), await count(db, Job), await count(db, Event)) == (10, 10, 20)
    assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "attempted"
    # The sandbox approves every attempt: the order is paid once, the duplicates refunded.
    await drain(worker)
    assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "paid"
    settled = await payments_of(db, order_id)
    statuses = sorted(status for _, status in settled)
    assert statuses == ["refunded"] * 9 + ["success"]
    [paid_by] = [payment_id for payment_id, status in settled if status == "success"]
    async with db.read() as session:
        payments = list(await session.scalars(select(Payment).where(Payment.order_id == order_id)))
        refunds = list(await session.scalars(select(Refund)))
        refunded_events = list(
            await session.scalars(select(Event).where(Event.type == "payment.refunded"))
        )
    for payment in payments:
        if payment.id == paid_by:
            assert (payment.review_reason, payment.amount_refunded) == (None, 0)
        else:
            assert payment.review_reason == "order_already_paid"
            assert payment.amount_refunded == payment.amount_received == 50000
    assert sorted(refund.payment_id for refund in refunds) == sorted(created - {paid_by})
    assert {(refund.amount, refund.status) for refund in refunds} == {(50000, "processed")}
    assert sorted(event.resource_id for event in refunded_events) == sorted(created - {paid_by})
