"""Paynow through the hub, on SQLite and PostgreSQL: a merchant's own account, payments started
over the API, status updates from the fake POSTed to the account's hook URL (in-process), polls
when they are lost, tampered and duplicated updates, refunds refused, reversals reviewed."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from hazina.api.app import create_app
from hazina.bootstrap import Container
from hazina.db.models import (
    AuditLog,
    Event,
    InboundEvent,
    Job,
    LedgerAccount,
    LedgerTransfer,
    Payment,
    Refund,
)
from hazina.domain.clock import utc_now
from hazina.providers.paynow import EXPRESS_METHODS, PaynowProvider
from hazina.services import provider_payments
from hazina.services.checkout_methods import checkout_offer
from hazina.services.ledger import charges
from hazina.services.ledger.check import check_ledger
from hazina.testing.paynow_fake import (
    FakeIntegration,
    FakePaynow,
    create_paynow_fake,
    settle,
    status_fields,
)
from tests.conftest import AUTH, http_client
from tests.providers.paynow_provider.conftest import (
    AUTH_EMAIL,
    BASE,
    INTEGRATION_ID,
    INTEGRATION_KEY,
)
from tests.providers.paynow_provider.test_paynow import settled

CREDENTIALS = {
    "integration_id": INTEGRATION_ID,
    "integration_key": INTEGRATION_KEY,
    "auth_email": AUTH_EMAIL,
}


@pytest.fixture
def paynow_app(container: Container) -> Starlette:
    return create_paynow_fake(
        time_scale=0.0,
        ipn_transport=httpx.ASGITransport(app=create_app(container)),
        integrations=(FakeIntegration(INTEGRATION_ID, INTEGRATION_KEY, AUTH_EMAIL),),
    )


@pytest.fixture
def paynow(paynow_app: Starlette) -> FakePaynow:
    state: FakePaynow = paynow_app.state.paynow
    return state


@pytest.fixture
async def hub(container: Container, paynow_app: Starlette) -> AsyncIterator[Container]:
    adapter = PaynowProvider(BASE, 5.0, transport=httpx.ASGITransport(app=paynow_app))
    registry = container.providers.registry
    adapters = {**registry.adapters, "paynow": adapter}
    providers = dataclasses.replace(
        container.providers, registry=dataclasses.replace(registry, adapters=adapters)
    )
    yield dataclasses.replace(container, providers=providers)
    await adapter.aclose()


@pytest.fixture
async def api(hub: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub, AUTH) as client:
        response = await client.put(
            "/api/v1/provider-accounts/paynow", json={"mode": "test", "credentials": CREDENTIALS}
        )
        assert response.status_code == 200, response.text
        yield client


async def hook_path(api: httpx.AsyncClient) -> str:
    """The account's hook URL, as the provider accounts list shows it."""
    listed = (await api.get("/api/v1/provider-accounts")).json()["data"]
    [account] = [a for a in listed if a["provider"] == "paynow"]
    url: str = account["webhook_url"]
    return "/hooks/" + url.split("/hooks/", 1)[1]


async def pay(
    api: httpx.AsyncClient, method: str, phone: str | None = None, currency: str = "ZWG"
) -> tuple[dict[str, Any], httpx.Response]:
    order = (await api.post("/api/v1/orders", json={"amount": 1050, "currency": currency})).json()
    body: dict[str, Any] = {"order_id": order["id"], "method": method}
    if phone:
        body["phone"] = phone
    return order, await api.post("/api/v1/payments", json=body)


async def payment_row(hub: Container, payment_id: str) -> Payment:
    async with hub.db.read() as session:
        return await session.get_one(Payment, payment_id)


async def count_events(hub: Container, payment_id: str, kind: str) -> int:
    async with hub.db.read() as session:
        total = await session.scalar(
            select(func.count()).where(Event.resource_id == payment_id, Event.type == kind)
        )
        return int(total or 0)


