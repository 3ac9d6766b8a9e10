"""Test mode and live mode over HTTP, on SQLite and PostgreSQL.

The seeded test merchant (`key_test_abc123`) is the test twin of an account whose live twin has
keys of its own. A live key can never take a sandbox payment, a live order's checkout never
offers one, neither key sees the other twin's data, idempotency keys are per mode, every resource
and event says which mode it belongs to, and provider credentials must match the key's mode.
Live payments go through the Stripe fake (the only way real money moves), served over HTTP.
"""

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.models import Event, IdempotencyKey, Job, Payment, WebhookLog
from hazina.domain.clock import utc_now
from hazina.domain.states import JobStatus
from hazina.services.merchants import TEST_MERCHANT_ID, find_twin, roll_api_secret
from hazina.testing.sink import WebhookSink
from hazina.testing.stripe_fake import create_stripe_fake
from hazina.worker import Worker
from tests.conftest import AUTH, make_settings
from tests.envelopes import assert_error
from tests.providers.stripe_provider.conftest import StripeServer
from tests.waiting import drain, wait_until

LIVE_STRIPE = {"secret_key": "sk_live_hazinaModes4242", "webhook_secret": "whsec_live_modes"}
TEST_STRIPE = {"secret_key": "sk_test_hazinaModes4242", "webhook_secret": "whsec_test_modes"}
PROVIDERS = "/api/v1/provider-accounts"


def card() -> dict[str, Any]:
    return {
        "number": "4111111111111111",
        "expiry_month": 12,
        "expiry_year": 2099,
        "cvv": "123",
        "holder_name": "Live Buyer",
    }


SANDBOX_INSTRUMENTS = [
    pytest.param({"method": "upi", "vpa": "user@paytm"}, id="upi"),
    pytest.param({"method": "card", "card": card()}, id="card"),
]


@pytest.fixture
async def stripe_server() -> AsyncIterator[StripeServer]:
    """The Stripe fake on a real local port: the adapter's `stripe` client cannot use ASGI."""
    app = create_stripe_fake()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
        fake = StripeServer(app, url, http)
        for keys in (LIVE_STRIPE, TEST_STRIPE):
            await fake.control(
                "webhook_endpoints",
                api_key=keys["secret_key"],
                url=None,
                secret=keys["webhook_secret"],
            )
        yield fake
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture
def settings(database_url: str, stripe_server: StripeServer) -> Settings:
    return make_settings(database_url, stripe_api_base=stripe_server.url)


@pytest.fixture
async def live(container: Container) -> dict[str, str]:
    """Headers of the seeded account's live twin, whose secret is rolled to be known."""
    twin = await find_twin(container.db, TEST_MERCHANT_ID, livemode=True)
    assert twin.api_key.startswith("key_live_")
    assert twin.id != TEST_MERCHANT_ID
    secret = await roll_api_secret(container.db, twin.id, actor="test", cache=container.credentials)
    assert secret.startswith("secret_live_")
    return {"X-Api-Key": twin.api_key, "X-Api-Secret": secret}


async def create_order(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/orders", json={"amount": 2500, "currency": "USD"} | body, headers=headers
    )
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def counts(container: Container) -> tuple[int, int, int, int]:
    """Payments, events, deliveries and stored idempotent responses, all merchants together."""
    async with container.db.read() as session:
        return (
            await session.scalar(select(func.count()).select_from(Payment)) or 0,
            await session.scalar(select(func.count()).select_from(Event)) or 0,
            await session.scalar(select(func.count()).select_from(WebhookLog)) or 0,
            await session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0,
        )


def method_buttons(page: httpx.Response) -> list[str]:
    return re.findall(r'data-test-id="method-([a-z_]+)"', page.text)


async def connect_stripe(
    client: httpx.AsyncClient, headers: dict[str, str], credentials: dict[str, str]
) -> dict[str, Any]:
    response = await client.put(
        f"{PROVIDERS}/stripe", json={"credentials": credentials}, headers=headers
    )
    assert response.status_code == 200, response.text
    account: dict[str, Any] = response.json()
    return account


# A live key and the sandbox.


