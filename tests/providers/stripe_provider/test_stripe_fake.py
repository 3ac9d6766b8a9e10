"""The Stripe fake speaks Stripe: auth, form bodies, errors, idempotency, signed events, and its
hosted checkout page."""

from typing import Any

import httpx
import pytest
import stripe
import uvicorn
from click.testing import CliRunner

from hazina import cli
from hazina.testing import stripe_fake
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


# --- The hosted checkout page ------------------------------------------------------------------

PAGE_SESSION = SESSION | {
    "line_items[0][price_data][product_data][name]": '<script>alert("x")</script> & tee',
    "success_url": "https://shop.example/ok?session={CHECKOUT_SESSION_ID}",
    "cancel_url": "https://shop.example/cart",
}


async def _page_session(fake: StripeServer) -> tuple[str, str]:
    """A session made through the API: (its id, the path of its `url`)."""
    created = await fake.http.post("/v1/checkout/sessions", data=PAGE_SESSION, headers=auth())
    session = created.json()
    return session["id"], httpx.URL(session["url"]).path


async def _session(fake: StripeServer, session_id: str) -> dict[str, Any]:
    response = await fake.http.get(f"/v1/checkout/sessions/{session_id}", headers=auth())
    session: dict[str, Any] = response.json()
    return session


async def test_the_page_shows_an_open_session_escaped(stripe_server: StripeServer):
    session_id, path = await _page_session(stripe_server)
    assert path == f"/c/pay/{session_id}"
    page = await stripe_server.http.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "40.00 USD" in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; tee × 2" in page.text
    assert "<script>" not in page.text
    for action in ("pay", "decline", "cancel"):
        assert f'<form method="post" action="/c/pay/{session_id}/{action}">' in page.text


async def test_pay_completes_delivers_and_redirects_to_success(stripe_server: StripeServer):
    async with WebhookSink() as sink:
        await stripe_server.control(
            "webhook_endpoints",
            api_key=SECRET_KEY,
            url=sink.url("/hooks/stripe"),
            secret=WEBHOOK_SECRET,
        )
        session_id, path = await _page_session(stripe_server)
        paid = await stripe_server.http.post(f"{path}/pay")
        assert paid.status_code == 303
        assert paid.headers["location"] == f"https://shop.example/ok?session={session_id}"
        received = [
            stripe.Webhook.construct_event(r.body, r.headers["stripe-signature"], WEBHOOK_SECRET)
            for r in sink.at("/hooks/stripe")
        ]
    assert [event.type for event in received] == [
        "checkout.session.completed",
        "payment_intent.succeeded",
    ]
    assert received[0].data.object.id == session_id
    session = await _session(stripe_server, session_id)
    assert (session["status"], session["payment_status"]) == ("complete", "paid")

    # Paid once: the page says so and links back; paying again changes nothing.
    again = await stripe_server.http.get(path)
    assert "already complete" in again.text
    assert f'href="https://shop.example/ok?session={session_id}"' in again.text
    assert (await stripe_server.http.post(f"{path}/pay")).status_code == 409
    assert len(await stripe_server.events("checkout.session.completed")) == 1


async def test_decline_keeps_the_session_open_and_shows_it(stripe_server: StripeServer):
    session_id, path = await _page_session(stripe_server)
    declined = await stripe_server.http.post(f"{path}/decline")
    assert (declined.status_code, declined.headers["location"]) == (303, path)
    session = await _session(stripe_server, session_id)
    assert (session["status"], session["payment_status"]) == ("open", "unpaid")
    intent = (
        await stripe_server.http.get(
            f"/v1/payment_intents/{session['payment_intent']}", headers=auth()
        )
    ).json()
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "card_declined"
    assert [e["type"] for e in await stripe_server.events()] == ["payment_intent.payment_failed"]

    page = await stripe_server.http.get(path)
    assert "Your card was declined." in page.text
    assert f'action="/c/pay/{session_id}/pay"' in page.text

    # Another try succeeds.
    assert (await stripe_server.http.post(f"{path}/pay")).status_code == 303
    assert (await _session(stripe_server, session_id))["payment_status"] == "paid"


