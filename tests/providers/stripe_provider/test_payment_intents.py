"""Stripe's PaymentIntent flow through the API, against the Stripe fake over HTTP, on SQLite and
PostgreSQL: `{"method": "stripe", "flow": "payment_intent"}` answers the client secret and the
publishable key for Stripe Elements; the intent's and the charge's events (signed by the fake
with the `stripe` package, verified by the adapter with it) settle the payment exactly once
whichever arrives first; a decline fails it; manual capture holds, then captures at Stripe."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.config import Settings
from tests.conftest import AUTH, http_client, make_settings
from tests.providers.stripe_provider.conftest import SECRET_KEY, WEBHOOK_SECRET, StripeServer

PUBLISHABLE_KEY = "pk_test_hazinaelements42"


@pytest.fixture
def settings(database_url: str, stripe_server: StripeServer) -> Settings:
    return make_settings(database_url, stripe_api_base=stripe_server.url)


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(container, AUTH) as authenticated:
        yield authenticated


async def connect(client: httpx.AsyncClient, **credentials: str) -> str:
    """Save the Stripe account; the path of its hook URL."""
    response = await client.put(
        "/api/v1/provider-accounts/stripe",
        json={
            "credentials": {
                "secret_key": SECRET_KEY,
                "webhook_secret": WEBHOOK_SECRET,
                **credentials,
            }
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["credentials"]["publishable_key"]["configured"] is bool(credentials)
    url: str = response.json()["webhook_url"]
    return "/hooks/" + url.split("/hooks/", 1)[1]


async def start_intent(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    order = await client.post("/api/v1/orders", json={"amount": 4200, "currency": "USD"})
    assert order.status_code == 201, order.text
    payment = await client.post(
        "/api/v1/payments",
        json={
            "order_id": order.json()["id"],
            "method": "stripe",
            "flow": "payment_intent",
            **extra,
        },
    )
    assert payment.status_code == 201, payment.text
    body: dict[str, Any] = payment.json()
    return body


async def deliver(client: httpx.AsyncClient, hook: str, event: dict[str, Any]) -> httpx.Response:
    return await client.post(
        hook,
        content=event["body"].encode(),
        headers={"Stripe-Signature": event["signature"], "Content-Type": "application/json"},
    )


async def test_the_payment_intent_flow_answers_elements_what_they_need(
    client: httpx.AsyncClient, stripe_server: StripeServer
) -> None:
    await connect(client, publishable_key=PUBLISHABLE_KEY)
    payment = await start_intent(client)

    intent_id = payment["provider_reference"]
    assert intent_id.startswith("pi_")
    action = payment["next_action"]
    assert action["type"] == "stripe_client_secret"
    assert action["publishable_key"] == PUBLISHABLE_KEY
    assert action["client_secret"].startswith(f"{intent_id}_secret_")
    # The secret is for the merchant's page, which had it from the authenticated API; the
    # public view, open to anyone holding the payment id, never shows it.
    public = await client.get(f"/api/v1/payments/{payment['id']}/public")
    assert public.status_code == 200, public.text
    assert public.json()["next_action"] == {
        "type": "stripe_client_secret",
        "publishable_key": PUBLISHABLE_KEY,
    }
    # The intent at Stripe: our id in its metadata, the amount in Stripe's units.
    intent = await stripe_server.http.get(
        f"/v1/payment_intents/{intent_id}", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    assert intent.json()["metadata"]["hazina_payment_id"] == payment["id"]
    assert (intent.json()["amount"], intent.json()["currency"]) == (4200, "usd")
    assert intent.json()["capture_method"] != "manual"


@pytest.mark.parametrize("first", ["payment_intent.succeeded", "charge.succeeded"])
async def test_the_intent_and_the_charge_apply_once_in_either_order(
    client: httpx.AsyncClient, stripe_server: StripeServer, first: str
) -> None:
    hook = await connect(client, publishable_key=PUBLISHABLE_KEY)
    payment = await start_intent(client)
    confirmed = await stripe_server.control(
        f"payment_intents/{payment['provider_reference']}/confirm", outcome="paid", deliver=False
    )
    events = sorted(confirmed["events"], key=lambda event: event["type"] != first)
    assert events[0]["type"] == first
    assert {event["type"] for event in events} == {"payment_intent.succeeded", "charge.succeeded"}

    answers = [await deliver(client, hook, event) for event in events]
    # Again, as Stripe retries: duplicates now.
    repeats = [await deliver(client, hook, event) for event in events]

    assert [answer.status_code for answer in answers + repeats] == [200] * 4
    assert answers[0].json()["status"] == "processed"
    assert [answer.json()["status"] for answer in repeats] == ["duplicate", "duplicate"]
    settled = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert settled["status"] == "success"
    assert settled["amount"] == 4200
    order = (await client.get(f"/api/v1/orders/{settled['order_id']}")).json()
    assert order["status"] == "paid"
    # One transition: one payment.success, whichever event came first.
    successes = await client.get("/api/v1/events", params={"type": "payment.success", "limit": 100})
    mine = [e for e in successes.json()["data"] if e["resource_id"] == payment["id"]]
    assert len(mine) == 1


async def test_a_declined_card_fails_the_payment_intent_flow(
    client: httpx.AsyncClient, stripe_server: StripeServer
) -> None:
    hook = await connect(client, publishable_key=PUBLISHABLE_KEY)
    payment = await start_intent(client)
    declined = await stripe_server.control(
        f"payment_intents/{payment['provider_reference']}/confirm",
        outcome="declined",
        message="Your card has insufficient funds.",
        deliver=False,
    )
    for event in reversed(declined["events"]):  # charge.failed first, then the intent's
        assert (await deliver(client, hook, event)).status_code == 200

    failed = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert failed["status"] == "failed"
    assert failed["error_code"]


async def test_manual_capture_holds_then_captures_at_stripe(
    client: httpx.AsyncClient, stripe_server: StripeServer
) -> None:
    hook = await connect(client, publishable_key=PUBLISHABLE_KEY)
    payment = await start_intent(client, capture=False)
    intent_id = payment["provider_reference"]
    authorised = await stripe_server.control(
        f"payment_intents/{intent_id}/confirm", outcome="paid", deliver=False
    )
    assert [e["type"] for e in authorised["events"]] == [
        "payment_intent.amount_capturable_updated",
        "charge.succeeded",
    ]
    for event in authorised["events"]:
        assert (await deliver(client, hook, event)).status_code == 200
    held = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert held["status"] == "success"
    assert held["captured"] is False

    captured = await client.post(f"/api/v1/payments/{payment['id']}/capture", json={"amount": 4200})
    assert captured.status_code == 200, captured.text
    assert captured.json()["captured"] is True
    at_stripe = await stripe_server.http.get(
        f"/v1/payment_intents/{intent_id}", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    assert (at_stripe.json()["status"], at_stripe.json()["amount_received"]) == ("succeeded", 4200)


async def test_the_flow_needs_a_publishable_key_and_a_provider_that_has_it(
    client: httpx.AsyncClient, stripe_server: StripeServer
) -> None:
    await connect(client)
    order = await client.post("/api/v1/orders", json={"amount": 4200, "currency": "USD"})
    order_id = order.json()["id"]

    without_key = await client.post(
        "/api/v1/payments",
        json={"order_id": order_id, "method": "stripe", "flow": "payment_intent"},
    )
    assert without_key.status_code == 400
    assert "publishable_key" in without_key.json()["error"]["description"]
    sandbox = await client.post(
        "/api/v1/payments",
        json={"order_id": order_id, "method": "upi", "vpa": "a@upi", "flow": "payment_intent"},
    )
    assert sandbox.status_code == 400
    assert "flow" in sandbox.json()["error"]["description"]
    unknown = await client.post(
        "/api/v1/payments", json={"order_id": order_id, "method": "stripe", "flow": "elements"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "BAD_REQUEST_ERROR"
