"""Manual capture and refunds that always end, through the API against the Stripe fake over
HTTP, on SQLite and PostgreSQL. Jobs are driven to exhaustion deterministically
(tests.jobs.run_jobs_to_exhaustion): no waiting on timers."""

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db import queue
from hazina.db.models import Event, Job, LedgerTransfer, Order, Payment
from hazina.providers.stripe import StripeProvider
from hazina.services import refund_reconciliation, settlement
from hazina.services.reconciliation import RECONCILE_REFUND
from hazina.worker import Worker
from tests.conftest import AUTH, http_client, make_settings
from tests.jobs import run_jobs_to_exhaustion
from tests.providers.stripe_provider.conftest import SECRET_KEY, WEBHOOK_SECRET, StripeServer

# Every Stripe request answers this many 500s in a row: more than every job's attempts.
ALWAYS = 1000


@pytest.fixture
def settings(database_url: str, stripe_server: StripeServer) -> Settings:
    # Two scheduled checks keep the exhaustion runs short; the rules are the same for five.
    return make_settings(
        database_url, stripe_api_base=stripe_server.url, reconcile_schedule=[300.0, 1800.0]
    )


@pytest.fixture
def hub(container: Container, stripe_server: StripeServer) -> Container:
    """The container with a Stripe adapter that does not retry inside a call: every injected
    failure then costs one job attempt, and the SDK's own back-off never sleeps."""
    registry = container.providers.registry
    stripe = StripeProvider(stripe_server.url, timeout_seconds=5, max_network_retries=0)
    adapters = {**registry.adapters, "stripe": stripe}
    providers = dataclasses.replace(
        container.providers, registry=dataclasses.replace(registry, adapters=adapters)
    )
    return dataclasses.replace(container, providers=providers)


@pytest.fixture
async def api(hub: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub, AUTH) as client:
        yield client


