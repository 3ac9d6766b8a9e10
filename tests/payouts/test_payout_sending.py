"""Sending a ClickPesa payout exactly once, on SQLite and PostgreSQL, against the fake in-process:
an answer lost after ClickPesa disbursed, a run that stopped after sending, a send that never
arrived, runs racing one another, a cancel racing the run (never sent), a payment reported for
a canceled payout (review), and whole shillings only. The fake counts disbursements per
reference."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.models import LedgerTransfer, Payout
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.providers import ProviderEvent, ProviderEventKind
from hazina.providers.clickpesa import ClickPesaProvider
from hazina.providers.clickpesa_payouts import ClickPesaPayouts
from hazina.services.idempotency import StoredResponse
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.services.payouts import progress
from hazina.services.payouts.context import PayoutContext
from hazina.services.payouts.creation import NewPayout, cancel_payout, create_payout
from hazina.services.payouts.progress import process_payout
from hazina.services.payouts.schedules import run_schedule
from hazina.services.payouts.settlement import apply_payout_report
from hazina.services.settlement import Outcome, Scope
from hazina.testing.clickpesa_fake import create_clickpesa_fake
from hazina.worker import Worker
from tests.conftest import make_settings
from tests.ledger.helpers import assert_ledger_sound, balance_of
from tests.payouts.helpers import CURRENCY, event_types, funded_creator, mobile

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


async def voids_of(container: Container, payout_id: str) -> int:
    """How often the payout's hold was released."""
    async with container.db.read() as session:
        payout = await session.get(Payout, payout_id)
        assert payout is not None
        voids = await session.scalar(
            select(func.count())
            .select_from(LedgerTransfer)
            .where(
                LedgerTransfer.kind == "void", LedgerTransfer.pending_id == payout.reservation_id
            )
        )
    return int(voids or 0)


async def test_a_cancel_landing_after_the_run_read_the_payout_stops_the_send(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    context: PayoutContext,
    network: LosingAnswers,
    fake: Starlette,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run read the payout pending and never sent; the merchant's cancel commits before the
    run marks it: the run must neither send it nor take it for another run's mark."""
    creator = await funded_creator(client, worker, 1_000_000)
    payout_id = await new_payout(container, context, creator)
    mark = progress._mark_submitted

    async def canceled_first(db: Database, marked: str) -> bool:
        await cancel_payout(db, TEST_MERCHANT_ID, marked)
        return await mark(db, marked)

    monkeypatch.setattr(progress, "_mark_submitted", canceled_first)
    assert await process_payout(container.db, context, payout_id, 0) == "canceled"
    assert (disbursements(fake, payout_id), network.creates) == (0, 0)
    assert await status_of(client, payout_id) == "canceled"
    assert await voids_of(container, payout_id) == 1
    assert await balance_of(client, creator) == {
        "pending": 0,
        "available": 1_000_000,
        "reserved": 0,
    }
    assert await event_types(client, payout_id) == ["payout.created", "payout.canceled"]
    await assert_ledger_sound(container.db)


async def test_a_canceled_payout_reported_paid_is_sent_to_review_once(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    context: PayoutContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Money the provider says left, for a payout whose money is back on the account: the
    state machine takes no step, but the merchant and the operator are told, never silence."""
    creator = await funded_creator(client, worker, 1_000_000)
    payout_id = await new_payout(container, context, creator)
    await cancel_payout(container.db, TEST_MERCHANT_ID, payout_id)
    paid = ProviderEvent(
        kind=ProviderEventKind.PAYOUT_PAID,
        dedup_key=f"PAYOUT:{ids.alphanumeric_reference(payout_id)}:SUCCESS",
        raw_type="PAYOUT",
        raw_status="SUCCESS",
        payout_id=payout_id,
    )
    outcomes = []
    with caplog.at_level(logging.ERROR, logger="hazina.payouts"):
        for _ in range(2):  # the same report again: a duplicate, no second review
            async with container.db.transaction() as session:
                applied = await apply_payout_report(
                    session, Scope("clickpesa", TEST_MERCHANT_ID, None), paid, None
                )
            outcomes.append(applied.outcome)
    assert outcomes == [Outcome.RECORDED, Outcome.DUPLICATE]
    assert [r.getMessage() for r in caplog.records if "review required" in r.getMessage()] == [
        f"payout {payout_id} is canceled, yet clickpesa reports it paid: the money left and "
        f"was also released to account {creator}; review required"
    ]
    assert await status_of(client, payout_id) == "canceled"
    assert await event_types(client, payout_id) == [
        "payout.created",
        "payout.canceled",
        "payout.review_required",
    ]
    reviews = await client.get("/api/v1/events", params={"type": "payout.review_required"})
    [review] = [event["payload"]["data"] for event in reviews.json()["data"]]
    assert (review["id"], review["review_reason"]) == (
        payout_id,
        "paid_after_release",
    )
    # Nothing moved on the ledger: what to recover is a human's call.
    assert await balance_of(client, creator) == {
        "pending": 0,
        "available": 1_000_000,
        "reserved": 0,
    }
    await assert_ledger_sound(container.db)


async def test_a_scheduled_payout_of_a_balance_with_cents_sends_whole_shillings(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    context: PayoutContext,
    fake: Starlette,
) -> None:
    """ClickPesa pays whole TZS: a run rounds the balance down and leaves the cents."""
    creator = await funded_creator(client, worker, 100_050)  # TZS 1,000.50
    schedule = await client.put(
        f"/api/v1/payouts/schedules/{creator}",
        json={"interval": "daily", "minimum": 0, "destination": mobile()},
    )
    assert schedule.status_code == 200, schedule.text
    run = schedule.json()["next_run_at"]
    assert await run_schedule(container.db, context, creator, run) == "paid out"
    [sent] = (await client.get("/api/v1/payouts")).json()["data"]
    # TZS 1,000 less its fee (4.71 %: 47.10) is 952.90, rounded down to 952, whose fee is 44.84.
    assert (sent["amount"], sent["fee"], sent["source"]) == (95_200, 4_484, "schedule")
    assert await process_payout(container.db, context, sent["id"], 0) == "processing"
    settle(fake, sent["id"], "SUCCESS")
    assert await process_payout(container.db, context, sent["id"], 1) == "paid"
    assert disbursements(fake, sent["id"]) == 1
    assert await balance_of(client, creator) == {"pending": 0, "available": 366, "reserved": 0}
    await assert_ledger_sound(container.db)


async def test_a_payout_with_cents_is_a_400_naming_the_amount(
    client: httpx.AsyncClient, worker: Worker, fake: Starlette
) -> None:
    creator = await funded_creator(client, worker, 1_000_000)
    body = {"account_id": creator, "amount": 100_050, "currency": CURRENCY}
    response = await client.post("/api/v1/payouts", json=body | {"destination": mobile()})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["description"] == (
        "ClickPesa pays out whole TZS only: amount 100050 is 1000.50 TZS (no cents)"
    )
    assert await balance_of(client, creator) == {
        "pending": 0,
        "available": 1_000_000,
        "reserved": 0,
    }
