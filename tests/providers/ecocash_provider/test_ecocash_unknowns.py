"""EcoCash direct when an answer is lost, over HTTP on SQLite and PostgreSQL: a push whose
answer never came is still found by its lookup (the reference is stored before the push),
one that never reached EcoCash fails as never started; a refund whose outcome EcoCash never
tells (pending, or the answer lost) keeps its amount reserved and holds the payment for review
until the merchant says what the EcoCash dashboard shows."""

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from hazina.bootstrap import Container
from hazina.db.models import Payment
from hazina.domain.clock import utc_now
from hazina.domain.providers import ProviderFailure
from hazina.providers.ecocash import EcoCashProvider, source_reference
from hazina.services import provider_payments, refund_reconciliation, refunds
from hazina.services.reviews import NOT_RETURNED
from hazina.testing.ecocash_fake import FakeEcoCash, create_ecocash_fake
from tests.conftest import AUTH, http_client
from tests.web.conftest import log_in

API_KEY = "eco-unknowns-key-01"
PUSH = "/payment/instant/c2b/"
REFUND = "/refund/instant/c2b/"


class Cut(httpx.AsyncBaseTransport):
    """The fake over ASGI, with calls to a path cut: `lost` answers are dropped after the
    fake acted on the request; `unsent` requests never reach it."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.lost: set[str] = set()
        self.unsent: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if any(path in request.url.path for path in self.unsent):
            raise httpx.ConnectError("unreachable", request=request)
        response = await self.inner.handle_async_request(request)
        if any(path in request.url.path for path in self.lost):
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


@pytest.fixture
def ecocash_app() -> Starlette:
    return create_ecocash_fake(api_keys=(API_KEY,), pay_after=3600.0)


@pytest.fixture
def cut(ecocash_app: Starlette) -> Cut:
    return Cut(ecocash_app)


@pytest.fixture
async def hub(container: Container, cut: Cut) -> AsyncIterator[Container]:
    adapter = EcoCashProvider("http://ecocash.test", 5.0, transport=cut)
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


@pytest.fixture
async def control(ecocash_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The fake's own control routes, as a test script would call them."""
    transport = httpx.ASGITransport(app=ecocash_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ecocash.test") as client:
        yield client


async def _push(api: httpx.AsyncClient, phone: str, status: int) -> tuple[str, str]:
    """An order of USD 25.00 and its EcoCash push; the order's and the payment's ids."""
    order = (await api.post("/api/v1/orders", json={"amount": 2500, "currency": "USD"})).json()
    started = await api.post(
        "/api/v1/payments",
        json={"order_id": order["id"], "method": "ecocash_direct", "phone": phone},
    )
    assert started.status_code == status, started.text
    [payment] = (await api.get("/api/v1/payments", params={"order_id": order["id"]})).json()["data"]
    return order["id"], payment["id"]


async def _after_start_grace(hub: Container) -> None:
    async with hub.db.transaction() as session:
        await session.execute(update(Payment).values(created_at=utc_now() - timedelta(hours=1)))


async def test_a_push_whose_answer_was_lost_is_found_and_paid(
    hub: Container, api: httpx.AsyncClient, cut: Cut, control: httpx.AsyncClient
) -> None:
    cut.lost.add(PUSH)
    order_id, payment_id = await _push(api, "0779876543", 502)
    assert (await api.get(f"/api/v1/payments/{payment_id}")).json()["status"] == "pending"
    await _after_start_grace(hub)
    # Still pending on the customer's phone: the lookup finds it, and waits.
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment_id) in (
        "recorded",
        "applied",
    )
    assert (await api.get(f"/api/v1/payments/{payment_id}")).json()["status"] == "pending"

    paid = await control.post(
        f"/_control/transactions/{source_reference(payment_id)}", json={"status": "SUCCESS"}
    )
    assert paid.status_code == 200, paid.text
    outcome = await provider_payments.reconcile_payment(hub.db, hub.providers, payment_id)
    assert outcome == "applied"
    payment = (await api.get(f"/api/v1/payments/{payment_id}")).json()
    assert (payment["status"], payment["amount"]) == ("success", 2500)
    assert (await api.get(f"/api/v1/orders/{order_id}")).json()["status"] == "paid"


async def test_a_push_that_never_arrived_fails_once_its_start_is_over(
    hub: Container, api: httpx.AsyncClient, cut: Cut, ecocash_app: Starlette
) -> None:
    cut.unsent.add(PUSH)
    order_id, payment_id = await _push(api, "0779876543", 502)
    fake: FakeEcoCash = ecocash_app.state.ecocash
    assert fake.charges == {}
    # Within the start's grace a payment EcoCash does not know may still be starting.
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment_id) == (
        "unknown"
    )
    await _after_start_grace(hub)
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment_id) == (
        "applied"
    )
    payment = (await api.get(f"/api/v1/payments/{payment_id}")).json()
    assert payment["status"] == "failed"
    assert payment["error_description"] == "The payment never reached the provider"
    assert (await api.get(f"/api/v1/orders/{order_id}")).json()["status"] != "paid"