@pytest.fixture
async def hook(api: httpx.AsyncClient) -> str:
    """The merchant's own Stripe account; returns the path of its hook URL."""
    response = await api.put(
        "/api/v1/provider-accounts/stripe",
        json={
            "mode": "test",
            "credentials": {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET},
        },
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["webhook_url"]
    return "/hooks/" + url.split("/hooks/", 1)[1]


async def stripe_payment(api: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    order = await api.post("/api/v1/orders", json={"amount": 2500, "currency": "USD"})
    assert order.status_code == 201, order.text
    body = {"order_id": order.json()["id"], "method": "stripe", **extra}
    payment = await api.post("/api/v1/payments", json=body)
    assert payment.status_code == 201, payment.text
    created: dict[str, Any] = payment.json()
    return created


async def deliver(api: httpx.AsyncClient, hook: str, answer: dict[str, Any]) -> None:
    """Hand Hazina the signed events a control call made, as Stripe would send them."""
    for event in answer["events"]:
        response = await api.post(
            hook,
            content=event["body"].encode(),
            headers={"Stripe-Signature": event["signature"]},
        )
        assert response.status_code == 200, response.text


async def paid_payment(
    api: httpx.AsyncClient, hook: str, stripe_server: StripeServer, **extra: Any
) -> dict[str, Any]:
    payment = await stripe_payment(api, **extra)
    session = payment["provider_reference"]
    completed = await stripe_server.control(f"checkout/sessions/{session}/complete", deliver=False)
    await deliver(api, hook, completed)
    found: dict[str, Any] = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    return found


async def get(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def event_types(hub: Container, resource_id: str) -> list[str]:
    async with hub.db.read() as session:
        rows = await session.scalars(
            select(Event.type).where(Event.resource_id == resource_id).order_by(Event.created_at)
        )
        return list(rows)


async def ledger_transfers(hub: Container, payment_id: str) -> list[tuple[str, int]]:
    """The payment's ledger transfers (kind, amount), oldest first."""
    async with hub.db.read() as session:
        rows = await session.execute(
            select(LedgerTransfer.kind, LedgerTransfer.amount)
            .where(LedgerTransfer.payment_id == payment_id)
            .order_by(LedgerTransfer.created_at, LedgerTransfer.id)
        )
        return [(kind, amount) for kind, amount in rows]


async def fail_every_stripe_call(stripe_server: StripeServer) -> None:
    await stripe_server.control("failures", status=500, count=ALWAYS)


# --- Capture ------------------------------------------------------------------------------------


async def test_an_automatic_payment_is_captured_by_its_success(api, hook, stripe_server):
    payment = await paid_payment(api, hook, stripe_server)

    assert (payment["status"], payment["captured"]) == ("success", True)
    assert payment["capture_method"] == "automatic"
    assert payment["amount_captured"] == 2500


async def test_manual_capture_end_to_end(api, hub, hook, stripe_server):
    payment = await stripe_payment(api, capture=False)
    assert payment["capture_method"] == "manual"
    session_id = payment["provider_reference"]
    session = await stripe_server.http.get(
        f"/v1/checkout/sessions/{session_id}", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    assert session.status_code == 200

    # The customer pays: Stripe holds the money and says so.
    completed = await stripe_server.control(
        f"checkout/sessions/{session_id}/complete", deliver=False
    )
    assert [e["type"] for e in completed["events"]] == [
        "checkout.session.completed",
        "payment_intent.amount_capturable_updated",
    ]
    assert completed["object"]["payment_status"] == "unpaid"
    await deliver(api, hook, completed)
    authorised = await get(api, f"/api/v1/payments/{payment['id']}")
    assert (authorised["status"], authorised["captured"]) == ("success", False)
    assert authorised["amount_captured"] is None
    assert (await get(api, f"/api/v1/orders/{payment['order_id']}"))["status"] == "paid"
    # Money only held is not the merchant's yet: the ledger has nothing of it.
    assert await ledger_transfers(hub, payment["id"]) == []
    # Money only held cannot be refunded.
    refused = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 100})
    assert refused.status_code == 400
    assert "not captured" in refused.json()["error"]["description"]

    # The merchant captures part of it; Stripe releases the rest.
    first = await api.post(f"/api/v1/payments/{payment['id']}/capture", json={"amount": 1500})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["captured"], body["amount_captured"], body["status"]) == (True, 1500, "success")
    intent_id = completed["object"]["payment_intent"]
    intent = await stripe_server.http.get(
        f"/v1/payment_intents/{intent_id}", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    assert (intent.json()["status"], intent.json()["amount_received"]) == ("succeeded", 1500)
    # Captured, it is counted: what was taken, not what was authorised.
    assert await ledger_transfers(hub, payment["id"]) == [("charge", 1500)]

    # Capturing again answers the same 200 and never reaches Stripe: a Stripe that would
    # fail the next request is left untouched.
    await stripe_server.control("failures", status=500, count=1)
    second = await api.post(f"/api/v1/payments/{payment['id']}/capture", json={"amount": 1500})
    assert second.status_code == 200
    assert second.json() == body
    pending = await stripe_server.control("failures", status=500, count=0)
    assert pending["pending"] == 1  # the injected failure is still waiting: no call was made
    assert len(await stripe_server.events("charge.captured")) == 1
    assert await ledger_transfers(hub, payment["id"]) == [("charge", 1500)]  # counted once
    stripe_server.app.state.fake.state.failures.clear()

    # Only what was captured can be refunded.
    too_much = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1501})
    assert too_much.status_code == 400
    refund = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1500})
    assert refund.status_code == 201, refund.text
    await run_jobs_to_exhaustion(Worker.from_container(hub))
    assert (await get(api, f"/api/v1/refunds/{refund.json()['id']}"))["status"] == "processed"


