"""Concurrent refunds on one payment can never promise back more than the payment took."""

import asyncio

import httpx
from sqlalchemy import func, select

from hazina.db.database import Database
from hazina.db.models import Payment, Refund
from hazina.worker import Worker
from tests.envelopes import assert_error
from tests.factories import successful_payment

AMOUNT = 50000
SHARE = AMOUNT * 40 // 100


async def test_ten_parallel_refunds_of_forty_percent_accept_exactly_two(
    client: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    payment = await successful_payment(client, worker, AMOUNT)
    url = f"/api/v1/payments/{payment['id']}/refunds"

    # All ten are in flight at once: the ASGI app interleaves them on the event loop, each in
    # its own pooled transaction (PostgreSQL) or queued on the one writer (SQLite).
    responses = await asyncio.gather(
        *(client.post(url, json={"amount": SHARE, "reason": f"race {n}"}) for n in range(10))
    )

    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(accepted) == 2, [r.text for r in responses]
    assert len(refused) == 8
    for response in refused:
        assert_error(response, 400, "BAD_REQUEST_ERROR", "Refund amount exceeds available amount")
    assert len({r.json()["id"] for r in accepted}) == 2

    async with db.read() as session:
        refunded = await session.scalar(
            select(Payment.amount_refunded).where(Payment.id == payment["id"])
        )
        rows, total = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(Refund.amount), 0)).where(
                    Refund.payment_id == payment["id"]
                )
            )
        ).one()
    assert refunded == 2 * SHARE == AMOUNT * 80 // 100
    assert rows == 2
    assert total == refunded <= AMOUNT
    listed = (await client.get(url)).json()
    assert listed["total"] == 2
