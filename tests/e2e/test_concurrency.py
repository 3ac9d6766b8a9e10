"""Concurrent requests against a real server: one key, one payment; many writers, no lock errors."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hazina.db.models import Event, IdempotencyKey, Job, Payment
from tests.e2e.servers import Hub, api, create_order, open_hub

pytestmark = pytest.mark.slow

PARALLEL = 20


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as hub:
        await hub.prepare()
        yield hub


async def test_parallel_duplicates_with_one_key_create_one_payment(hub: Hub) -> None:
    server = await hub.serve()
    async with api(server) as client:
        order_id = await create_order(client)
        body = {"order_id": order_id, "method": "upi", "vpa": "user@paytm"}
        key = {"Idempotency-Key": "checkout-attempt-1"}
        responses = await asyncio.gather(
            *(client.post("/api/v1/payments", json=body, headers=key) for _ in range(PARALLEL))
        )
        seen = [(r.status_code, r.text) for r in responses]
        assert {status for status, _ in seen} <= {201, 409}, seen
        created = {r.content for r in responses if r.status_code == 201}
        assert len(created) == 1, seen  # every 201 is the same bytes
        for response in responses:
            if response.status_code == 409:
                assert response.json()["error"]["code"] == "CONFLICT_ERROR", response.text
        [original] = created
        payment_id = responses[[r.status_code for r in responses].index(201)].json()["id"]

        replay = await client.post("/api/v1/payments", json=body, headers=key)
        assert (replay.status_code, replay.content) == (201, original)
        other = await client.post(
            "/api/v1/payments", json=body | {"vpa": "someone@upi"}, headers=key
        )
        assert other.status_code == 409, other.text
        assert other.json()["error"]["code"] == "CONFLICT_ERROR"

    async with hub.database() as db, db.read() as session:
        payments = (
            await session.scalars(select(Payment.id).where(Payment.order_id == order_id))
        ).all()
        created_events = await session.scalar(
            select(func.count()).where(Event.type == "payment.created")
        )
        jobs = await session.scalar(select(func.count()).select_from(Job))
        keys = await session.scalar(select(func.count()).select_from(IdempotencyKey))
    assert payments == [payment_id]
    assert (created_events, jobs, keys) == (1, 1, 1)


async def test_parallel_payments_without_a_key_all_succeed(hub: Hub) -> None:
    """SQLite's writers queue for the write lock: no 'database is locked', no lost write."""
    server = await hub.serve()
    async with api(server) as client:
        order_ids = await asyncio.gather(*(create_order(client) for _ in range(PARALLEL)))
        assert len(set(order_ids)) == PARALLEL
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/payments",
                    json={"order_id": order_id, "method": "upi", "vpa": "user@paytm"},
                )
                for order_id in order_ids
            )
        )
        seen = [(r.status_code, r.text) for r in responses]
        assert all(status == 201 for status, _ in seen), seen
        payments = {r.json()["id"]: r.json()["order_id"] for r in responses}
        assert sorted(payments.values()) == sorted(order_ids)  # one distinct payment each

    async with hub.database() as db, db.read() as session:
        stored = dict((await session.execute(select(Payment.id, Payment.order_id))).all())
        jobs = await session.scalar(select(func.count()).select_from(Job))
        events = await session.scalar(select(func.count()).where(Event.type == "payment.created"))
    assert stored == payments
    assert (jobs, events) == (PARALLEL, PARALLEL)
    assert "database is locked" not in hub.report()