async def test_an_authorisation_that_expires_uncaptured_is_reported(api, hub, hook, stripe_server):
    payment = await paid_payment(api, hook, stripe_server, capture=False)
    assert (payment["status"], payment["captured"]) == ("success", False)
    [authorised] = await stripe_server.events("payment_intent.amount_capturable_updated")
    intent_id = json.loads(authorised["body"])["data"]["object"]["id"]

    expired = await stripe_server.control(
        f"payment_intents/{intent_id}/expire_authorization", deliver=False
    )
    cancelled = json.loads(expired["events"][0]["body"])["data"]["object"]
    assert cancelled["cancellation_reason"] == "automatic"
    await deliver(api, hook, expired)
    await deliver(api, hook, expired)  # a repeat changes nothing

    shown = await get(api, f"/api/v1/payments/{payment['id']}")
    assert shown["authorization_expired_at"] is not None
    assert shown["captured"] is False
    events = await event_types(hub, payment["id"])
    assert events.count("payment.authorization_expired") == 1
    capture = await api.post(f"/api/v1/payments/{payment['id']}/capture", json={"amount": 2500})
    assert capture.status_code == 400
    assert "authorisation expired" in capture.json()["error"]["description"]
    # Never captured, never the merchant's: nothing in the ledger to pay out.
    assert await ledger_transfers(hub, payment["id"]) == []


