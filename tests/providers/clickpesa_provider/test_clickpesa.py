"""The ClickPesa adapter against the ClickPesa fake, over HTTP (ASGITransport)."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from clickpesa import SecurityManager
from starlette.applications import Starlette

from hazina.domain import ids
from hazina.domain.providers import (
    Capability,
    InvalidSignature,
    PaymentStart,
    ProviderEventKind,
    ProviderFailure,
    RefundStart,
)
from hazina.providers.clickpesa import ClickPesaProvider, normalise_phone
from tests.providers.clickpesa_provider.conftest import (
    API_KEY,
    BASE,
    CHECKSUM_KEY,
    ROOT,
    Clock,
    access,
    register,
)

PAYMENT_ID = "pay_AbCdEfGh12345678"
REFERENCE = "payAbCdEfGh12345678"


def start(
    phone: str | None = None, payment_id: str = PAYMENT_ID, amount: int = 100000
) -> PaymentStart:
    return PaymentStart(
        payment_id=payment_id,
        order_id="order_AbCdEfGh12345678",
        amount=amount,
        currency="TZS",
        description="Order 42",
        success_url="http://hazina.test/checkout/success",
        cancel_url="http://hazina.test/checkout/cancel",
        customer_phone=phone,
        customer_email="customer@example.com",
    )


async def complete(control: httpx.AsyncClient, reference: str = REFERENCE, **options: Any) -> bytes:
    options.setdefault("deliver", False)
    response = await control.post(f"/_control/payments/{reference}/complete", json=options)
    assert response.status_code == 200, response.text
    return response.content


def test_what_it_declares() -> None:
    assert ClickPesaProvider.name == "clickpesa"
    assert ClickPesaProvider.methods == ("clickpesa",)
    assert ClickPesaProvider.capabilities == {
        Capability.REDIRECT,
        Capability.USSD_PUSH,
        Capability.STATUS_QUERY,
    }
    assert ClickPesaProvider.credentials.required == ("client_id", "api_key")
    assert ClickPesaProvider.credentials.optional == ("checksum_key",)


# -- starting payments ------------------------------------------------------------------------


async def test_without_a_phone_a_checkout_link_is_the_next_action(provider, control, fake):
    await register(control)
    started = await provider.start_payment(access(), start())
    assert started.provider_reference == REFERENCE
    assert started.next_action == {
        "type": "redirect",
        "url": f"http://clickpesa.test/third-parties/checkout/{REFERENCE}",
    }
    order = fake.orders[REFERENCE]
    assert (order.amount, order.currency, order.email) == ("1000", "TZS", "customer@example.com")
    page = await control.get(f"/checkout/{REFERENCE}")
    assert page.status_code == 200
    assert "TZS 1000" in page.text


@pytest.mark.parametrize("phone", ["+255712345678", "0712345678", "255 712 345 678"])
async def test_with_a_phone_a_ussd_push_goes_out(provider, control, fake, phone):
    await register(control)
    started = await provider.start_payment(access(), start(phone))
    assert started.provider_reference == REFERENCE
    assert started.next_action["type"] == "ussd_push"
    assert started.next_action["phone"] == "255712345678"
    assert "TZS 1000" in started.next_action["message"]
    order = fake.orders[REFERENCE]
    assert (order.phone, order.amount, order.status) == ("255712345678", "1000", "PROCESSING")


async def test_amounts_with_a_fraction_keep_it(provider, control, fake):
    await register(control)
    await provider.start_payment(access(), start(amount=100050))
    assert fake.orders[REFERENCE].amount == "1000.50"


@pytest.mark.parametrize("phone", ["712345678", "+254712345678", "0712", "phone"])
def test_a_phone_that_is_not_tanzanian_is_refused(phone):
    with pytest.raises(ProviderFailure, match="not a Tanzanian mobile number") as caught:
        normalise_phone(phone)
    assert not caught.value.retryable


async def test_a_retried_ussd_start_is_treated_as_started(provider, control, fake):
    await register(control)
    first = await provider.start_payment(access(), start("0712345678"))
    again = await provider.start_payment(access(), start("0712345678"))  # the fake answers 409
    assert again == first
    assert len(fake.orders) == 1


async def test_a_retried_checkout_link_reports_the_reused_reference(provider, control):
    await register(control)
    await provider.start_payment(access(), start())
    with pytest.raises(
        ProviderFailure, match=f"Order reference {REFERENCE} already used"
    ) as caught:
        await provider.start_payment(access(), start())
    assert not caught.value.retryable


async def test_requests_carry_the_checksum_when_the_account_has_a_key(provider, control, fake):
    await register(control, checksum_key=CHECKSUM_KEY)
    await provider.start_payment(access(CHECKSUM_KEY), start("0712345678"))
    await provider.start_payment(access(CHECKSUM_KEY), start(payment_id="pay_ZZZZZZZZ12345678"))
    assert len(fake.orders) == 2
    with pytest.raises(ProviderFailure, match="Invalid checksum"):
        await provider.start_payment(access(), start(payment_id="pay_YYYYYYYY12345678"))


# -- tokens ----------------------------------------------------------------------------------


async def test_one_token_serves_many_calls(provider, control, fake):
    await register(control)
    for n in range(5):
        await provider.start_payment(access(), start(payment_id=f"pay_AbCdEfGh1234567{n}"))
    await provider.fetch_payment(access(), PAYMENT_ID, None)
    assert fake.tokens_issued == 1


class YieldingTransport(httpx.AsyncBaseTransport):
    """In-process requests complete without ever suspending; this one lets every other task
    run before a token request goes through, as a network round trip would."""

    def __init__(self, app: Starlette) -> None:
        self._inner = httpx.ASGITransport(app=app, root_path=ROOT)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/generate-token"):
            for _ in range(50):
                await asyncio.sleep(0)  # a yield to the event loop, not a wait
        return await self._inner.handle_async_request(request)


async def test_concurrent_callers_share_one_token_fetch(fake_app, control, fake, clock):
    await register(control)
    adapter = ClickPesaProvider(BASE, 5.0, clock, transport=YieldingTransport(fake_app))
    starts = [start(payment_id=f"pay_AbCdEfGh123456{n:02}") for n in range(10)]
    try:
        await asyncio.gather(*(adapter.start_payment(access(), s) for s in starts))
    finally:
        await adapter.aclose()
    assert fake.tokens_issued == 1
    assert len(fake.orders) == 10


async def test_the_token_is_renewed_five_minutes_before_its_hour_ends(
    provider, control, fake, clock: Clock
):
    await register(control)
    await provider.fetch_payment(access(), PAYMENT_ID, None)
    clock.now += 55 * 60 - 1
    await provider.fetch_payment(access(), PAYMENT_ID, None)
    assert fake.tokens_issued == 1
    clock.now += 1
    await provider.fetch_payment(access(), PAYMENT_ID, None)
    assert fake.tokens_issued == 2


async def test_a_401_fetches_a_new_token_and_retries_once(provider, control, fake):
    await register(control)
    await provider.start_payment(access(), start("0712345678"))
    assert (await control.post("/_control/expire-tokens")).json() == {"expired": 1}
    event = await provider.fetch_payment(access(), PAYMENT_ID, REFERENCE)
    assert event is not None
    assert event.kind is ProviderEventKind.PAYMENT_PENDING
    assert fake.tokens_issued == 2


async def test_a_changed_api_key_gets_its_own_token(provider, control, fake):
    await register(control)
    await provider.fetch_payment(access(), PAYMENT_ID, None)
    with pytest.raises(ProviderFailure, match="Invalid or Expired API-Key") as caught:
        await provider.fetch_payment(access(api_key="SKwrongkey"), PAYMENT_ID, None)
    assert "SKwrongkey" not in caught.value.description
    assert API_KEY not in caught.value.description
    assert not caught.value.retryable


async def test_an_unknown_client_is_refused(provider):
    with pytest.raises(ProviderFailure, match="Invalid client details"):
        await provider.start_payment(access(), start())


async def test_an_unreachable_clickpesa_is_a_retryable_failure():
    # Port 9 (discard) on localhost: nothing listens, the connection is refused.
    adapter = ClickPesaProvider("http://127.0.0.1:9/third-parties", 2.0)
    try:
        with pytest.raises(ProviderFailure, match="could not be reached") as caught:
            await adapter.start_payment(access(), start())
        assert caught.value.retryable
    finally:
        await adapter.aclose()


# -- status query and refunds ----------------------------------------------------------------


async def test_the_status_query_follows_the_payment(provider, control):
    await register(control)
    assert await provider.fetch_payment(access(), PAYMENT_ID, None) is None
    await provider.start_payment(access(), start("0712345678"))
    pending = await provider.fetch_payment(access(), PAYMENT_ID, None)
    assert pending is not None
    assert (pending.kind, pending.raw_status) == (ProviderEventKind.PAYMENT_PENDING, "PROCESSING")
    body = await complete(control, status="SUCCESS")
    paid = await provider.fetch_payment(access(), PAYMENT_ID, REFERENCE)
    assert paid is not None
    assert paid.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (paid.payment_id, paid.amount, paid.currency) == (PAYMENT_ID, 100000, "TZS")
    # The webhook reporting the same fact is recognised as the same fact.
    [hooked] = provider.parse_webhook(access(), body, {})
    assert hooked.dedup_key == paid.dedup_key


async def test_a_checkout_link_nobody_paid_is_unknown_then_failed(provider, control):
    await register(control)
    await provider.start_payment(access(), start())
    assert await provider.fetch_payment(access(), PAYMENT_ID, REFERENCE) is None
    await complete(control, status="FAILED")
    failed = await provider.fetch_payment(access(), PAYMENT_ID, REFERENCE)
    assert failed is not None
    assert failed.kind is ProviderEventKind.PAYMENT_FAILED
    assert failed.message == "Insufficient balance"


async def test_refunds_are_refused_with_a_clear_description(provider):
    refund = RefundStart("rfnd_AbCdEfGh12345678", PAYMENT_ID, REFERENCE, "X", 100000, "TZS")
    with pytest.raises(ProviderFailure, match=r"no refund API.*ClickPesa dashboard"):
        await provider.refund(access(), refund)


# -- webhooks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "shape"), [("SUCCESS", "current"), ("SETTLED", "current"), ("SUCCESS", "older")]
)
async def test_a_payment_received_webhook_is_a_success(provider, control, status, shape):
    await register(control)
    await provider.start_payment(access(), start("0712345678"))
    body = await complete(control, status=status, shape=shape)
    assert json.loads(body)["event"] == "PAYMENT RECEIVED"
    [event] = provider.parse_webhook(access(), body, {})
    assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (event.raw_type, event.raw_status) == ("PAYMENT RECEIVED", status)
    assert (event.payment_id, event.provider_reference) == (PAYMENT_ID, REFERENCE)
    assert (event.amount, event.currency) == (100000, "TZS")
    assert event.provider_payment_reference is not None
    assert event.provider_payment_reference.startswith(REFERENCE[:10] + "LCP")
    assert event.occurred_at is not None
    assert event.occurred_at.tzinfo is not None


@pytest.mark.parametrize(("shape", "key"), [("current", "eventType"), ("older", "event")])
async def test_a_payment_failed_webhook_is_a_failure(provider, control, shape, key):
    await register(control)
    await provider.start_payment(access(), start("0712345678"))
    body = await complete(control, status="FAILED", shape=shape)
    assert json.loads(body)[key] == "PAYMENT FAILED"
    [event] = provider.parse_webhook(access(), body, {})
    assert event.kind is ProviderEventKind.PAYMENT_FAILED
    assert event.payment_id == PAYMENT_ID
    assert event.raw_status == "FAILED"


def webhook(event: str = "PAYMENT RECEIVED", **data: Any) -> dict[str, Any]:
    fields = {"id": "0969231256LCP2C95", "orderReference": REFERENCE, "status": "success"}
    fields.update(data)
    return {"event": event, "data": fields}


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def test_statuses_are_upper_cased_and_mapped(provider):
    parse = provider.parse_webhook
    [success] = parse(
        access(),
        encode(webhook(status="success", collectedAmount=1000, collectedCurrency="tzs")),
        {},
    )
    assert (success.kind, success.raw_status, success.amount, success.currency) == (
        ProviderEventKind.PAYMENT_SUCCEEDED, "SUCCESS", 100000, "TZS",
    )  # fmt: skip
    [processing] = parse(access(), encode(webhook(status="processing")), {})
    assert processing.kind is ProviderEventKind.PAYMENT_PENDING
    [failed] = parse(access(), encode(webhook(status="Failed")), {})
    assert failed.kind is ProviderEventKind.PAYMENT_FAILED
    assert len({success.dedup_key, processing.dedup_key, failed.dedup_key}) == 3


@pytest.mark.parametrize("event", ["PAYOUT INITIATED", "DEPOSIT RECEIVED", "SOMETHING NEW", ""])
def test_other_events_are_ignored(provider, event):
    [parsed] = provider.parse_webhook(
        access(), encode(webhook(event, orderReference="order_123456")), {}
    )
    assert parsed.kind is ProviderEventKind.IGNORED
    assert parsed.payment_id is None


def test_a_reference_that_is_not_ours_is_kept_for_lookup(provider):
    [event] = provider.parse_webhook(access(), encode(webhook(orderReference="ORD123")), {})
    assert (event.payment_id, event.provider_reference) == (None, "ORD123")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        encode({"event": "PAYMENT RECEIVED"}),
        encode(webhook(orderReference=None)),
        encode(webhook(collectedAmount="12.345", collectedCurrency="TZS")),
    ],
)  # fmt: skip
def test_a_malformed_body_is_a_value_error(provider, body):
    with pytest.raises(ValueError):  # noqa: PT011 — which field was wrong is not the point
        provider.parse_webhook(access(), body, {})


async def test_a_webhook_signed_by_the_fake_verifies(provider, control):
    await register(control, checksum_key=CHECKSUM_KEY)
    await provider.start_payment(access(CHECKSUM_KEY), start("0712345678"))
    body = await complete(control, status="SUCCESS")
    assert "checksum" in json.loads(body)
    [event] = provider.parse_webhook(access(CHECKSUM_KEY), body, {})
    assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert event.confirmed is True  # verified: believed
    with pytest.raises(InvalidSignature, match="does not match"):
        provider.parse_webhook(access("another-key"), body, {})
    tampered = json.loads(body)
    tampered["data"]["collectedAmount"] = "1"
    with pytest.raises(InvalidSignature, match="does not match"):
        provider.parse_webhook(access(CHECKSUM_KEY), encode(tampered), {})


def test_without_a_checksum_key_webhooks_are_read_but_not_believed(provider):
    """Accepted and understood, but marked unconfirmed: Hazina asks ClickPesa before acting."""
    [event] = provider.parse_webhook(access(), encode(webhook()), {})
    assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert event.confirmed is False


@pytest.mark.parametrize("body", [encode(webhook()), b"not json", b"[]"])
def test_with_a_checksum_key_an_unsigned_webhook_is_refused(provider, body):
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(access(CHECKSUM_KEY), body, {})


def test_a_checksum_made_by_clickpesa_python_sdk_is_accepted_and_a_tampered_one_refused(provider):
    payload = webhook(
        collectedAmount="1000", collectedCurrency="TZS", customer={"customerName": "John Doe"}
    )
    signed = {**payload, "checksum": SecurityManager.create_checksum(CHECKSUM_KEY, payload)}
    [event] = provider.parse_webhook(access(CHECKSUM_KEY), encode(signed), {})
    assert (event.kind, event.amount) == (ProviderEventKind.PAYMENT_SUCCEEDED, 100000)
    # checksumMethod is outside the digest, as the docs say.
    [_] = provider.parse_webhook(
        access(CHECKSUM_KEY), encode({**signed, "checksumMethod": "canonical"}), {}
    )

    tampered = json.loads(encode(signed))
    tampered["data"]["collectedAmount"] = "100000"
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(access(CHECKSUM_KEY), encode(tampered), {})
    wrong_digit = {
        **signed,
        "checksum": signed["checksum"][:-1] + ("0" if signed["checksum"][-1] != "0" else "1"),
    }
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(access(CHECKSUM_KEY), encode(wrong_digit), {})


def test_the_sdk_header_convention_is_verified_too(provider):
    # clickpesa-python-sdk's WebhookValidator reads the digest from X-ClickPesa-Signature.
    payload = webhook(collectedAmount="1000", collectedCurrency="TZS")
    signature = SecurityManager.create_checksum(CHECKSUM_KEY, payload)
    [event] = provider.parse_webhook(
        access(CHECKSUM_KEY), encode(payload), {"x-clickpesa-signature": signature}
    )
    assert event.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(
            access(CHECKSUM_KEY), encode(payload), {"x-clickpesa-signature": "0" * 64}
        )


def test_the_same_notification_twice_has_one_dedup_key(provider):
    body = encode(webhook())
    [first] = provider.parse_webhook(access(), body, {})
    [second] = provider.parse_webhook(access(), body, {})
    assert (
        first.dedup_key
        == second.dedup_key
        == f"PAYMENT RECEIVED:{REFERENCE}:0969231256LCP2C95:SUCCESS"
    )


def test_the_reference_maps_back_to_our_payment_id() -> None:
    assert ids.alphanumeric_reference(PAYMENT_ID) == REFERENCE
