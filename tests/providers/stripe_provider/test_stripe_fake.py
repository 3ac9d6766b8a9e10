"""The Stripe fake speaks Stripe: auth, form bodies, errors, idempotency, signed events."""

import httpx
import pytest
import stripe

from hazina.testing.sink import WebhookSink
from hazina.testing.stripe_fake import create_stripe_fake
from hazina.testing.stripe_params import decode_form
from tests.providers.stripe_provider.conftest import SECRET_KEY, WEBHOOK_SECRET, StripeServer, auth

SESSION = {
    "mode": "payment",
    "line_items[0][price_data][currency]": "usd",
    "line_items[0][price_data][unit_amount]": "2000",
    "line_items[0][price_data][product_data][name]": "T-shirt",
    "line_items[0][quantity]": "2",
    "client_reference_id": "pay_1",
    "metadata[hazina_payment_id]": "pay_1",
    "success_url": "https://example.com/ok",
}


@pytest.fixture
async def client():
    """In process, over ASGITransport: the fake's HTTP contract without a server."""
    transport = httpx.ASGITransport(app=create_stripe_fake())
    async with httpx.AsyncClient(transport=transport, base_url="http://stripe.test") as http:
        yield http


def test_form_bodies_decode_as_stripe_encodes_them():
    pairs = [
        ("a[b][c]", "1"),
        ("items[1][name]", "second"),
        ("items[0][name]", "first"),
        ("expand[]", "x"),
        ("expand[]", "y"),
        ("plain", "v"),
    ]
    assert decode_form(pairs) == {
        "a": {"b": {"c": "1"}},
        "items": [{"name": "first"}, {"name": "second"}],
        "expand": ["x", "y"],
        "plain": "v",
    }


async def test_a_missing_or_malformed_key_gets_stripes_401(client):
    response = await client.post("/v1/checkout/sessions", data=SESSION)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert set(error) >= {"type", "code", "message", "param"}
    assert "You did not provide an API key" in error["message"]

    response = await client.get(
        "/v1/checkout/sessions/cs_test_x", headers=auth("pk_test_notsecret1234")
    )
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert message.startswith("Invalid API Key provided")
    assert "pk_test_notsecret1234" not in message


async def test_a_session_is_created_and_read_back(client):
    response = await client.post("/v1/checkout/sessions", data=SESSION, headers=auth())
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    session = response.json()
    assert session["object"] == "checkout.session"
    assert session["id"].startswith("cs_test_")
    assert (session["amount_total"], session["currency"]) == (4000, "usd")
    assert (session["status"], session["payment_status"]) == ("open", "unpaid")
    assert session["livemode"] is False
    assert session["expires_at"] - session["created"] == 86400
    assert session["url"].endswith(session["id"])

    again = await client.get(f"/v1/checkout/sessions/{session['id']}", headers=auth())
    assert again.json() == session

    # Another account cannot see it.
    other = await client.get(f"/v1/checkout/sessions/{session['id']}", headers=auth("sk_test_b"))
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "resource_missing"


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"colour": "red"}, "colour", "parameter_unknown"),
        ({"line_items[0][price_data][unit_amount]": "ten"}, None, "parameter_invalid_integer"),
        ({"line_items[0][price_data][currency]": "USD"}, None, "parameter_invalid_string"),
        ({"expires_at": "1"}, "expires_at", "parameter_invalid_integer"),
    ],
)
async def test_bad_params_get_a_400_naming_them(client, change, param, code):
    response = await client.post("/v1/checkout/sessions", data=SESSION | change, headers=auth())
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", code)
    if param:
        assert error["param"] == param