async def test_ecocash_with_the_success_number_pays_the_order_once(
    hub: Container, api: httpx.AsyncClient, paynow: FakePaynow
) -> None:
    order, started = await pay(api, "ecocash", "0771111111")
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["next_action"]["type"] == "ussd_push"
    row = await payment_row(hub, payment["id"])
    assert row.provider == "paynow"
    assert str(row.provider_reference).startswith(f"{BASE}/Interface/CheckPayment/?guid=")
    assert row.provider_payment_reference  # paynowreference
    await settled(paynow)
    assert paynow.ipn_outcomes == ["200"]
    assert (await payment_row(hub, payment["id"])).status == "success"
    order_now = (await api.get(f"/api/v1/orders/{order['id']}")).json()
    assert order_now["status"] == "paid"
    assert await count_events(hub, payment["id"], "payment.success") == 1


@pytest.mark.parametrize(("phone", "status"), [("0772222222", "success"), ("0773333333", "failed")])
async def test_the_delayed_and_cancelled_numbers(
    hub: Container, api: httpx.AsyncClient, paynow: FakePaynow, phone: str, status: str
) -> None:
    _, started = await pay(api, "onemoney", phone)
    await settled(paynow)
    assert (await payment_row(hub, started.json()["id"])).status == status


async def test_insufficient_balance_fails_the_payment_with_a_clear_error(
    hub: Container, api: httpx.AsyncClient
) -> None:
    _, started = await pay(api, "ecocash", "0774444444")
    assert started.status_code == 400
    assert started.json()["error"]["description"] == "Paynow: Insufficient balance"
    async with hub.db.read() as session:
        [row] = (await session.scalars(select(Payment))).all()
    assert row.status == "failed"


async def test_a_lost_status_update_is_settled_by_polling_and_refunds_are_refused(
    hub: Container, api: httpx.AsyncClient, paynow: FakePaynow
) -> None:
    await api.post("/api/v1/orders", json={"amount": 1, "currency": "USD"})  # unrelated
    paynow.lose_ipns = True
    _, started = await pay(api, "paynow", currency="USD")
    payment = started.json()
    assert payment["next_action"]["type"] == "redirect"
    # The customer pays on Paynow's page; its status update never arrives.
    [transaction] = paynow.transactions.values()
    await settle(paynow, transaction, "Paid")
    assert paynow.ipn_outcomes == ["lost"]
    assert (await payment_row(hub, payment["id"])).status == "pending"
    outcome = await provider_payments.reconcile_payment(hub.db, hub.providers, payment["id"])
    assert outcome == "applied"
    assert (await payment_row(hub, payment["id"])).status == "success"

    refused = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 100})
    assert refused.status_code == 400
    assert "paynow has no refund API" in refused.json()["error"]["description"]