@pytest.mark.parametrize("instrument", SANDBOX_INSTRUMENTS)
async def test_a_live_key_cannot_create_a_sandbox_payment(
    client: httpx.AsyncClient,
    container: Container,
    live: dict[str, str],
    instrument: dict[str, Any],
) -> None:
    order = await create_order(client, live, amount=50000, currency="INR")
    assert order["livemode"] is True
    before = await counts(container)
    body = {"order_id": order["id"]} | instrument
    for headers in (live, live | {"Idempotency-Key": "live-sandbox"}):
        response = await client.post("/api/v1/payments", json=body, headers=headers)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "BAD_REQUEST_ERROR"
        assert "test mode" in error["description"]
        assert instrument["method"] in error["description"]
    assert await counts(container) == before
    untouched = await client.get(f"/api/v1/orders/{order['id']}", headers=live)
    assert untouched.json()["status"] == "created"
    listed = await client.get("/api/v1/payments", headers=live)
    assert listed.json()["total"] == 0


@pytest.mark.parametrize("instrument", SANDBOX_INSTRUMENTS)
async def test_a_live_orders_public_payment_refuses_the_sandbox(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    container: Container,
    live: dict[str, str],
    instrument: dict[str, Any],
) -> None:
    order = await create_order(client, live, amount=50000, currency="INR")
    before = await counts(container)
    body = {"order_id": order["id"]} | instrument
    response = await anonymous.post("/api/v1/payments/public", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert "test mode" in response.json()["error"]["description"]
    # A test key's credentials sent along do not turn the live order into a test one.
    keyed = await client.post("/api/v1/payments/public", json=body, headers=AUTH)
    assert keyed.status_code == 400, keyed.text
    assert await counts(container) == before
    order_now = await client.get(f"/api/v1/orders/{order['id']}", headers=live)
    assert order_now.json()["status"] == "created"


async def test_the_same_public_sandbox_payment_works_for_a_test_order(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """The counterpart of the refusal above: the refusal is about the mode, not the route."""
    order = await create_order(client, AUTH, amount=50000, currency="INR")
    assert order["livemode"] is False
    body = {"order_id": order["id"], "method": "upi", "vpa": "user@paytm"}
    response = await anonymous.post("/api/v1/payments/public", json=body)
    assert response.status_code == 201, response.text


async def test_only_a_test_orders_checkout_offers_the_sandbox(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, live: dict[str, str]
) -> None:
    test_order = await create_order(client, AUTH)
    live_order = await create_order(client, live)
    test_page = await anonymous.get("/checkout", params={"order_id": test_order["id"]})
    assert test_page.status_code == 200
    assert {"upi", "card"} <= set(method_buttons(test_page))

    live_page = await anonymous.get("/checkout", params={"order_id": live_order["id"]})
    assert live_page.status_code == 200
    assert method_buttons(live_page) == []

    # With a live Stripe account, the live checkout offers Stripe and still no sandbox method.
    await connect_stripe(client, live, LIVE_STRIPE)
    live_page = await anonymous.get("/checkout", params={"order_id": live_order["id"]})
    assert method_buttons(live_page) == ["stripe"]
    test_page = await anonymous.get("/checkout", params={"order_id": test_order["id"]})
    assert "stripe" not in method_buttons(test_page)  # the live account is not the test twin's


# Neither mode sees the other's data.


@dataclass
class Side:
    """What one twin created, read back through its own key."""

    name: str
    livemode: bool
    headers: dict[str, str]
    merchant_id: str
    order_id: str = ""
    payment_id: str = ""
    refund_id: str = ""
    provider_account_id: str = ""
    stripe_hook: str = ""
    event_ids: set[str] = field(default_factory=set)
    delivery_ids: set[str] = field(default_factory=set)


async def paid_live_stripe_payment(
    client: httpx.AsyncClient, stripe_server: StripeServer, side: Side
) -> dict[str, Any]:
    order = await create_order(client, side.headers)
    side.order_id = order["id"]
    created = await client.post(
        "/api/v1/payments",
        json={"order_id": order["id"], "method": "stripe"},
        headers=side.headers,
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    assert payment["livemode"] is True
    session = payment["provider_reference"]
    completed = await stripe_server.control(
        f"checkout/sessions/{session}/complete", payment_status="paid", deliver=False
    )
    event = next(e for e in completed["events"] if e["type"] == "checkout.session.completed")
    received = await client.post(
        side.stripe_hook,
        content=event["body"].encode(),
        headers={"Stripe-Signature": event["signature"]},
    )
    assert received.status_code == 200, received.text
    settled = await client.get(f"/api/v1/payments/{payment['id']}", headers=side.headers)
    assert settled.json()["status"] == "success", settled.text
    return payment


@pytest.fixture
async def sides(
    client: httpx.AsyncClient,
    container: Container,
    live: dict[str, str],
    stripe_server: StripeServer,
    sink: WebhookSink,
    worker: Worker,
) -> tuple[Side, Side]:
    """Each twin with a webhook URL, a Stripe account, an order, a successful payment and a
    refund: the test twin pays by UPI, the live twin through Stripe."""
    live_twin = await find_twin(container.db, TEST_MERCHANT_ID, livemode=True)
    test = Side("test", False, AUTH, str(TEST_MERCHANT_ID))
    live_side = Side("live", True, live, str(live_twin.id))
    for side, keys in ((test, TEST_STRIPE), (live_side, LIVE_STRIPE)):
        config = await client.put(
            "/api/v1/webhooks/config",
            json={"webhook_url": sink.url(f"/{side.name}")},
            headers=side.headers,
        )
        assert config.status_code == 200, config.text
        account = await connect_stripe(client, side.headers, keys)
        assert account["mode"] == side.name
        side.provider_account_id = account["id"]
        side.stripe_hook = "/hooks/" + account["webhook_url"].split("/hooks/", 1)[1]

    order = await create_order(client, AUTH, amount=50000, currency="INR")
    test.order_id = order["id"]
    created = await client.post(
        "/api/v1/payments",
        json={"order_id": order["id"], "method": "upi", "vpa": "user@paytm"},
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    test.payment_id = created.json()["id"]
    await drain(worker)
    paid = await client.get(f"/api/v1/payments/{test.payment_id}", headers=AUTH)
    assert paid.json()["status"] == "success"

    live_side.payment_id = (await paid_live_stripe_payment(client, stripe_server, live_side))["id"]

    for side in (test, live_side):
        refund = await client.post(
            f"/api/v1/payments/{side.payment_id}/refunds",
            json={"amount": 100},
            headers=side.headers,
        )
        assert refund.status_code == 201, refund.text
        side.refund_id = refund.json()["id"]
    await drain_due(worker)

    for side in (test, live_side):
        events = await client.get("/api/v1/events", params={"limit": 100}, headers=side.headers)
        side.event_ids = {item["id"] for item in events.json()["data"]}
        deliveries = await client.get(
            "/api/v1/webhooks", params={"limit": 100}, headers=side.headers
        )
        side.delivery_ids = {item["id"] for item in deliveries.json()["data"]}
        assert side.event_ids, side.name
        assert side.delivery_ids, side.name
    return test, live_side


async def nothing_due(db: Database) -> bool:
    """No job is running or due; scheduled checks (reconciliation) may wait in the future."""
    async with db.read() as session:
        due = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                (Job.status == JobStatus.PROCESSING)
                | ((Job.status == JobStatus.PENDING) & (Job.run_at <= utc_now()))
            )
        )
    return due == 0


async def drain_due(worker: Worker) -> None:
    """Run the worker until every job that is due has run."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_until(lambda: nothing_due(worker.db))
    finally:
        stop.set()
        await task


def both_ways(sides: tuple[Side, Side]) -> list[tuple[Side, Side]]:
    test, live_side = sides
    return [(test, live_side), (live_side, test)]


async def test_neither_mode_reads_the_others_objects_by_id(
    client: httpx.AsyncClient, sides: tuple[Side, Side]
) -> None:
    for reader, owner in both_ways(sides):
        own = reader.headers
        paths = {
            f"/api/v1/orders/{owner.order_id}": "Order not found",
            f"/api/v1/payments/{owner.payment_id}": "Payment not found",
            f"/api/v1/payments/{owner.payment_id}/refunds": "Payment not found",
            f"/api/v1/refunds/{owner.refund_id}": None,
        }
        for path, description in paths.items():
            response = await client.get(path, headers=own)
            assert response.status_code == 404, (reader.name, path, response.text)
            assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
            if description is not None:
                assert response.json()["error"]["description"] == description
        for event_id in owner.event_ids:
            response = await client.get(f"/api/v1/events/{event_id}", headers=own)
            assert response.status_code == 404, (reader.name, event_id)
        for delivery_id in owner.delivery_ids:
            response = await client.get(f"/api/v1/webhooks/{delivery_id}", headers=own)
            assert response.status_code == 404, (reader.name, delivery_id)
            retried = await client.post(f"/api/v1/webhooks/{delivery_id}/retry", headers=own)
            assert retried.status_code == 404, (reader.name, delivery_id)
        # The reader's own objects are there: the 404s are about ownership, not absence.
        for path in (
            f"/api/v1/orders/{reader.order_id}",
            f"/api/v1/payments/{reader.payment_id}",
            f"/api/v1/refunds/{reader.refund_id}",
        ):
            response = await client.get(path, headers=own)
            assert response.status_code == 200, (reader.name, path, response.text)
            assert response.json()["livemode"] is reader.livemode


async def test_neither_mode_lists_the_others_objects(
    client: httpx.AsyncClient, sides: tuple[Side, Side]
) -> None:
    for reader, owner in both_ways(sides):
        own = reader.headers
        payments = (await client.get("/api/v1/payments", headers=own)).json()
        assert [item["id"] for item in payments["data"]] == [reader.payment_id]
        assert payments["total"] == 1

        refunds = await client.get(f"/api/v1/payments/{reader.payment_id}/refunds", headers=own)
        assert [item["id"] for item in refunds.json()["data"]] == [reader.refund_id]

        events = (await client.get("/api/v1/events", params={"limit": 100}, headers=own)).json()
        assert {item["id"] for item in events["data"]} == reader.event_ids
        assert not reader.event_ids & owner.event_ids
        assert all(item["livemode"] is reader.livemode for item in events["data"])
        resources = {item["resource_id"] for item in events["data"]}
        assert {reader.payment_id, reader.refund_id} <= resources
        assert not {owner.payment_id, owner.refund_id, owner.order_id} & resources

        deliveries = await client.get("/api/v1/webhooks", params={"limit": 100}, headers=own)
        assert {item["id"] for item in deliveries.json()["data"]} == reader.delivery_ids
        assert not reader.delivery_ids & owner.delivery_ids

        accounts = await client.get(PROVIDERS, headers=own)
        assert [item["id"] for item in accounts.json()["data"]] == [reader.provider_account_id]
        assert [item["mode"] for item in accounts.json()["data"]] == [reader.name]

        audit = await client.get("/api/v1/audit-logs", params={"limit": 100}, headers=own)
        assert audit.status_code == 200, audit.text
        rows = audit.json()["data"]
        assert rows
        text = str(rows)
        assert owner.merchant_id not in text
        assert owner.provider_account_id not in text
        assert f"provider_account:{reader.provider_account_id}" in {row["target"] for row in rows}
        config = (await client.get("/api/v1/webhooks/config", headers=own)).json()
        assert config["webhook_url"].endswith(f"/{reader.name}")


async def test_neither_mode_changes_the_others_objects(
    client: httpx.AsyncClient, sides: tuple[Side, Side]
) -> None:
    for reader, owner in both_ways(sides):
        refund = await client.post(
            f"/api/v1/payments/{owner.payment_id}/refunds",
            json={"amount": 100},
            headers=reader.headers,
        )
        assert refund.status_code == 404, refund.text
        capture = await client.post(
            f"/api/v1/payments/{owner.payment_id}/capture",
            json={"amount": 2500},
            headers=reader.headers,
        )
        assert capture.status_code == 404, capture.text
        paid = await client.post(
            "/api/v1/payments",
            json={"order_id": owner.order_id, "method": "stripe"},
            headers=reader.headers,
        )
        assert paid.status_code == 404, paid.text
    for side in sides:
        payment = await client.get(f"/api/v1/payments/{side.payment_id}", headers=side.headers)
        assert payment.json()["amount_refunded"] == 100


async def test_resources_and_events_carry_their_mode(
    client: httpx.AsyncClient, sides: tuple[Side, Side]
) -> None:
    for side in sides:
        own = side.headers
        order = (await client.get(f"/api/v1/orders/{side.order_id}", headers=own)).json()
        assert order["livemode"] is side.livemode
        assert order["merchant_id"] == side.merchant_id
        payment = (await client.get(f"/api/v1/payments/{side.payment_id}", headers=own)).json()
        assert payment["livemode"] is side.livemode
        refund = (await client.get(f"/api/v1/refunds/{side.refund_id}", headers=own)).json()
        assert refund["livemode"] is side.livemode
        for event_id in side.event_ids:
            event = (await client.get(f"/api/v1/events/{event_id}", headers=own)).json()
            assert event["livemode"] is side.livemode
            assert event["payload"]["livemode"] is side.livemode, event
        types = {
            item["type"]
            for item in (
                await client.get("/api/v1/events", params={"limit": 100}, headers=own)
            ).json()["data"]
        }
        assert {"payment.success", "refund.created"} <= types, (side.name, types)
        for delivery_id in side.delivery_ids:
            delivery = (await client.get(f"/api/v1/webhooks/{delivery_id}", headers=own)).json()
            assert delivery["payload"]["livemode"] is side.livemode, delivery


async def test_each_modes_webhooks_go_to_its_own_url(
    sides: tuple[Side, Side], sink: WebhookSink
) -> None:
    """Deliveries were drained to the sink: each twin's events reached its own URL only."""
    by_path: dict[str, set[bool]] = {}
    for received in sink.received:
        by_path.setdefault(received.path, set()).add(json.loads(received.body)["livemode"])
    assert by_path == {"/test": {False}, "/live": {True}}


# Idempotency keys and provider accounts.


async def test_idempotency_keys_are_per_mode(
    client: httpx.AsyncClient, live: dict[str, str]
) -> None:
    key = {"Idempotency-Key": "same-key-both-modes"}
    body = {"amount": 1500, "currency": "INR", "receipt": "r-1"}
    first_test = await client.post("/api/v1/orders", json=body, headers=AUTH | key)
    first_live = await client.post("/api/v1/orders", json=body, headers=live | key)
    assert (first_test.status_code, first_live.status_code) == (201, 201)
    assert first_test.json()["id"] != first_live.json()["id"]
    assert first_test.json()["livemode"] is False
    assert first_live.json()["livemode"] is True
    # Each mode replays its own stored response.
    again_test = await client.post("/api/v1/orders", json=body, headers=AUTH | key)
    again_live = await client.post("/api/v1/orders", json=body, headers=live | key)
    assert again_test.json()["id"] == first_test.json()["id"]
    assert again_live.json()["id"] == first_live.json()["id"]
    missing = await client.get(f"/api/v1/orders/{first_live.json()['id']}", headers=AUTH)
    assert missing.status_code == 404


async def test_a_test_key_refuses_a_live_stripe_key(client: httpx.AsyncClient) -> None:
    for secret_key in ("sk_live_hazinaWrongMode01", "rk_live_hazinaWrongMode01"):
        credentials = {"secret_key": secret_key, "webhook_secret": "whsec_x"}
        response = await client.put(f"{PROVIDERS}/stripe", json={"credentials": credentials})
        assert_error(
            response,
            400,
            "BAD_REQUEST_ERROR",
            "secret_key must start with sk_test_ or rk_test_ in test mode",
        )
        assert secret_key not in response.text
    assert (await client.get(PROVIDERS)).json()["data"] == []


async def test_a_live_key_refuses_a_test_stripe_key(
    client: httpx.AsyncClient, live: dict[str, str]
) -> None:
    for secret_key in ("sk_test_hazinaWrongMode01", "rk_test_hazinaWrongMode01"):
        credentials = {"secret_key": secret_key, "webhook_secret": "whsec_x"}
        response = await client.put(
            f"{PROVIDERS}/stripe", json={"credentials": credentials}, headers=live
        )
        assert_error(
            response,
            400,
            "BAD_REQUEST_ERROR",
            "secret_key must start with sk_live_ or rk_live_ in live mode",
        )
    # A publishable key of the other mode is refused alike.
    mixed = {
        "secret_key": "sk_live_hazinaRightMode01",
        "webhook_secret": "whsec_x",
        "publishable_key": "pk_test_hazinaWrongMode01",
    }
    response = await client.put(f"{PROVIDERS}/stripe", json={"credentials": mixed}, headers=live)
    assert response.status_code == 400, response.text
    assert (await client.get(PROVIDERS, headers=live)).json()["data"] == []


async def test_a_live_key_saves_a_restricted_live_key(
    client: httpx.AsyncClient, live: dict[str, str]
) -> None:
    credentials = {"secret_key": "rk_live_hazinaRestricted01", "webhook_secret": "whsec_live"}
    response = await client.put(
        f"{PROVIDERS}/stripe", json={"credentials": credentials}, headers=live
    )
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "live"
    explicit = await client.put(
        f"{PROVIDERS}/stripe", json={"mode": "live", "credentials": credentials}, headers=live
    )
    assert explicit.status_code == 200, explicit.text
    assert explicit.json()["id"] == response.json()["id"]
    assert [
        item["mode"] for item in (await client.get(PROVIDERS, headers=live)).json()["data"]
    ] == ["live"]
    assert (await client.get(PROVIDERS)).json()["data"] == []


async def test_a_key_cannot_name_the_other_mode(
    client: httpx.AsyncClient, live: dict[str, str]
) -> None:
    live_credentials = {"secret_key": "sk_live_hazinaOther01", "webhook_secret": "whsec_x"}
    as_test = await client.put(
        f"{PROVIDERS}/stripe", json={"mode": "live", "credentials": live_credentials}
    )
    assert as_test.status_code == 400, as_test.text
    assert as_test.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert "mode must be test" in as_test.json()["error"]["description"]
    test_credentials = {"secret_key": "sk_test_hazinaOther01", "webhook_secret": "whsec_x"}
    as_live = await client.put(
        f"{PROVIDERS}/stripe",
        json={"mode": "test", "credentials": test_credentials},
        headers=live,
    )
    assert as_live.status_code == 400, as_live.text
    assert "mode must be live" in as_live.json()["error"]["description"]
    assert (await client.get(PROVIDERS)).json()["data"] == []
    assert (await client.get(PROVIDERS, headers=live)).json()["data"] == []


async def test_each_modes_stripe_account_has_its_own_webhook_url(
    client: httpx.AsyncClient, container: Container, live: dict[str, str]
) -> None:
    test_account = await connect_stripe(client, AUTH, TEST_STRIPE)
    live_account = await connect_stripe(client, live, LIVE_STRIPE)
    assert (test_account["mode"], live_account["mode"]) == ("test", "live")
    assert test_account["id"] != live_account["id"]
    base = container.settings.base_url
    assert test_account["webhook_url"] == f"{base}/hooks/stripe/{test_account['id']}"
    assert live_account["webhook_url"] == f"{base}/hooks/stripe/{live_account['id']}"
    assert test_account["webhook_url"] != live_account["webhook_url"]


async def test_the_test_merchant_endpoint_still_names_the_test_twin(
    anonymous: httpx.AsyncClient,
) -> None:
    """The contract's seeded credentials stay the test twin's, in test mode."""
    response = await anonymous.get("/api/v1/test/merchant")
    assert response.status_code == 200
    body = response.json()
    assert body["api_key"] == AUTH["X-Api-Key"]
    assert body["id"] == str(TEST_MERCHANT_ID)


async def test_live_credentials_never_open_the_test_twin(
    client: httpx.AsyncClient, live: dict[str, str]
) -> None:
    """A live key with the test secret, and the test key with the live secret, are refused."""
    crossed = [
        {"X-Api-Key": live["X-Api-Key"], "X-Api-Secret": AUTH["X-Api-Secret"]},
        {"X-Api-Key": AUTH["X-Api-Key"], "X-Api-Secret": live["X-Api-Secret"]},
    ]
    for headers in crossed:
        response = await client.get("/api/v1/payments", headers=headers)
        assert response.status_code == 401, response.text


async def test_a_live_order_is_public_but_says_nothing_of_its_mode_or_merchant(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, live: dict[str, str]
) -> None:
    order = await create_order(client, live)
    public = await anonymous.get(f"/api/v1/orders/{order['id']}/public")
    assert public.status_code == 200
    assert public.json() == {
        "id": order["id"],
        "amount": 2500,
        "currency": "USD",
        "status": "created",
    }
