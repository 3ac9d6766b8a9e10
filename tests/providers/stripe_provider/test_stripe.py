"""The Stripe adapter against the Stripe fake over real HTTP, signed by the `stripe` package."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from hazina.domain.providers import (
    InvalidSignature,
    ProviderAccess,
    ProviderEvent,
    ProviderEventKind,
    ProviderFailure,
    RefundStart,
)
from hazina.providers.stripe import StripeProvider
from hazina.services.ports import PaymentProvider
from hazina.testing.sink import WebhookSink
from tests.providers.stripe_provider.conftest import (
    ACCESS,
    SECRET_KEY,
    WEBHOOK_SECRET,
    StripeServer,
    auth,
    payment_start,
)

PAYMENT_ID = "pay_abcdefgh12345678"


def parse(provider: StripeProvider, signed: dict[str, Any]) -> ProviderEvent:
    """The adapter's reading of one event as the fake signed it."""
    events = provider.parse_webhook(
        ACCESS, signed["body"].encode(), {"Stripe-Signature": signed["signature"]}
    )
    assert len(events) == 1
    return events[0]


def signed_body(event: dict[str, Any], secret: str = WEBHOOK_SECRET, timestamp: int | None = None):
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return body.encode(), {"Stripe-Signature": header}


async def started(provider: StripeProvider, amount: int = 2500) -> str:
    return (await provider.start_payment(ACCESS, payment_start(amount=amount))).provider_reference


async def paid(provider: StripeProvider, stripe_server: StripeServer, amount: int = 2500) -> str:
    """A session paid by card; returns its PaymentIntent id."""
    session_id = await started(provider, amount)
    answer = await stripe_server.control(f"checkout/sessions/{session_id}/complete", deliver=False)
    intent: str = answer["object"]["payment_intent"]
    return intent


def refund_start(refund_id: str, amount: int, intent: str | None, session: str | None = None):
    return RefundStart(
        refund_id=refund_id,
        payment_id=PAYMENT_ID,
        provider_reference=session,
        provider_payment_reference=intent,
        amount=amount,
        currency="USD",
        reason="requested_by_customer",
    )


def test_the_adapter_is_a_payment_provider():
    adapter: PaymentProvider = StripeProvider("http://127.0.0.1:9", timeout_seconds=1)
    assert adapter.name == "stripe"
    assert adapter.methods == ("stripe",)
    assert adapter.credentials.required == ("secret_key", "webhook_secret")


# --- Starting a payment -------------------------------------------------------------------------


async def test_start_makes_a_checkout_session_carrying_our_ids(provider, stripe_server):
    result = await provider.start_payment(ACCESS, payment_start())

    assert result.provider_reference.startswith("cs_test_")
    assert result.next_action == {
        "type": "redirect",
        "url": f"https://checkout.stripe.com/c/pay/{result.provider_reference}",
    }
    response = await stripe_server.http.get(
        f"/v1/checkout/sessions/{result.provider_reference}", headers=auth()
    )
    session = response.json()
    assert session["client_reference_id"] == PAYMENT_ID
    assert session["metadata"] == {"hazina_payment_id": PAYMENT_ID}
    assert (session["amount_total"], session["currency"]) == (2500, "usd")
    assert session["customer_email"] == "buyer@example.com"
    assert session["success_url"] == "http://hazina.test/checkout/success"
    assert session["cancel_url"] == "http://hazina.test/checkout/cancel"
    assert (session["status"], session["payment_status"]) == ("open", "unpaid")
    assert session["payment_intent"] is None

    answer = await stripe_server.control(
        f"checkout/sessions/{result.provider_reference}/complete", deliver=False
    )
    intent = await stripe_server.http.get(
        f"/v1/payment_intents/{answer['object']['payment_intent']}", headers=auth()
    )
    assert intent.json()["metadata"] == {"hazina_payment_id": PAYMENT_ID}


async def test_a_retried_start_finds_the_same_session(provider):
    first = await provider.start_payment(ACCESS, payment_start())
    again = await provider.start_payment(ACCESS, payment_start())
    assert again == first

    with pytest.raises(ProviderFailure) as failure:
        await provider.start_payment(ACCESS, payment_start(amount=999))
    assert "Keys for idempotent requests" in failure.value.description
    assert not failure.value.retryable


async def test_a_refused_key_is_a_failure_that_never_shows_the_key(provider):
    access = ProviderAccess("stripe", None, "test", {"secret_key": "not_a_key_123456"})
    with pytest.raises(ProviderFailure) as failure:
        await provider.start_payment(access, payment_start())
    assert not failure.value.retryable
    assert "not_a_key_123456" not in failure.value.description


