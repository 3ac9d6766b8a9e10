"""EcoCash direct through the hub, on SQLite and PostgreSQL: a merchant's own account, a push
started over the API, status lookups scheduled early (no notification will come), the lookup's
answer applied through settlement, and a refund sent through EcoCash's refund call."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from hazina.bootstrap import Container
from hazina.db.models import Job
from hazina.providers.ecocash import EARLY_CHECKS, EcoCashProvider, source_reference
from hazina.services import provider_payments
from hazina.testing.ecocash_fake import FakeEcoCash, create_ecocash_fake
from hazina.worker import Worker
from tests.conftest import AUTH, http_client
from tests.waiting import wait_until

API_KEY = "eco-hub-key-0001"


@pytest.fixture
def ecocash_app() -> Starlette:
    return create_ecocash_fake(api_keys=(API_KEY,), pay_after=3600.0)


@pytest.fixture
async def hub(container: Container, ecocash_app: Starlette) -> AsyncIterator[Container]:
    adapter = EcoCashProvider(
        "http://ecocash.test", 5.0, transport=httpx.ASGITransport(app=ecocash_app)
    )
    registry = container.providers.registry
    adapters = {**registry.adapters, "ecocash": adapter}
    providers = dataclasses.replace(
        container.providers, registry=dataclasses.replace(registry, adapters=adapters)
    )
    yield dataclasses.replace(container, providers=providers)
    await adapter.aclose()


@pytest.fixture
async def api(hub: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub, AUTH) as client:
        response = await client.put(
            "/api/v1/provider-accounts/ecocash",
            json={"mode": "test", "credentials": {"merchant_code": "MC42", "api_key": API_KEY}},
        )
        assert response.status_code == 200, response.text
        yield client


async def test_a_push_is_looked_up_early_settled_and_refunded(
    hub: Container, api: httpx.AsyncClient, ecocash_app: Starlette
) -> None:
    fake: FakeEcoCash = ecocash_app.state.ecocash
    order = (await api.post("/api/v1/orders", json={"amount": 2500, "currency": "USD"})).json()
    started = await api.post(
        "/api/v1/payments",
        json={"order_id": order["id"], "method": "ecocash_direct", "phone": "0779876543"},
    )
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["next_action"]["type"] == "ussd_push"

    async with hub.db.read() as session:
        jobs = list(
            await session.scalars(
                select(Job).where(Job.kind == "reconcile_payment").order_by(Job.run_at)
            )
        )
    first = min(job.created_at for job in jobs)
    delays = [round((job.run_at - first) / timedelta(seconds=1)) for job in jobs]
    expected = [*EARLY_CHECKS, *hub.settings.reconcile_schedule]
    assert delays == pytest.approx(expected, abs=2)
    assert [job.payload.get("final", False) for job in jobs][-1] is True

    # Still pending at EcoCash: the lookup changes nothing.
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment["id"]) in (
        "recorded",
        "applied",
    )
    assert (await api.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "pending"
    fake.charges[source_reference(payment["id"])].status = "SUCCESS"
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment["id"]) == (
        "applied"
    )
    paid = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert paid["status"] == "success"
    assert (await api.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "paid"

    refund = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000})
    assert refund.status_code == 201, refund.text
    # The worker sends it through EcoCash's refund call (later status queries stay queued).
    stop = asyncio.Event()
    running = asyncio.create_task(Worker.from_container(hub).run(stop))
    try:

        async def processed() -> bool:
            body = (await api.get(f"/api/v1/refunds/{refund.json()['id']}")).json()
            return bool(body["status"] == "processed")

        await wait_until(processed)
    finally:
        stop.set()
        await running
    [charge] = fake.charges.values()
    [sent] = charge.refunded
    assert (sent["amount"], sent["clientName"], sent["sourceMobileNumber"]) == (
        10,
        "MC42",
        "263779876543",
    )
    assert sent["origionalEcocashTransactionReference"] == charge.ecocash_reference
