"""Concurrent credit spends against a real `hazina serve`: a wallet that covers 10 of 50
orders pays exactly 10, refuses 40 with a 400, and ends at zero (SQLite and PostgreSQL)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from hazina.db.models import Payment
from hazina.services.ledger.check import check_ledger
from tests.e2e.servers import Hub, api, create_order, open_hub
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

SPENDS = 50
COVERED = 10
PRICE = 1000


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as hub:
        await hub.prepare()
        yield hub


async def available(client: httpx.AsyncClient, account_id: str) -> int:
    body = (await client.get(f"/api/v1/accounts/{account_id}")).json()
    amount: int = body["balance"]["available"]
    return amount


async def test_fifty_concurrent_spends_of_a_wallet_covering_ten(hub: Hub) -> None:
    server = await hub.serve(worker=True)
    async with api(server) as client:
        created = await client.post(
            "/api/v1/accounts", json={"kind": "customer", "currency": "INR"}
        )
        assert created.status_code == 201, created.text
        wallet = created.json()["id"]
        top_up = await client.post(
            "/api/v1/orders",
            json={"amount": COVERED * PRICE, "purpose": "top_up", "customer_account_id": wallet},
        )
        paying = await client.post(
            "/api/v1/payments",
            json={"order_id": top_up.json()["id"], "method": "upi", "vpa": "user@paytm"},
        )
        assert paying.status_code == 201, paying.text

        async def topped_up() -> bool:
            return await available(client, wallet) == COVERED * PRICE

        await wait_until(topped_up, timeout=30)

        order_ids = await asyncio.gather(*(create_order(client, PRICE) for _ in range(SPENDS)))
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/payments",
                    json={"order_id": order_id, "method": "credit", "account_id": wallet},
                )
                for order_id in order_ids
            )
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] * COVERED + [400] * (SPENDS - COVERED), [
            (r.status_code, r.text) for r in responses if r.status_code not in (201, 400)
        ]
        for response in responses:
            if response.status_code == 201:
                assert response.json()["status"] == "success"
            else:
                error = response.json()["error"]
                assert error["code"] == "BAD_REQUEST_ERROR"
                assert error["description"] == f"Insufficient funds in account {wallet}"
        assert await available(client, wallet) == 0

    async with hub.database() as db:
        async with db.read() as session:
            credit_payments = await session.scalar(
                select(func.count()).where(Payment.method == "credit")
            )
        result = await check_ledger(db)
    assert credit_payments == COVERED  # a refused spend leaves no payment behind
    assert result.ok, result.problem
