"""Funding a creator's account the way money really arrives (an order with a split, paid by
the sandbox, released), and reading payouts, for the payouts' tests."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from hazina.worker import Worker
from tests.ledger.helpers import balance_of, new_account
from tests.waiting import drain, wait_until

CURRENCY = "TZS"
PAID_PHONE = "+255712345678"
FAILING_PHONE = "+255700000002"
REVERSED_PHONE = "+255700000003"


async def funded_creator(client: httpx.AsyncClient, worker: Worker, amount: int) -> str:
    """A creator account whose available balance is exactly `amount`."""
    creator = await new_account(client, currency=CURRENCY, name="Amina")
    order = await client.post(
        "/api/v1/orders",
        json={
            "amount": amount,
            "currency": CURRENCY,
            "splits": [{"account_id": creator, "amount": amount}],
        },
    )
    assert order.status_code == 201, order.text
    payment = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"},
    )
    assert payment.status_code == 201, payment.text
    await drain(worker)
    balance = await balance_of(client, creator)
    assert balance == {"pending": 0, "available": amount, "reserved": 0}, balance
    return creator


def mobile(phone: str = PAID_PHONE) -> dict[str, Any]:
    return {"type": "mobile_money", "phone": phone}


async def create_payout(
    client: httpx.AsyncClient,
    account_id: str,
    amount: int,
    destination: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {
        "account_id": account_id,
        "amount": amount,
        "currency": CURRENCY,
        "destination": destination or mobile(),
        **extra,
    }
    return await client.post("/api/v1/payouts", json=body, headers=headers)


async def payout(client: httpx.AsyncClient, payout_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/payouts/{payout_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def event_types(client: httpx.AsyncClient, payout_id: str) -> list[str]:
    events = (await client.get("/api/v1/events", params={"limit": 100})).json()["data"]
    return [e["type"] for e in reversed(events) if e["resource_id"] == payout_id]


async def work_until(worker: Worker, condition: Callable[[], Awaitable[bool]]) -> None:
    """Run the worker until `condition` holds (for queues that keep a future job, such as a
    schedule's next run, and so never drain)."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_until(condition)
    finally:
        stop.set()
        await task