async def test_an_idempotency_key_replays_and_refuses_other_params(client):
    headers = auth() | {"Idempotency-Key": "hazina-pay_1"}
    first = await client.post("/v1/checkout/sessions", data=SESSION, headers=headers)
    again = await client.post("/v1/checkout/sessions", data=SESSION, headers=headers)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"

    changed = SESSION | {"client_reference_id": "pay_2"}
    refused = await client.post("/v1/checkout/sessions", data=changed, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "idempotency_error"

    # Keys belong to an account: another account's same key is a new request.
    other = await client.post(
        "/v1/checkout/sessions",
        data=SESSION,
        headers=auth("sk_test_b") | {"Idempotency-Key": "hazina-pay_1"},
    )
    assert other.json()["id"] != first.json()["id"]


async def test_refunds_full_partial_and_too_much(client):
    session = (await client.post("/v1/checkout/sessions", data=SESSION, headers=auth())).json()
    early = await client.post("/v1/refunds", data={"payment_intent": "pi_nope"}, headers=auth())
    assert (early.status_code, early.json()["error"]["code"]) == (400, "resource_missing")

    await client.post(f"/_control/checkout/sessions/{session['id']}/complete", json={})
    session = (await client.get(f"/v1/checkout/sessions/{session['id']}", headers=auth())).json()
    intent_id = session["payment_intent"]
    intent = (await client.get(f"/v1/payment_intents/{intent_id}", headers=auth())).json()
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 4000)

    part = await client.post(
        "/v1/refunds", data={"payment_intent": intent_id, "amount": "1500"}, headers=auth()
    )
    assert part.json()["status"] == "succeeded"
    assert part.json()["charge"] == intent["latest_charge"]

    too_much = await client.post(
        "/v1/refunds", data={"payment_intent": intent_id, "amount": "2501"}, headers=auth()
    )
    assert too_much.status_code == 400
    error = too_much.json()["error"]
    assert (error["code"], error["param"]) == ("amount_too_large", "amount")

    rest = await client.post("/v1/refunds", data={"payment_intent": intent_id}, headers=auth())
    assert rest.json()["amount"] == 2500

    spent = await client.post("/v1/refunds", data={"payment_intent": intent_id}, headers=auth())
    assert spent.json()["error"]["code"] == "charge_already_refunded"


async def test_only_open_sessions_expire(client):
    session = (await client.post("/v1/checkout/sessions", data=SESSION, headers=auth())).json()
    path = f"/v1/checkout/sessions/{session['id']}/expire"
    expired = await client.post(path, headers=auth())
    assert (expired.json()["status"], expired.json()["url"]) == ("expired", None)
    assert (await client.post(path, headers=auth())).status_code == 400


async def test_events_reach_the_endpoint_signed_and_can_be_sent_again(stripe_server: StripeServer):
    async with WebhookSink() as sink:
        url = sink.url("/hooks/stripe")
        await stripe_server.control(
            "webhook_endpoints", api_key=SECRET_KEY, url=url, secret=WEBHOOK_SECRET
        )
        created = await stripe_server.http.post(
            "/v1/checkout/sessions", data=SESSION, headers=auth()
        )
        session_id = created.json()["id"]
        answer = await stripe_server.control(f"checkout/sessions/{session_id}/complete")
        intent_id = answer["object"]["payment_intent"]
        await stripe_server.http.post(
            "/v1/refunds", data={"payment_intent": intent_id}, headers=auth()
        )
        await stripe_server.control("deliveries/flush")
        first = answer["events"][0]["id"]
        await stripe_server.control(f"events/{first}/deliver")

        types = [
            stripe.Webhook.construct_event(
                r.body, r.headers["stripe-signature"], WEBHOOK_SECRET
            ).type
            for r in sink.at("/hooks/stripe")
        ]
    assert types == [
        "checkout.session.completed",
        "payment_intent.succeeded",
        "charge.refunded",
        "refund.updated",
        "checkout.session.completed",
    ]
    log = await stripe_server.events()
    assert [e["delivery"]["status"] for e in log] == [200, 200, 200, 200]


async def test_without_delivery_the_event_is_only_signed(stripe_server: StripeServer):
    created = await stripe_server.http.post("/v1/checkout/sessions", data=SESSION, headers=auth())
    answer = await stripe_server.control(
        f"checkout/sessions/{created.json()['id']}/expire", deliver=False
    )
    (event,) = answer["events"]
    assert event["delivery"] == {"status": None, "error": None}
    verified = stripe.Webhook.construct_event(event["body"], event["signature"], WEBHOOK_SECRET)
    assert verified.type == "checkout.session.expired"
    assert verified.data.object.status == "expired"
