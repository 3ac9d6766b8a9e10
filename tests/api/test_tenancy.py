"""Tenancy beyond reads: a merchant never pays another's order, its replays and events stay its
own. Every route's reads and lists are swept in test_tenancy_sweep.py."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import Event, Order, Payment
from hazina.services.merchants import TEST_MERCHANT_ID, create_merchant
from hazina.services.ports import SecretBox
from hazina.worker import Worker
from tests.waiting import drain

ORDER_NOT_FOUND = {"error": {"code": "NOT_FOUND_ERROR", "description": "Order not found"}}
PAYMENT_NOT_FOUND = {"error": {"code": "NOT_FOUND_ERROR", "description": "Payment not found"}}


@dataclass(frozen=True)
class Tenant:
    id: uuid.UUID
    headers: dict[str, str]
    order_id: str
    payment_id: str


def card() -> dict[str, Any]:
    return {
        "number": "5555555555554444",
        "expiry_month": 12,
        "expiry_year": 2099,
        "cvv": "123",
        "holder_name": "B",
    }


async def open_tenant(
    client: httpx.AsyncClient, merchant_id: uuid.UUID, headers: dict[str, str]
) -> Tenant:
    order = await client.post("/api/v1/orders", json={"amount": 700}, headers=headers)
    assert order.status_code == 201
    assert order.json()["merchant_id"] == str(merchant_id)
    body = {"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"}
    payment = await client.post("/api/v1/payments", json=body, headers=headers)
    assert payment.status_code == 201
    return Tenant(merchant_id, headers, order.json()["id"], payment.json()["id"])


@pytest.fixture
async def tenants(
    client: httpx.AsyncClient, db: Database, vault: SecretBox
) -> tuple[Tenant, Tenant]:
    """The seeded test merchant (A) and a second merchant (B), each with an order and payment."""
    other = await create_merchant(
        db, vault, name="Other Shop", email="other@example.com", actor="test"
    )
    b_headers = {"X-Api-Key": other.merchant.api_key, "X-Api-Secret": other.api_secret}
    a = await open_tenant(client, TEST_MERCHANT_ID, {})
    b = await open_tenant(client, other.merchant.id, b_headers)
    return a, b


def both_ways(tenants: tuple[Tenant, Tenant]) -> list[tuple[Tenant, Tenant]]:
    a, b = tenants
    return [(a, b), (b, a)]


@pytest.mark.parametrize(
    "instrument", [{"method": "upi", "vpa": "thief@bank"}, {"method": "card", "card": card()}]
)
async def test_nobody_pays_another_merchants_order(
    client: httpx.AsyncClient,
    db: Database,
    tenants: tuple[Tenant, Tenant],
    instrument: dict[str, Any],
) -> None:
    for payer, owner in both_ways(tenants):
        body = {"order_id": owner.order_id} | instrument
        response = await client.post("/api/v1/payments", json=body, headers=payer.headers)
        assert (response.status_code, response.json()) == (404, ORDER_NOT_FOUND)
        keyed = payer.headers | {"Idempotency-Key": "cross"}
        response = await client.post("/api/v1/payments", json=body, headers=keyed)
        assert (response.status_code, response.json()) == (404, ORDER_NOT_FOUND)
    async with db.read() as session:
        payments = (await session.execute(select(Payment.order_id, Payment.merchant_id))).all()
        statuses = set(await session.scalars(select(Order.status)))
    a, b = tenants
    assert sorted(payments) == sorted([(a.order_id, a.id), (b.order_id, b.id)])
    assert statuses == {"attempted"}


async def test_a_public_payment_belongs_to_the_orders_merchant(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    body = {"order_id": b.order_id, "method": "upi", "vpa": "buyer@bank"}
    # The checkout carries no credentials; a merchant's headers must not re-assign the payment.
    created = await client.post("/api/v1/payments/public", json=body, headers=a.headers)
    assert created.status_code == 201
    payment_id = created.json()["id"]
    assert (await client.get(f"/api/v1/payments/{payment_id}", headers=b.headers)).is_success
    response = await client.get(f"/api/v1/payments/{payment_id}", headers=a.headers)
    assert (response.status_code, response.json()) == (404, PAYMENT_NOT_FOUND)
    totals = [
        (await client.get("/api/v1/payments", headers=t.headers)).json()["total"] for t in (a, b)
    ]
    assert totals == [1, 2]


async def test_idempotent_replays_never_cross_merchants(
    client: httpx.AsyncClient, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    body = {"order_id": a.order_id, "method": "upi", "vpa": "user@paytm"}
    key = {"Idempotency-Key": "same-key"}
    first = await client.post("/api/v1/payments", json=body, headers=a.headers | key)
    assert first.status_code == 201
    # B sends A's exact request with A's key: it must not receive A's stored response.
    response = await client.post("/api/v1/payments", json=body, headers=b.headers | key)
    assert (response.status_code, response.json()) == (404, ORDER_NOT_FOUND)
    assert a.payment_id not in response.text
    assert first.json()["id"] not in response.text


async def test_events_and_settlement_stay_with_their_merchant(
    client: httpx.AsyncClient, db: Database, tenants: tuple[Tenant, Tenant], worker: Worker
) -> None:
    await drain(worker)
    async with db.read() as session:
        events = (
            await session.execute(
                select(Event.resource_id, Event.merchant_id).where(Event.type.like("payment.%"))
            )
        ).all()
    owners = {tenant.payment_id: tenant.id for tenant in tenants}
    assert len(events) == 6  # created, pending, success for each payment
    assert all(owners[resource] == merchant for resource, merchant in events)
    for tenant in tenants:
        order = await client.get(f"/api/v1/orders/{tenant.order_id}", headers=tenant.headers)
        assert order.json()["status"] == "paid"
        payment = await client.get(f"/api/v1/payments/{tenant.payment_id}", headers=tenant.headers)
        assert payment.json()["status"] == "success"
