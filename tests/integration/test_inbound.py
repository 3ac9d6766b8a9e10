"""Provider notifications, identical for every provider (DESIGN.md section 7), through a
minimal provider of the tests' own (tests.acme), over HTTP on SQLite and PostgreSQL."""

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from hazina.db.database import Database
from hazina.db.models import (
    Event,
    IdempotencyKey,
    InboundEvent,
    Job,
    Payment,
    Refund,
    WebhookLog,
)
from hazina.domain.clock import utc_now
from hazina.domain.providers import ProviderFailure
from hazina.services import inbound, provider_payments
from hazina.services.registry import ProviderRegistry
from hazina.worker import Worker
from tests.acme import DEFAULT_ACCESS, reference_of, sign, webhook
from tests.conftest import http_client
from tests.factories import other_merchant_headers
from tests.waiting import wait_until


async def acme_payment(api: httpx.AsyncClient, amount: int = 5000) -> dict[str, Any]:
    order = await api.post("/api/v1/orders", json={"amount": amount, "currency": "USD"})
    assert order.status_code == 201, order.text
    payment = await api.post(
        "/api/v1/payments", json={"order_id": order.json()["id"], "method": "acme"}
    )
    assert payment.status_code == 201, payment.text
    body: dict[str, Any] = payment.json()
    return body


async def notify(api: httpx.AsyncClient, body: bytes, **headers: str) -> httpx.Response:
    return await api.post("/hooks/acme", content=body, headers=sign(body) | headers)


async def events_of(db: Database, resource_id: str) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(
            select(Event.type).where(Event.resource_id == resource_id).order_by(Event.created_at)
        )
        return list(rows)


async def inbound_statuses(db: Database) -> list[str]:
    async with db.read() as session:
        return list(await session.scalars(select(InboundEvent.status)))


async def test_a_provider_payment_starts_with_a_redirect_and_pending(api, acme):
    payment = await acme_payment(api)
    assert payment["status"] == "pending"
    assert payment["provider"] == "acme"
    assert payment["provider_reference"] == reference_of(payment["id"])
    assert payment["next_action"] == {
        "type": "redirect",
        "url": f"https://acme.test/pay/{reference_of(payment['id'])}",
    }
    assert acme.started[0].success_url.endswith(f"/success?payment_id={payment['id']}")
    public = await api.get(f"/api/v1/payments/{payment['id']}/public")
    assert public.json()["next_action"] == payment["next_action"]


async def test_a_verified_success_pays_the_order_once(api, hub):
    payment = await acme_payment(api)
    body = webhook(payment["id"], "paid", amount=5000, currency="USD")
    first = await notify(api, body)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "processed"
    again = await notify(api, body)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"

    detail = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert detail["status"] == "success"
    assert detail["amount_received"] == 5000
    order = (await api.get(f"/api/v1/orders/{payment['order_id']}")).json()
    assert order["status"] == "paid"
    assert await events_of(hub.db, payment["id"]) == [
        "payment.created",
        "payment.pending",
        "payment.success",
    ]
    assert sorted(await inbound_statuses(hub.db)) == ["duplicate", "processed"]