async def test_cancel_redirects_to_cancel_url_and_changes_nothing(stripe_server: StripeServer):
    session_id, path = await _page_session(stripe_server)
    before = await _session(stripe_server, session_id)
    cancelled = await stripe_server.http.post(f"{path}/cancel")
    assert (cancelled.status_code, cancelled.headers["location"]) == (
        303,
        "https://shop.example/cart",
    )
    assert await _session(stripe_server, session_id) == before
    assert await stripe_server.events() == []


async def test_an_expired_session_links_to_cancel_url(stripe_server: StripeServer):
    session_id, path = await _page_session(stripe_server)
    await stripe_server.control(f"checkout/sessions/{session_id}/expire")
    page = await stripe_server.http.get(path)
    assert page.status_code == 200
    assert "expired" in page.text
    assert 'href="https://shop.example/cart"' in page.text
    assert 'action="' not in page.text


async def test_an_unknown_session_is_a_404_page(stripe_server: StripeServer):
    page = await stripe_server.http.get("/c/pay/cs_test_nope<b>")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<b>" not in page.text
    assert (await stripe_server.http.post("/c/pay/cs_test_nope/pay")).status_code == 404


# --- Serving it standalone ---------------------------------------------------------------------


ANY_INTERFACE = "0.0.0.0"  # noqa: S104  (never bound: uvicorn.run is replaced)


def test_standalone_sessions_point_at_its_own_page_and_the_endpoint_is_registered(monkeypatch):
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    stripe_fake.run_stripe_fake(
        ANY_INTERFACE,
        12999,
        api_key="sk_test_demo",
        webhook_url="http://127.0.0.1:8000/hooks/stripe",
        webhook_secret="whsec_demo",
    )
    state = served["app"].state.fake.state
    assert (served["host"], served["port"]) == (ANY_INTERFACE, 12999)
    assert state.checkout_base == "http://127.0.0.1:12999"
    endpoint = state.endpoints["sk_test_demo"]
    assert (endpoint.url, endpoint.secret) == ("http://127.0.0.1:8000/hooks/stripe", "whsec_demo")

    stripe_fake.run_stripe_fake("127.0.0.1", 12998)  # the old call still works
    assert served["app"].state.fake.state.endpoints == {}
    assert served["app"].state.fake.state.checkout_base == "http://127.0.0.1:12998"


WEBHOOK_OPTIONS = [
    "--api-key",
    "sk_test_demo",
    "--webhook-url",
    "http://127.0.0.1:8000/hooks/stripe",
    "--webhook-secret",
    "whsec_demo",
]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (WEBHOOK_OPTIONS[:2], "together"),
        (WEBHOOK_OPTIONS[2:], "together"),
        (WEBHOOK_OPTIONS[:4], "together"),
        (["--api-key", "pk_test_demo", *WEBHOOK_OPTIONS[2:]], "secret key"),
        ([*WEBHOOK_OPTIONS[:2], "--webhook-url", "ftp://x", *WEBHOOK_OPTIONS[4:]], "http"),
    ],
)
def test_the_cli_refuses_partial_or_bad_webhook_options(monkeypatch, options, message):
    monkeypatch.setattr(cli, "run_stripe_fake", lambda *a, **k: pytest.fail("started"))
    result = CliRunner().invoke(cli.main, ["fake", "stripe", *options])
    assert result.exit_code == 2
    assert message in result.output


def test_the_cli_passes_the_webhook_options_on(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "run_stripe_fake", lambda *a, **k: calls.append((a, k)))
    result = CliRunner().invoke(cli.main, ["fake", "stripe", "--port", "12111", *WEBHOOK_OPTIONS])
    assert result.exit_code == 0, result.output
    assert calls == [
        (
            ("127.0.0.1", 12111),
            {
                "api_key": "sk_test_demo",
                "webhook_url": "http://127.0.0.1:8000/hooks/stripe",
                "webhook_secret": "whsec_demo",
            },
        )
    ]
    result = CliRunner().invoke(cli.main, ["fake", "stripe"])
    assert result.exit_code == 0, result.output
    assert calls[-1] == (
        ("127.0.0.1", 12111),
        {"api_key": None, "webhook_url": None, "webhook_secret": None},
    )