async def _paid(hub: Container, api: httpx.AsyncClient) -> str:
    """A payment of USD 25.00 from the sandbox number (it pays at once), settled by lookup."""
    _, payment_id = await _push(api, "0774222475", 201)
    assert await provider_payments.reconcile_payment(hub.db, hub.providers, payment_id) == (
        "applied"
    )
    return payment_id


async def _refund(hub: Container, api: httpx.AsyncClient, payment_id: str, amount: int) -> str:
    created = await api.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": amount})
    assert created.status_code == 201, created.text
    refund_id: str = created.json()["id"]
    return refund_id


async def test_a_refund_ecocash_leaves_pending_stays_reserved_until_the_merchant_says(
    hub: Container, api: httpx.AsyncClient, control: httpx.AsyncClient, ecocash_app: Starlette
) -> None:
    payment_id = await _paid(hub, api)
    assert (await control.post("/_control/refunds", json={"status": "PENDING"})).is_success
    refund_id = await _refund(hub, api, payment_id, 1000)
    await refunds.process_refund(hub.db, hub.sandbox, hub.providers, refund_id)
    assert (await api.get(f"/api/v1/refunds/{refund_id}")).json()["status"] == "pending"

    # The last status query learns nothing (EcoCash has no refund lookup): no release.
    outcome = await refund_reconciliation.reconcile_refund(
        hub.db, hub.providers, refund_id, final=True
    )
    assert outcome == "applied"
    assert (await api.get(f"/api/v1/refunds/{refund_id}")).json()["status"] == "pending"
    payment = (await api.get(f"/api/v1/payments/{payment_id}")).json()
    assert (payment["status"], payment["review_reason"], payment["amount_refunded"]) == (
        "review",
        "refund_unconfirmed",
        1000,
    )
    again = await api.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": 1000})
    assert again.status_code == 400, again.text
    async with http_client(hub) as visitor:
        assert (await log_in(visitor)).status_code == 303
        page = (await visitor.get(f"/dashboard/transactions/{payment_id}")).text
    assert "Check the refund in your ecocash dashboard" in page

    # The merchant finds it paid at EcoCash: the refund is processed, the reservation kept.
    resolved = await api.post(f"/api/v1/payments/{payment_id}/review", json={"action": "accept"})
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["amount_refunded"]) == ("success", 1000)
    assert (await api.get(f"/api/v1/refunds/{refund_id}")).json()["status"] == "processed"
    beyond = await api.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": 1501})
    assert beyond.status_code == 400, beyond.text
    [charge] = ecocash_app.state.ecocash.charges.values()
    assert len(charge.refunded) == 1


async def test_a_refund_whose_answer_was_lost_is_held_then_found_unpaid(
    hub: Container, api: httpx.AsyncClient, cut: Cut, ecocash_app: Starlette
) -> None:
    payment_id = await _paid(hub, api)
    cut.lost.add(REFUND)
    refund_id = await _refund(hub, api, payment_id, 1000)
    with pytest.raises(ProviderFailure, match="did not answer in time"):
        await refunds.process_refund(hub.db, hub.sandbox, hub.providers, refund_id)
    # Out of attempts: EcoCash may have paid it, so the amount is not released.
    await refund_reconciliation.give_up_refund(hub.db, hub.providers.registry, refund_id)
    payment = (await api.get(f"/api/v1/payments/{payment_id}")).json()
    assert (payment["status"], payment["review_reason"], payment["amount_refunded"]) == (
        "review",
        "refund_unconfirmed",
        1000,
    )
    assert (await api.get(f"/api/v1/refunds/{refund_id}")).json()["status"] == "pending"

    # The merchant finds it unpaid and sends everything back: the held refund fails (released)
    # and one refund of the whole amount replaces it.
    resolved = await api.post(f"/api/v1/payments/{payment_id}/review", json={"action": "refund"})
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["amount_refunded"]) == ("refunded", 2500)
    held = (await api.get(f"/api/v1/refunds/{refund_id}")).json()
    assert (held["status"], held["failure_reason"]) == ("failed", NOT_RETURNED)
    listed = (await api.get(f"/api/v1/payments/{payment_id}/refunds")).json()["data"]
    assert sorted((r["amount"], r["status"]) for r in listed) == [
        (1000, "failed"),
        (2500, "pending"),
    ]
    [charge] = ecocash_app.state.ecocash.charges.values()
    assert [sent["amount"] for sent in charge.refunded] == [10]