async def test_a_bad_signature_is_stored_rejected_and_changes_nothing(api, hub):
    payment = await acme_payment(api)
    body = webhook(payment["id"], "paid")
    response = await api.post("/hooks/acme", content=body, headers={"acme-signature": "0" * 64})
    assert response.status_code == 400
    tampered = await api.post(
        "/hooks/acme", content=body.replace(b"paid", b"PAID"), headers=sign(body)
    )
    assert tampered.status_code == 400
    assert (await api.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "pending"
    async with hub.db.read() as session:
        stored = list(await session.scalars(select(InboundEvent)))
    assert [row.status for row in stored] == ["rejected", "rejected"]
    assert {row.body for row in stored} == {body, body.replace(b"paid", b"PAID")}
    assert all(row.events is None for row in stored)


async def test_an_unknown_type_is_acknowledged_and_stored(api, hub):
    payment = await acme_payment(api)
    response = await notify(api, webhook(payment["id"], "customer.updated"))
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert (await api.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "pending"


async def test_a_failure_after_success_is_recorded_and_ignored(api, hub):
    payment = await acme_payment(api)
    assert (await notify(api, webhook(payment["id"], "paid"))).status_code == 200
    late_failure = await notify(api, webhook(payment["id"], "failed"))
    assert late_failure.status_code == 200
    assert (await api.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "success"
    assert (await events_of(hub.db, payment["id"])).count("payment.failed") == 0


async def test_a_late_success_after_expiry_is_applied_and_flagged(api, hub):
    payment = await acme_payment(api)
    assert (await notify(api, webhook(payment["id"], "expired"))).status_code == 200
    expired = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert expired["status"] == "failed"
    assert expired["error_code"] == "PAYMENT_EXPIRED"
    assert (await notify(api, webhook(payment["id"], "paid", amount=5000))).status_code == 200
    late = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert late["status"] == "success"
    assert late["review_reason"] == "late_success"
    assert "error_code" not in late
    assert (await api.get(f"/api/v1/orders/{payment['order_id']}")).json()["status"] == "paid"
    assert (await events_of(hub.db, payment["id"]))[-2:] == ["payment.failed", "payment.success"]


@pytest.mark.parametrize(("amount", "currency"), [(4999, "USD"), (5000, "EUR")])
async def test_a_mismatched_amount_leaves_the_order_unpaid_for_review(api, hub, amount, currency):
    payment = await acme_payment(api)
    body = webhook(payment["id"], "paid", amount=amount, currency=currency)
    assert (await notify(api, body)).status_code == 200
    detail = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert detail["status"] == "review"
    assert detail["review_reason"] in {"amount_mismatch", "currency_mismatch"}
    assert (await api.get(f"/api/v1/orders/{payment['order_id']}")).json()["status"] != "paid"
    events = await events_of(hub.db, payment["id"])
    assert events[-1] == "payment.review_required"
    assert "payment.success" not in events
    # Held for review, it is not refunded piecemeal: the review's refund resolves it.
    refunds = f"/api/v1/payments/{payment['id']}/refunds"
    assert (await api.post(refunds, json={"amount": min(amount, 5000)})).status_code == 400
    if currency == "USD":
        # Only what the provider reported receiving is given back.
        resolved = await api.post(
            f"/api/v1/payments/{payment['id']}/review", json={"action": "refund"}
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["status"] == "refunded"
        listed = (await api.get(refunds)).json()["data"]
        assert [refund["amount"] for refund in listed] == [amount]


async def test_a_notification_naming_an_unknown_hazina_payment_fails_for_a_retry(api, hub):
    unknown = "pay_" + "Z" * 16
    response = await notify(api, webhook(unknown, "paid"))
    assert response.status_code == 500
    assert response.json()["status"] == "failed"
    async with hub.db.read() as session:
        stored = await session.get_one(InboundEvent, response.json()["id"])
    assert stored.error is not None
    assert "UnknownPayment" in stored.error


async def test_a_notification_before_the_reference_is_stored_replays(api, hub, acme):
    """A provider may notify, naming only its own reference, before Hazina stored it: the
    notification is kept (as about nothing Hazina knows), and a replay applies it."""
    acme.hold = asyncio.Event()
    order = await api.post("/api/v1/orders", json={"amount": 5000, "currency": "USD"})
    creating = asyncio.create_task(
        api.post("/api/v1/payments", json={"order_id": order.json()["id"], "method": "acme"})
    )
    await acme.reached.wait()
    payment_id = acme.started[0].payment_id
    early = await notify(api, webhook(None, "paid", reference=reference_of(payment_id)))
    assert early.status_code == 200
    assert early.json()["status"] == "ignored"
    acme.hold.set()
    assert (await creating).status_code == 201

    listed = (await api.get("/api/v1/inbound-events")).json()
    # Unmatched, it belongs to no merchant yet: only an operator (the CLI) can see it.
    assert listed["total"] == 0
    replayed = await inbound.replay(hub.db, hub.providers.registry, early.json()["id"], None)
    assert replayed["status"] == "processed", replayed["error"]
    assert replayed["payment_id"] == payment_id
    assert replayed["attempts"] == 2
    assert (await api.get(f"/api/v1/payments/{payment_id}")).json()["status"] == "success"
    listed = (await api.get("/api/v1/inbound-events")).json()
    assert [item["id"] for item in listed["data"]] == [early.json()["id"]]
    again = await api.post(f"/api/v1/inbound-events/{early.json()['id']}/replay")
    assert again.status_code == 200
    assert again.json()["status"] == "processed"  # nothing new: it stays what it was
    assert again.json()["attempts"] == 3
    assert (await events_of(hub.db, payment_id)).count("payment.success") == 1


async def test_a_storm_of_one_success_and_a_failure_makes_one_transition(api, hub):
    """50 copies of one success event, sent concurrently with a failure for the same payment:
    one transition, one payment.success, one delivery per endpoint."""
    configured = await api.put(
        "/api/v1/webhooks/config", json={"webhook_url": "https://merchant.test/hooks"}
    )
    assert configured.status_code == 200, configured.text
    payment = await acme_payment(api)
    success = webhook(payment["id"], "paid", amount=5000, currency="USD", event_id="evt_storm")
    failure = webhook(payment["id"], "failed", event_id="evt_storm_failure")
    bodies = [success] * 25 + [failure] + [success] * 25
    responses = await asyncio.gather(*(notify(api, body) for body in bodies))
    assert {r.status_code for r in responses} == {200}
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("processed") == 2  # the success, and the failure (applied or recorded)
    assert statuses.count("duplicate") == 49

    detail = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert detail["status"] == "success"
    events = await events_of(hub.db, payment["id"])
    assert events.count("payment.success") == 1
    async with hub.db.read() as session:
        deliveries = await session.scalar(
            select(func.count())
            .select_from(WebhookLog)
            .where(WebhookLog.event == "payment.success")
        )
    assert deliveries == 1


async def test_reconciliation_settles_a_payment_whose_webhook_was_lost(api, hub, acme):
    payment = await acme_payment(api)
    async with hub.db.read() as session:
        scheduled = list(
            await session.scalars(select(Job.run_at).where(Job.kind == "reconcile_payment"))
        )
    assert len(scheduled) == len(hub.settings.reconcile_schedule)
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment["id"]) == (
        "unknown"
    )
    acme.states[payment["id"]] = "open"
    await provider_payments.reconcile_payment(hub.db, hub.providers, payment["id"])
    assert (await api.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "pending"
    acme.states[payment["id"]] = "paid"
    outcome = await provider_payments.reconcile_payment(hub.db, hub.providers, payment["id"])
    assert outcome == "applied"
    assert (await api.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "success"
    assert (await api.get(f"/api/v1/orders/{payment['order_id']}")).json()["status"] == "paid"
    # The webhook arriving late changes nothing more.
    assert (await notify(api, webhook(payment["id"], "paid", amount=5000))).status_code == 200
    assert (await events_of(hub.db, payment["id"])).count("payment.success") == 1


async def payments_of(db: Database, order_id: str) -> list[Payment]:
    async with db.read() as session:
        return list(await session.scalars(select(Payment).where(Payment.order_id == order_id)))


async def test_a_refused_start_fails_the_payment_and_frees_the_key(api, hub, acme):
    acme.refuse_starts = ProviderFailure("Acme cannot push to that phone number")
    order = await api.post("/api/v1/orders", json={"amount": 5000, "currency": "USD"})
    request = {"order_id": order.json()["id"], "method": "acme"}
    refused = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k1"})
    assert refused.status_code == 400
    assert refused.json() == {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "Acme cannot push to that phone number",
        }
    }
    assert [p.status for p in await payments_of(hub.db, request["order_id"])] == ["failed"]
    acme.refuse_starts = None
    retried = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k1"})
    assert retried.status_code == 201
    replayed = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k1"})
    assert replayed.content == retried.content
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json()["next_action"]["type"] == "redirect"


async def test_an_uncertain_start_stays_pending_until_the_provider_says_and_a_retry_is_new(
    api, hub, acme
):
    """A timeout may hide a start that happened (a USSD push on its way): the payment stays
    pending until the provider has been asked. The 502 is kept under its Idempotency-Key, so a
    retry with that key cannot start it twice; a retry with a new key is a new attempt."""
    acme.refuse_starts = ProviderFailure("Acme timed out.", retryable=True)
    order = await api.post("/api/v1/orders", json={"amount": 5000, "currency": "USD"})
    request = {"order_id": order.json()["id"], "method": "acme"}
    uncertain = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k3"})
    assert uncertain.status_code == 502
    assert uncertain.json()["error"]["code"] == "PROVIDER_ERROR"
    (payment,) = await payments_of(hub.db, request["order_id"])
    assert payment.status == "pending"
    assert payment.id in uncertain.json()["error"]["description"]
    acme.refuse_starts = None
    replayed = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k3"})
    assert (replayed.status_code, replayed.content) == (502, uncertain.content)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert len(acme.started) == 1
    retried = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k3b"})
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] != payment.id
    assert retried.json()["next_action"]["type"] == "redirect"
    # Without a provider reference the uncertain attempt cannot be ended: it stays pending.
    assert acme.cancelled == []
    statuses = {p.id: p.status for p in await payments_of(hub.db, request["order_id"])}
    assert statuses == {payment.id: "pending", retried.json()["id"]: "pending"}
    async with hub.db.read() as session:
        soon = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                Job.kind == "reconcile_payment", Job.payload["payment_id"].as_string() == payment.id
            )
        )
    assert soon == len(hub.settings.reconcile_schedule) + 1

    # The provider never heard of it: once the start is surely over, it never started.
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment.id) == (
        "unknown"
    )
    ages_ago = dataclasses.replace(hub.providers, start_grace_seconds=0)
    assert await provider_payments.reconcile_payment(hub.db, ages_ago, payment.id) == "applied"
    statuses = {p.id: p.status for p in await payments_of(hub.db, request["order_id"])}
    assert statuses == {payment.id: "failed", retried.json()["id"]: "pending"}
    again = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k4"})
    assert again.status_code == 201