async def test_a_provider_that_cannot_authorise_refuses_capture_false(api, hub):
    order = await api.post("/api/v1/orders", json={"amount": 5000, "currency": "TZS"})
    body = {"order_id": order.json()["id"], "method": "clickpesa", "capture": False}

    response = await api.post("/api/v1/payments", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert (
        "cannot authorise a payment to capture it later"
        in (response.json()["error"]["description"])
    )
    async with hub.db.read() as session:
        assert (await session.scalars(select(Payment))).all() == []
        assert (await session.get_one(Order, order.json()["id"])).status == "created"


async def test_capture_false_is_part_of_the_idempotent_request(api, hook):
    order = await api.post("/api/v1/orders", json={"amount": 2500, "currency": "USD"})
    body = {"order_id": order.json()["id"], "method": "stripe"}
    headers = {"Idempotency-Key": "capture-later-1"}
    first = await api.post("/api/v1/payments", json=body | {"capture": False}, headers=headers)
    assert first.status_code == 201, first.text

    replayed = await api.post("/api/v1/payments", json=body | {"capture": False}, headers=headers)
    changed = await api.post("/api/v1/payments", json=body, headers=headers)

    assert replayed.content == first.content
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "CONFLICT_ERROR"


# --- Refunds that always end -----------------------------------------------------------------


async def test_nothing_stays_pending_when_every_stripe_call_fails(api, hub, hook, stripe_server):
    """A payment awaiting its webhook, a refund Stripe accepted but has not settled, and a
    refund not yet sent: with Stripe failing every call, every job runs out of attempts and
    its give-up step ends what it was about."""
    worker = Worker.from_container(hub)
    waiting = await stripe_payment(api)
    accepted_payment = await paid_payment(api, hook, stripe_server)
    unsent_payment = await paid_payment(api, hook, stripe_server)
    await stripe_server.control("refunds/hold", hold=True)
    accepted = await api.post(
        f"/api/v1/payments/{accepted_payment['id']}/refunds", json={"amount": 1000}
    )
    assert accepted.status_code == 201, accepted.text
    await _run_process_refund(worker, hub)
    accepted_refund = await get(api, f"/api/v1/refunds/{accepted.json()['id']}")
    assert accepted_refund["status"] == "pending"  # accepted by Stripe, not settled
    unsent = await api.post(
        f"/api/v1/payments/{unsent_payment['id']}/refunds", json={"amount": 2500}
    )
    assert unsent.status_code == 201, unsent.text

    await fail_every_stripe_call(stripe_server)
    await run_jobs_to_exhaustion(worker)

    expired = await get(api, f"/api/v1/payments/{waiting['id']}")
    assert (expired["status"], expired["error_code"]) == ("failed", "PAYMENT_EXPIRED")
    assert "every status query failed" in expired["error_description"]
    assert (await get(api, f"/api/v1/orders/{waiting['order_id']}"))["status"] == "attempted"
    for refund, payment, reason in (
        (accepted, accepted_payment, settlement.UNANSWERED),
        (unsent, unsent_payment, settlement.GAVE_UP),
    ):
        refund_id = refund.json()["id"]
        failed = await get(api, f"/api/v1/refunds/{refund_id}")
        assert (failed["status"], failed["failure_reason"]) == ("failed", reason)
        assert (await event_types(hub, refund_id))[-1] == "refund.failed"
        # The reservation is released: the whole payment is refundable again.
        assert (await get(api, f"/api/v1/payments/{payment['id']}"))["amount_refunded"] == 0
    async with hub.db.read() as session:
        left = (await session.scalars(select(Job).where(Job.status == "pending"))).all()
        statuses = {row.status for row in (await session.scalars(select(Payment))).all()}
    assert left == []
    assert "pending" not in statuses


async def _run_process_refund(worker: Worker, hub: Container) -> None:
    """Run the refund's own job now, leaving the scheduled status queries for later."""
    [job] = await queue.claim(hub.db, worker.id, 1, worker.lease, kinds=["process_refund"])
    await worker._execute(job)
    async with hub.db.read() as session:
        assert (await session.get_one(Job, job.id)).status == "completed"


async def test_a_refund_stripe_confirms_late_is_reconciled(api, hub, hook, stripe_server):
    payment = await paid_payment(api, hook, stripe_server)
    await stripe_server.control("refunds/hold", hold=True)
    created = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 700})
    refund_id = created.json()["id"]
    await _run_process_refund(Worker.from_container(hub), hub)
    async with hub.db.read() as session:
        checks = (
            await session.scalars(
                select(Job).where(Job.kind == RECONCILE_REFUND).order_by(Job.run_at)
            )
        ).all()
    assert [job.payload for job in checks] == [
        {"refund_id": refund_id},
        {"refund_id": refund_id, "final": True},
    ]

    # The first status query: Stripe still says pending, so the refund waits.
    outcome = await refund_reconciliation.reconcile_refund(hub.db, hub.providers, refund_id)
    assert outcome == "unknown"
    assert (await get(api, f"/api/v1/refunds/{refund_id}"))["status"] == "pending"

    # The bank confirms; Stripe's webhook is lost. The next query learns it.
    stripe_refund = (await stripe_server.events("refund.created"))[-1]
    reference = json.loads(stripe_refund["body"])["data"]["object"]["id"]
    await stripe_server.control(f"refunds/{reference}/succeed", deliver=False)
    outcome = await refund_reconciliation.reconcile_refund(
        hub.db, hub.providers, refund_id, final=True
    )

    assert outcome == "applied"
    processed = await get(api, f"/api/v1/refunds/{refund_id}")
    assert processed["status"] == "processed"
    assert "failure_reason" not in processed
    assert (await event_types(hub, refund_id)) == ["refund.created", "refund.processed"]
    assert (await get(api, f"/api/v1/payments/{payment['id']}"))["amount_refunded"] == 700


async def test_the_final_query_fails_a_refund_stripe_never_settles(api, hub, hook, stripe_server):
    payment = await paid_payment(api, hook, stripe_server)
    await stripe_server.control("refunds/hold", hold=True)
    created = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 700})
    refund_id = created.json()["id"]
    await _run_process_refund(Worker.from_container(hub), hub)

    outcome = await refund_reconciliation.reconcile_refund(
        hub.db, hub.providers, refund_id, final=True
    )

    assert outcome == "applied"
    failed = await get(api, f"/api/v1/refunds/{refund_id}")
    assert (failed["status"], failed["failure_reason"]) == (
        "failed",
        settlement.NEVER_CONFIRMED,
    )
    assert (await get(api, f"/api/v1/payments/{payment['id']}"))["amount_refunded"] == 0
    # Idempotent: a second final query changes nothing and announces nothing.
    again = await refund_reconciliation.reconcile_refund(
        hub.db, hub.providers, refund_id, final=True
    )
    assert again == "settled"
    assert (await event_types(hub, refund_id)).count("refund.failed") == 1
