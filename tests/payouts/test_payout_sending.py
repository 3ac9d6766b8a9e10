"""Sending a ClickPesa payout exactly once, on SQLite and PostgreSQL, against the fake in-process:
an answer lost after ClickPesa disbursed, a run that stopped after sending, a send that never
arrived, and runs racing one another. The fake counts disbursements per reference."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db.models import Payout
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.providers.clickpesa import ClickPesaProvider
from hazina.providers.clickpesa_payouts import ClickPesaPayouts
from hazina.services.idempotency import StoredResponse
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.services.payouts.context import PayoutContext
from hazina.services.payouts.creation import NewPayout, create_payout
from hazina.services.payouts.progress import process_payout
from hazina.testing.clickpesa_fake import create_clickpesa_fake
from hazina.worker import Worker
from tests.conftest import make_settings
from tests.ledger.helpers import assert_ledger_sound, balance_of
from tests.payouts.helpers import CURRENCY, funded_creator

CLIENT_ID, API_KEY = "IDpayouts", "SKpayouts"
ROOT = "/third-parties"
BASE = "http://clickpesa.test" + ROOT


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The deployment's default ClickPesa account (test mode)."""
    return make_settings(database_url, clickpesa_client_id=CLIENT_ID, clickpesa_api_key=API_KEY)


class LosingAnswers(httpx.AsyncBaseTransport):
    """Forwards every request to the fake; while `lose` is set, a create reaches ClickPesa
    and its answer is lost on the way back (a read timeout)."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx.ASGITransport(app=app, root_path=ROOT)
        self.lose = False
        # Every create Hazina sent: after the first, Hazina must ask, not send.
        self.creates = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.creates += "/create-" in request.url.path
        response = await self.inner.handle_async_request(request)
        if self.lose and "/create-" in request.url.path:
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


@pytest.fixture
async def fake() -> Starlette:
    app = create_clickpesa_fake()
    transport = httpx.ASGITransport(app=app, root_path=ROOT)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as control:
        registered = await control.post(
            "/_control/clients", json={"client_id": CLIENT_ID, "api_key": API_KEY}
        )
        assert registered.status_code == 201
    return app


@pytest.fixture
async def network(fake: Starlette) -> LosingAnswers:
    return LosingAnswers(fake)


@pytest.fixture
async def context(container: Container, network: LosingAnswers) -> AsyncIterator[PayoutContext]:
    collections = ClickPesaProvider(BASE, 5.0, transport=network)
    yield PayoutContext(
        adapters={"clickpesa": ClickPesaPayouts(collections)},
        providers=container.providers,
        check_schedule=(0.0,),
    )
    await collections.aclose()


def disbursements(fake: Starlette, payout_id: str) -> int:
    counts: dict[str, int] = fake.state.clickpesa_payouts.disbursements
    return counts.get(ids.alphanumeric_reference(payout_id), 0)


def settle(fake: Starlette, payout_id: str, status: str) -> None:
    fake.state.clickpesa_payouts.payouts[ids.alphanumeric_reference(payout_id)].status = status


async def new_payout(
    container: Container, context: PayoutContext, creator: str, amount: int = 100_000
) -> str:
    destination = {"type": "mobile_money", "phone": "+255712345678"}
    stored: StoredResponse = await create_payout(
        container.db,
        context,
        TEST_MERCHANT_ID,
        False,
        NewPayout(creator, amount, CURRENCY, destination),
        None,
        container.settings.idempotency_ttl,
    )
    body: dict[str, Any] = json.loads(stored.body)
    assert body["provider"] == "clickpesa"
    payout_id: str = body["id"]
    return payout_id


async def status_of(client: httpx.AsyncClient, payout_id: str) -> str:
    status: str = (await client.get(f"/api/v1/payouts/{payout_id}")).json()["status"]
    return status


async def test_an_answer_lost_after_clickpesa_disbursed_is_asked_about_never_resent(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    context: PayoutContext,
    network: LosingAnswers,
    fake: Starlette,
) -> None:
    creator = await funded_creator(client, worker, 1_000_000)
    payout_id = await new_payout(container, context, creator)
    network.lose = True
    assert await process_payout(container.db, context, payout_id, 0) == "processing"
    network.lose = False
    assert disbursements(fake, payout_id) == 1
    # The next run asks: still AUTHORIZED at ClickPesa, so still processing; nothing sent.
    assert await process_payout(container.db, context, payout_id, 1) == "processing"
    settle(fake, payout_id, "SUCCESS")
    assert await process_payout(container.db, context, payout_id, 2) == "paid"
    assert disbursements(fake, payout_id) == 1
    assert network.creates == 1
    assert await balance_of(client, creator) == {
        "pending": 0,
        "available": 1_000_000 - 104_710,
        "reserved": 0,
    }
    await assert_ledger_sound(container.db)


async def test_a_run_that_stopped_after_sending_is_found_by_status_query(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    context: PayoutContext,
    network: LosingAnswers,
    fake: Starlette,
) -> None:
    """As if the worker died between ClickPesa's acceptance and Hazina's record of it."""
    creator = await funded_creator(client, worker, 1_000_000)
    payout_id = await new_payout(container, context, creator)
    network.lose = True
    await process_payout(container.db, context, payout_id, None)
    network.lose = False
    async with container.db.transaction() as session:  # back to the moment before recording
        await session.execute(
            update(Payout)
            .where(Payout.id == payout_id)
            .values(status="pending", submitted_at=utc_now())
        )
    assert await status_of(client, payout_id) == "pending"
    assert await process_payout(container.db, context, payout_id, 0) == "processing"
    assert disbursements(fake, payout_id) == 1
    assert network.creates == 1


async def test_a_send_that_never_arrived_is_sent_once(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    context: PayoutContext,
    network: LosingAnswers,
    fake: Starlette,
) -> None:
    creator = await funded_creator(client, worker, 1_000_000)
    payout_id = await new_payout(container, context, creator)
    async with container.db.transaction() as session:  # marked, then died before the call
        await session.execute(
            update(Payout).where(Payout.id == payout_id).values(submitted_at=utc_now())
        )
    assert await process_payout(container.db, context, payout_id, 0) == "processing"
    assert disbursements(fake, payout_id) == 1
    assert network.creates == 1


async def test_racing_runs_disburse_once(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    context: PayoutContext,
    fake: Starlette,
) -> None:
    creator = await funded_creator(client, worker, 1_000_000)
    payout_ids = [await new_payout(container, context, creator, 10_000) for _ in range(3)]
    runs = [
        process_payout(container.db, context, payout_id, check)
        for payout_id in payout_ids
        for check in (0, None, None)
    ]
    await asyncio.gather(*runs)
    for payout_id in payout_ids:
        assert disbursements(fake, payout_id) == 1
        assert await status_of(client, payout_id) == "processing"
    await assert_ledger_sound(container.db)