async def test_the_last_check_expires_a_payment_the_provider_still_calls_pending(api, hub, acme):
    payment = await acme_payment(api)
    acme.states[payment["id"]] = "open"
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment["id"]) == (
        "recorded"
    )
    outcome = await provider_payments.reconcile_payment(
        hub.db, hub.providers, payment["id"], final=True
    )
    assert outcome == "applied"
    detail = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert (detail["status"], detail["error_code"]) == ("failed", "PAYMENT_EXPIRED")
    # Money that arrives after all is applied, and flagged.
    assert (await notify(api, webhook(payment["id"], "paid", amount=5000))).status_code == 200
    late = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert (late["status"], late["review_reason"]) == ("success", "late_success")


async def test_the_last_check_expires_a_payment_whose_status_says_nothing(api, hub, acme):
    payment = await acme_payment(api)
    acme.states[payment["id"]] = "on_hold"
    outcome = await provider_payments.reconcile_payment(
        hub.db, hub.providers, payment["id"], final=True
    )
    assert outcome == "applied"
    detail = (await api.get(f"/api/v1/payments/{payment['id']}")).json()
    assert (detail["status"], detail["error_code"]) == ("failed", "PAYMENT_EXPIRED")


async def test_an_unauthenticated_report_only_makes_hazina_ask(api, hub, acme):
    payment = await acme_payment(api)
    forged = dataclasses.replace(acme, confirm_reports=False)
    hub_forged = dataclasses.replace(
        hub,
        providers=dataclasses.replace(
            hub.providers,
            registry=ProviderRegistry(adapters={"acme": forged}, defaults={"acme": DEFAULT_ACCESS}),
        ),
    )
    async with http_client(hub_forged) as anyone:
        response = await notify(anyone, webhook(payment["id"], "paid", amount=5000))
        again = await notify(anyone, webhook(payment["id"], "paid", amount=5000))
    assert again.status_code == 200  # a second one does not ask the provider twice
    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    assert (await api.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "pending"
    async with hub.db.read() as session:
        now_jobs = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == "reconcile_payment", Job.run_at <= utc_now())
        )
    assert now_jobs == 1
    # Asked, the provider says it is not paid: nothing the forger sent was believed.
    acme.states[payment["id"]] = "open"
    await provider_payments.reconcile_payment(hub.db, hub.providers, payment["id"])
    assert (await api.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "pending"


async def test_a_duplicate_during_the_provider_call_is_told_it_is_in_progress(api, acme):
    acme.hold = asyncio.Event()
    order = await api.post("/api/v1/orders", json={"amount": 5000, "currency": "USD"})
    request = {"order_id": order.json()["id"], "method": "acme"}
    headers = {"Idempotency-Key": "k2"}
    first = asyncio.create_task(api.post("/api/v1/payments", json=request, headers=headers))
    await acme.reached.wait()
    duplicate = await api.post("/api/v1/payments", json=request, headers=headers)
    assert duplicate.status_code == 409
    acme.hold.set()
    assert (await first).status_code == 201
    assert len(acme.started) == 1


async def test_a_provider_refund_waits_for_the_provider_confirmation(api, hub, acme):
    payment = await acme_payment(api)
    await notify(api, webhook(payment["id"], "paid", amount=5000))
    refund = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 2000})
    assert refund.status_code == 201, refund.text
    stop = asyncio.Event()
    running = asyncio.create_task(Worker.from_container(hub).run(stop))

    async def accepted_by_acme() -> bool:
        async with hub.db.read() as session:
            row = await session.get_one(Refund, refund.json()["id"], populate_existing=True)
        return row.provider_reference is not None

    try:
        await wait_until(accepted_by_acme)
    finally:
        stop.set()
        await running
    assert acme.refunds[0].amount == 2000
    pending = (await api.get(f"/api/v1/refunds/{refund.json()['id']}")).json()
    assert pending["status"] == "pending"
    unnamed = await notify(api, webhook(payment["id"], "refunded"))
    assert unnamed.json()["status"] == "processed"  # recorded: it names no refund
    assert (await api.get(f"/api/v1/refunds/{refund.json()['id']}")).json()["status"] == "pending"
    accepted_as = "acme_re_" + refund.json()["id"]
    confirmed = await notify(api, webhook(payment["id"], "refunded", refund=accepted_as))
    assert confirmed.status_code == 200
    processed = (await api.get(f"/api/v1/refunds/{refund.json()['id']}")).json()
    assert processed["status"] == "processed"
    assert "refund.processed" in await events_of(hub.db, refund.json()["id"])