async def test_a_server_error_is_retryable(provider, stripe_server):
    await stripe_server.control("failures", status=500, count=1)
    with pytest.raises(ProviderFailure) as failure:
        await provider.start_payment(ACCESS, payment_start())
    assert failure.value.retryable

    await stripe_server.control("failures", status=429, count=1)
    with pytest.raises(ProviderFailure) as failure:
        await provider.start_payment(ACCESS, payment_start())
    assert failure.value.retryable


async def test_an_unreachable_stripe_is_retryable():
    adapter = StripeProvider("http://127.0.0.1:9", timeout_seconds=2, max_network_retries=0)
    try:
        with pytest.raises(ProviderFailure) as failure:
            await adapter.start_payment(ACCESS, payment_start())
        assert failure.value.retryable
    finally:
        await adapter.aclose()


# --- Webhooks -----------------------------------------------------------------------------------


async def test_a_paid_session_is_a_success_with_our_payment_and_amount(provider, stripe_server):
    session_id = await started(provider)
    answer = await stripe_server.control(f"checkout/sessions/{session_id}/complete", deliver=False)
    completed, intent_succeeded = answer["events"]
    assert completed["type"] == "checkout.session.completed"

    event = parse(provider, completed)
    assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert event.payment_id == PAYMENT_ID
    assert event.provider_reference == session_id
    assert event.provider_payment_reference == answer["object"]["payment_intent"]
    assert (event.amount, event.currency) == (2500, "USD")
    assert (event.raw_type, event.raw_status) == ("checkout.session.completed", "paid")
    assert event.dedup_key == completed["id"]
    assert event.occurred_at is not None
    assert abs(event.occurred_at - datetime.now(UTC)).total_seconds() < 60

    by_intent = parse(provider, intent_succeeded)
    assert by_intent.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (by_intent.payment_id, by_intent.amount) == (PAYMENT_ID, 2500)
    assert by_intent.provider_payment_reference == answer["object"]["payment_intent"]


async def test_the_webhook_that_arrives_verifies(provider, stripe_server):
    async with WebhookSink() as sink:
        url = sink.url("/hooks/stripe/pa_test0000000001")
        await stripe_server.control(
            "webhook_endpoints", api_key=SECRET_KEY, url=url, secret=WEBHOOK_SECRET
        )
        session_id = await started(provider)
        await stripe_server.control(f"checkout/sessions/{session_id}/complete")

        arrived = sink.at("/hooks/stripe/pa_test0000000001")
    assert len(arrived) == 2
    events = [provider.parse_webhook(ACCESS, r.body, r.headers)[0] for r in arrived]
    assert events[0].kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert events[0].payment_id == PAYMENT_ID
    assert (
        stripe.Webhook.construct_event(
            arrived[0].body, arrived[0].headers["stripe-signature"], WEBHOOK_SECRET
        ).type
        == "checkout.session.completed"
    )


async def test_a_delayed_payment_stays_pending_then_succeeds(provider, stripe_server):
    session_id = await started(provider)
    path = f"checkout/sessions/{session_id}/complete"
    unpaid = await stripe_server.control(path, payment_status="unpaid", deliver=False)
    event = parse(provider, unpaid["events"][0])
    assert event.kind is ProviderEventKind.IGNORED
    assert event.raw_status == "unpaid"

    settled = await stripe_server.control(path, payment_status="paid", deliver=False)
    event = parse(provider, settled["events"][0])
    assert event.raw_type == "checkout.session.async_payment_succeeded"
    assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert event.payment_id == PAYMENT_ID


async def test_a_delayed_payment_that_fails(provider, stripe_server):
    session_id = await started(provider)
    await stripe_server.control(
        f"checkout/sessions/{session_id}/complete", payment_status="unpaid", deliver=False
    )
    answer = await stripe_server.control(
        f"checkout/sessions/{session_id}/fail", message="Insufficient funds.", deliver=False
    )
    session_failed, intent_failed = (parse(provider, e) for e in answer["events"])
    assert session_failed.raw_type == "checkout.session.async_payment_failed"
    assert session_failed.kind is ProviderEventKind.PAYMENT_FAILED
    assert session_failed.payment_id == PAYMENT_ID
    # The session's event is the final word; the intent's is one attempt among possibly many.
    assert intent_failed.raw_type == "payment_intent.payment_failed"
    assert intent_failed.kind is ProviderEventKind.IGNORED


async def test_a_declined_card_fails_the_intent_and_leaves_the_session_open(
    provider, stripe_server
):
    session_id = await started(provider)
    answer = await stripe_server.control(f"checkout/sessions/{session_id}/fail", deliver=False)
    assert answer["object"]["status"] == "open"
    (event,) = (parse(provider, e) for e in answer["events"])
    # Not final: the customer may try another card in the same session.
    assert event.kind is ProviderEventKind.IGNORED
    assert event.raw_type == "payment_intent.payment_failed"


