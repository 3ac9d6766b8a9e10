"""Building payments in a given state over HTTP, and a second merchant for tenancy checks."""

import dataclasses
import secrets
from typing import Any

import httpx

from hazina.bootstrap import Container
from hazina.providers.sandbox import SandboxProcessor
from hazina.services.merchants import create_merchant
from hazina.worker import Worker
from tests.waiting import drain


async def pending_payment(client: httpx.AsyncClient, amount: int = 50000) -> dict[str, Any]:
    """A UPI payment whose processing job has not run yet."""
    order = await client.post("/api/v1/orders", json={"amount": amount})
    assert order.status_code == 201, order.text
    payment = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"},
    )
    assert payment.status_code == 201, payment.text
    body: dict[str, Any] = payment.json()
    return body


async def settled_payment(
    client: httpx.AsyncClient, worker: Worker, amount: int = 50000
) -> dict[str, Any]:
    """A payment run through the worker: `success` or `failed`, as the worker's sandbox decides."""
    created = await pending_payment(client, amount)
    await drain(worker)
    payment = await client.get(f"/api/v1/payments/{created['id']}")
    body: dict[str, Any] = payment.json()
    return body


async def successful_payment(
    client: httpx.AsyncClient, worker: Worker, amount: int = 50000
) -> dict[str, Any]:
    payment = await settled_payment(client, worker, amount)
    assert payment["status"] == "success"
    return payment


def failing_worker(container: Container) -> Worker:
    """A worker on the same database whose sandbox declines every payment."""
    simulation = dataclasses.replace(container.sandbox.simulation, test_success=False)
    declining = dataclasses.replace(container, sandbox=SandboxProcessor(simulation))
    return Worker.from_container(declining)


async def other_merchant_headers(container: Container) -> dict[str, str]:
    """Credentials of a second merchant, to prove one tenant never reaches another's rows."""
    suffix = secrets.token_hex(4)
    credentials = await create_merchant(
        container.db,
        container.providers.vault,
        name="Other Merchant",
        email=f"other-{suffix}@example.com",
        actor="test",
    )
    return {"X-Api-Key": credentials.merchant.api_key, "X-Api-Secret": credentials.api_secret}