async def test_a_key_left_claimed_by_a_dead_process_is_not_stuck(api, hub, acme):
    """A process that died between the two steps of a start leaves its key claimed: once no
    start can still be running, the key is processed again (a new attempt, which ends the
    pending one)."""
    order = await api.post("/api/v1/orders", json={"amount": 5000, "currency": "USD"})
    request = {"order_id": order.json()["id"], "method": "acme"}
    created = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k5"})
    assert created.status_code == 201
    # What the dead process left: the claim without its response, and the payment pending.
    async with hub.db.transaction() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "k5")
            .values(status_code=0, response_body="", created_at=utc_now() - timedelta(hours=1))
        )
    again = await api.post("/api/v1/payments", json=request, headers={"Idempotency-Key": "k5"})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != created.json()["id"]
    # The abandoned attempt is ended at the provider, and settled as expired.
    assert acme.cancelled == [reference_of(created.json()["id"])]
    ended = (await api.get(f"/api/v1/payments/{created.json()['id']}")).json()
    assert (ended["status"], ended["error_code"]) == ("failed", "PAYMENT_EXPIRED")
    async with hub.db.transaction() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "k5")
            .values(status_code=0, response_body="", created_at=utc_now())
        )
    in_progress = await api.post(
        "/api/v1/payments", json=request, headers={"Idempotency-Key": "k5"}
    )
    assert in_progress.status_code == 409


async def test_another_merchant_neither_sees_nor_replays_the_notifications(api, hub):
    payment = await acme_payment(api)
    received = await notify(api, webhook(payment["id"], "paid"))
    assert received.status_code == 200
    mine = (await api.get("/api/v1/inbound-events")).json()
    assert [item["id"] for item in mine["data"]] == [received.json()["id"]]
    other = await other_merchant_headers(hub)
    theirs = await api.get("/api/v1/inbound-events", headers=other)
    assert theirs.json()["total"] == 0
    replay = await api.post(f"/api/v1/inbound-events/{received.json()['id']}/replay", headers=other)
    assert replay.status_code == 404
    assert replay.json()["error"]["code"] == "NOT_FOUND_ERROR"