async def test_an_expired_session(provider, stripe_server):
    session_id = await started(provider)
    answer = await stripe_server.control(f"checkout/sessions/{session_id}/expire", deliver=False)
    event = parse(provider, answer["events"][0])
    assert event.kind is ProviderEventKind.PAYMENT_EXPIRED
    assert (event.payment_id, event.provider_reference) == (PAYMENT_ID, session_id)
    assert event.raw_status == "expired"


async def test_refund_events(provider, stripe_server):
    intent = await paid(provider, stripe_server)
    made = await provider.refund(ACCESS, refund_start("rfnd_abcdefgh12345678", 1000, intent))
    await stripe_server.control("deliveries/flush")
    (charge_refunded,) = await stripe_server.events("charge.refunded")
    (refund_updated,) = await stripe_server.events("refund.updated")

    # It names no refund, so it cannot say which one went through: the refund's events do.
    assert parse(provider, charge_refunded).kind is ProviderEventKind.IGNORED

    event = parse(provider, refund_updated)
    assert event.kind is ProviderEventKind.REFUND_SUCCEEDED
    assert event.refund_id == "rfnd_abcdefgh12345678"
    assert event.provider_refund_reference == made.provider_refund_reference
    assert (event.amount, event.provider_payment_reference) == (1000, intent)

    answer = await stripe_server.control(
        f"refunds/{made.provider_refund_reference}/fail", deliver=False
    )
    event = parse(provider, answer["events"][0])
    assert event.kind is ProviderEventKind.REFUND_FAILED
    assert event.refund_id == "rfnd_abcdefgh12345678"
    assert event.message == "expired_or_canceled_card"


@pytest.mark.parametrize(
    ("event_type", "status", "kind"),
    [
        ("refund.created", "succeeded", ProviderEventKind.REFUND_SUCCEEDED),
        ("refund.updated", "failed", ProviderEventKind.REFUND_FAILED),
        ("refund.updated", "pending", ProviderEventKind.IGNORED),
        ("customer.created", "active", ProviderEventKind.IGNORED),
    ],
)
def test_other_event_types(event_type, status, kind):
    adapter = StripeProvider("http://127.0.0.1:9", timeout_seconds=1)
    body, headers = signed_body(
        {
            "id": "evt_1",
            "object": "event",
            "created": 1700000000,
            "type": event_type,
            "data": {"object": {"id": "re_1", "status": status, "metadata": {}}},
        }
    )
    (event,) = adapter.parse_webhook(ACCESS, body, headers)
    assert (event.kind, event.dedup_key, event.raw_status) == (kind, "evt_1", status)
    assert event.occurred_at == datetime.fromtimestamp(1700000000, UTC)


# --- Signatures -----------------------------------------------------------------------------------

EVENT = {
    "id": "evt_sig",
    "object": "event",
    "created": 1700000000,
    "type": "x",
    "data": {"object": {}},
}


def test_the_reference_vector_is_the_signing_in_use():
    body = '{"id":"evt_test_webhook","object":"event"}'
    expected = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"
    header = stripe.WebhookSignature.generate_signature_header(
        body, "whsec_test_secret", timestamp=1700000000
    )
    assert header == f"t=1700000000,v1={expected}"
    computed = hmac.new(b"whsec_test_secret", f"1700000000.{body}".encode(), hashlib.sha256)
    assert computed.hexdigest() == expected


def test_a_signature_by_the_stripe_package_is_accepted_under_any_header_case():
    adapter = StripeProvider("http://127.0.0.1:9", timeout_seconds=1)
    body, headers = signed_body(EVENT)
    for name in ("Stripe-Signature", "stripe-signature", "STRIPE-SIGNATURE"):
        assert adapter.parse_webhook(ACCESS, body, {name: headers["Stripe-Signature"]})


def test_any_matching_v1_is_accepted_during_secret_rotation():
    adapter = StripeProvider("http://127.0.0.1:9", timeout_seconds=1)
    body, headers = signed_body(EVENT)
    _, old = signed_body(EVENT, secret="whsec_old")
    header = f"{old['Stripe-Signature']},v1={headers['Stripe-Signature'].split('v1=')[1]}"
    assert adapter.parse_webhook(ACCESS, body, {"Stripe-Signature": header})