async def test_a_tampered_update_is_answered_200_stored_rejected_and_changes_nothing(
    hub: Container, api: httpx.AsyncClient, paynow: FakePaynow
) -> None:
    paynow.lose_ipns = True
    _, started = await pay(api, "ecocash", "0771111111")
    await settled(paynow)
    [transaction] = paynow.transactions.values()
    pairs = status_fields(transaction, INTEGRATION_KEY)
    tampered = urlencode([(k, "1.00" if k == "amount" else v) for k, v in pairs])
    async with http_client(hub) as anonymous:
        answer = await anonymous.post(
            await hook_path(api),
            content=tampered,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200
    assert answer.json()["status"] == "rejected"
    async with hub.db.read() as session:
        stored = await session.get_one(InboundEvent, answer.json()["id"])
    assert stored.status == "rejected"
    assert (await payment_row(hub, started.json()["id"])).status == "pending"


async def test_thirty_copies_of_one_update_at_once_make_one_transition_and_one_event(
    hub: Container, api: httpx.AsyncClient, paynow: FakePaynow
) -> None:
    paynow.lose_ipns = True
    _, started = await pay(api, "innbucks")
    payment = started.json()
    assert payment["next_action"]["type"] == "authorization_code"
    [transaction] = paynow.transactions.values()
    await settle(paynow, transaction, "Paid")
    body = urlencode(status_fields(transaction, INTEGRATION_KEY))
    path = await hook_path(api)
    async with http_client(hub) as anonymous:
        answers = await asyncio.gather(
            *(
                anonymous.post(
                    path,
                    content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                for _ in range(30)
            )
        )
    assert {a.status_code for a in answers} == {200}
    statuses = sorted(a.json()["status"] for a in answers)
    assert statuses == ["duplicate"] * 29 + ["processed"]
    assert (await payment_row(hub, payment["id"])).status == "success"
    assert await count_events(hub, payment["id"], "payment.success") == 1


async def test_refunded_at_paynow_sends_a_successful_payment_to_review(
    hub: Container, api: httpx.AsyncClient, paynow: FakePaynow
) -> None:
    _, started = await pay(api, "ecocash", "0771111111")
    await settled(paynow)
    [transaction] = paynow.transactions.values()
    await settle(paynow, transaction, "Refunded")
    row = await payment_row(hub, started.json()["id"])
    assert (row.status, row.review_reason) == ("review", "returned_at_provider")
    assert await count_events(hub, row.id, "payment.review_required") == 1
    # A repeat of the same update changes nothing more.
    await settle(paynow, transaction, "Refunded")
    assert await count_events(hub, row.id, "payment.review_required") == 1


async def test_money_refunded_at_paynow_stays_pending_then_leaves_the_ledger_when_resolved(
    hub: Container, api: httpx.AsyncClient, paynow: FakePaynow
) -> None:
    _, started = await pay(api, "ecocash", "0771111111")
    await settled(paynow)
    [transaction] = paynow.transactions.values()
    await settle(paynow, transaction, "Refunded")
    payment_id = started.json()["id"]
    async with hub.db.read() as session:
        charge = await session.scalar(
            select(LedgerTransfer).where(
                LedgerTransfer.payment_id == payment_id, LedgerTransfer.kind == charges.CHARGE
            )
        )
    assert charge is not None

    # In review, the charge is not released (a payout could take money the customer has back):
    # its release looks again later.
    await charges.release_charge(hub.db, charge.id, lambda _: timedelta(0))
    async with hub.db.read() as session:
        unreleased = await session.get_one(LedgerTransfer, charge.id)
        later = await session.scalar(
            select(func.max(Job.run_at)).where(Job.kind == charges.RELEASE_BALANCE)
        )
    assert unreleased.released_at is None
    assert later is not None
    assert later > utc_now() + charges.RELEASE_REVIEW_RECHECK / 2

    review = f"/api/v1/payments/{payment_id}/review"
    refused = await api.post(review, json={"action": "refund"})
    assert refused.status_code == 400
    assert "resolve this payment as refunded_elsewhere" in refused.json()["error"]["description"]
    resolved = await api.post(review, json={"action": "refunded_elsewhere"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "refunded"
    assert resolved.json()["amount_refunded"] == 1050
    async with hub.db.read() as session:
        refunds = (
            await session.scalars(select(Refund).where(Refund.payment_id == payment_id))
        ).all()
        balances = (
            await session.execute(select(LedgerAccount.pending, LedgerAccount.available))
        ).all()
        audited = await session.scalar(
            select(AuditLog.action).where(AuditLog.target == f"payment:{payment_id}")
        )
    assert [(r.status, r.amount) for r in refunds] == [("processed", 1050)]
    assert await count_events(hub, payment_id, "payment.refunded") == 1
    assert audited == "payment.review_refunded_elsewhere"
    # Nothing of it is counted any more: every account is back to zero.
    assert set(balances) == {(0, 0)}
    assert (await check_ledger(hub.db)).ok
    # Resolved, its release finds nothing left to release.
    await charges.release_charge(hub.db, charge.id, lambda _: timedelta(0))
    async with hub.db.read() as session:
        assert (await session.get_one(LedgerTransfer, charge.id)).released_at is not None
    assert (await check_ledger(hub.db)).ok


async def test_the_checkout_offers_paynow_only_for_orders_in_a_currency_it_collects(
    hub: Container, api: httpx.AsyncClient
) -> None:
    offered = {}
    for currency in ("USD", "ZWG", "INR"):
        order = await api.post("/api/v1/orders", json={"amount": 1000, "currency": currency})
        assert order.status_code == 201, order.text
        offer = await checkout_offer(hub.db, hub.providers.registry, order.json()["id"])
        offered[currency] = {m for m in offer.methods if m == "paynow" or m in EXPRESS_METHODS}
    everything = {"paynow", *EXPRESS_METHODS}
    assert offered == {"USD": everything, "ZWG": everything, "INR": set()}