@pytest.mark.parametrize(
    "case", ["tampered body", "wrong secret", "stale timestamp", "missing", "garbage"]
)
def test_a_bad_signature_is_rejected_without_echoing_the_header(case):
    adapter = StripeProvider("http://127.0.0.1:9", timeout_seconds=1)
    now = int(time.time())
    body, headers = signed_body(EVENT, timestamp=now)
    if case == "tampered body":
        body = body.replace(b"evt_sig", b"evt_sih")
    elif case == "wrong secret":
        body, headers = signed_body(EVENT, secret="whsec_other", timestamp=now)
    elif case == "stale timestamp":
        body, headers = signed_body(EVENT, timestamp=now - 301)
    elif case == "missing":
        headers = {}
    else:
        headers = {"Stripe-Signature": "v1=deadbeef"}
    with pytest.raises(InvalidSignature) as rejected:
        adapter.parse_webhook(ACCESS, body, headers)
    for value in headers.values():
        assert value not in str(rejected.value)


def test_a_timestamp_inside_the_tolerance_is_accepted():
    adapter = StripeProvider("http://127.0.0.1:9", timeout_seconds=1)
    body, headers = signed_body(EVENT, timestamp=int(time.time()) - 290)
    assert adapter.parse_webhook(ACCESS, body, headers)


# --- Reconciliation -----------------------------------------------------------------------------


async def test_fetch_payment_reports_each_state(provider, stripe_server):
    open_session = await started(provider)
    event = await provider.fetch_payment(ACCESS, PAYMENT_ID, open_session)
    assert event is not None
    assert event.kind is ProviderEventKind.PAYMENT_PENDING
    assert event.dedup_key == f"reconcile:{open_session}:open:unpaid"

    await stripe_server.control(f"checkout/sessions/{open_session}/complete", deliver=False)
    event = await provider.fetch_payment(ACCESS, PAYMENT_ID, open_session)
    assert event is not None
    assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (event.payment_id, event.amount, event.currency) == (PAYMENT_ID, 2500, "USD")
    assert event.provider_payment_reference is not None
    assert event.dedup_key == f"reconcile:{open_session}:complete:paid"

    other = await provider.start_payment(ACCESS, payment_start("pay_zzzzzzzz12345678"))
    expired = other.provider_reference
    await stripe_server.control(f"checkout/sessions/{expired}/expire", deliver=False)
    event = await provider.fetch_payment(ACCESS, "pay_zzzzzzzz12345678", expired)
    assert event is not None
    assert event.kind is ProviderEventKind.PAYMENT_EXPIRED

    assert await provider.fetch_payment(ACCESS, PAYMENT_ID, "cs_test_unknown") is None
    assert await provider.fetch_payment(ACCESS, PAYMENT_ID, None) is None


async def test_fetch_payment_finds_a_failed_delayed_payment(provider, stripe_server):
    session_id = await started(provider)
    await stripe_server.control(
        f"checkout/sessions/{session_id}/complete", payment_status="unpaid", deliver=False
    )
    pending = await provider.fetch_payment(ACCESS, PAYMENT_ID, session_id)
    assert pending is not None
    assert pending.kind is ProviderEventKind.PAYMENT_PENDING

    await stripe_server.control(f"checkout/sessions/{session_id}/fail", deliver=False)
    failed = await provider.fetch_payment(ACCESS, PAYMENT_ID, session_id)
    assert failed is not None
    assert failed.kind is ProviderEventKind.PAYMENT_FAILED
    assert failed.message == "Your card was declined."


# --- Refunds ------------------------------------------------------------------------------------


async def test_partial_refunds_until_the_charge_is_spent(provider, stripe_server):
    intent = await paid(provider, stripe_server)
    first = await provider.refund(ACCESS, refund_start("rfnd_aaaaaaaa12345678", 1000, intent))
    assert first.provider_refund_reference.startswith("re_")
    assert first.succeeded

    again = await provider.refund(ACCESS, refund_start("rfnd_aaaaaaaa12345678", 1000, intent))
    assert again == first  # the same refund id never refunds twice

    with pytest.raises(ProviderFailure) as failure:
        await provider.refund(ACCESS, refund_start("rfnd_bbbbbbbb12345678", 1501, intent))
    assert "greater than unrefunded amount" in failure.value.description
    assert not failure.value.retryable

    rest = await provider.refund(ACCESS, refund_start("rfnd_cccccccc12345678", 1500, intent))
    assert rest.succeeded


async def test_a_refund_learns_the_intent_from_the_session(provider, stripe_server):
    session_id = await started(provider)
    await stripe_server.control(f"checkout/sessions/{session_id}/complete", deliver=False)
    made = await provider.refund(
        ACCESS, refund_start("rfnd_dddddddd12345678", 2500, None, session_id)
    )
    assert made.succeeded


async def test_refunding_an_unpaid_session_fails(provider):
    session_id = await started(provider)
    with pytest.raises(ProviderFailure):
        await provider.refund(ACCESS, refund_start("rfnd_eeeeeeee12345678", 100, None, session_id))
