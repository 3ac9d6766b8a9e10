"""The EcoCash direct adapter against the fake: C2B push, lookups, refunds, one wire spelling."""

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from hazina.domain.providers import (
    InvalidSignature,
    PaymentStart,
    ProviderAccess,
    ProviderEventKind,
    ProviderFailure,
    RefundStart,
)
from hazina.providers.ecocash import EcoCashProvider, source_reference
from hazina.testing.ecocash_fake import FakeEcoCash, create_ecocash_fake

ROOT = "/api/ecocash_pay"
API_KEY = "eco-test-key-0001"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake_app(clock: Clock) -> Starlette:
    return create_ecocash_fake(api_keys=(API_KEY,), pay_after=5.0, clock=clock)


@pytest.fixture
def fake(fake_app: Starlette) -> FakeEcoCash:
    state: FakeEcoCash = fake_app.state.ecocash
    return state


@pytest.fixture
async def provider(fake_app: Starlette) -> AsyncIterator[EcoCashProvider]:
    transport = httpx.ASGITransport(app=fake_app, root_path=ROOT)
    adapter = EcoCashProvider("http://ecocash.test" + ROOT, 5.0, transport=transport)
    yield adapter
    await adapter.aclose()


ACCESS = ProviderAccess("ecocash", "pa_eco", "test", {"merchant_code": "MC001", "api_key": API_KEY})


def start(phone: str | None, currency: str = "ZWG") -> PaymentStart:
    return PaymentStart(
        payment_id="pay_EcoCash000000001",
        order_id="order_EcoCash00000001",
        amount=1050,
        currency=currency,
        description="Order order_EcoCash00000001",
        success_url="http://hub.test/success",
        cancel_url="http://hub.test/checkout",
        customer_phone=phone,
        method="ecocash_direct",
    )


async def test_a_push_is_looked_up_until_paid_and_then_refunded(
    provider: EcoCashProvider, fake: FakeEcoCash, clock: Clock
) -> None:
    started = await provider.start_payment(ACCESS, start("0771111111"))
    reference = source_reference("pay_EcoCash000000001")
    assert started.provider_reference == f"263771111111:{reference}"
    assert started.next_action["type"] == "ussd_push"
    assert started.next_action["phone"] == "+263771111111"
    charge = fake.charges[reference]
    assert (charge.amount, charge.currency, charge.msisdn) == (10.5, "ZWG", "263771111111")

    pending = await provider.fetch_payment(
        ACCESS, "pay_EcoCash000000001", started.provider_reference
    )
    assert pending is not None
    assert pending.kind is ProviderEventKind.PAYMENT_PENDING
    clock.now += 5
    paid = await provider.fetch_payment(ACCESS, "pay_EcoCash000000001", started.provider_reference)
    assert paid is not None
    assert paid.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (paid.amount, paid.currency) == (1050, "ZWG")
    assert paid.provider_payment_reference == charge.ecocash_reference
    assert paid.dedup_key != pending.dedup_key

    refund = RefundStart(
        "rfnd_x",
        "pay_EcoCash000000001",
        started.provider_reference,
        paid.provider_payment_reference,
        500,
        "ZWG",
        "damaged",
    )
    refunded = await provider.refund(ACCESS, refund)
    assert refunded.succeeded
    [sent] = charge.refunded
    assert sent["origionalEcocashTransactionReference"] == charge.ecocash_reference
    assert (sent["refundCorelator"], sent["amount"], sent["clientName"]) == ("rfnd_x", 5, "MC001")


async def test_a_retried_start_sends_the_same_source_reference(
    provider: EcoCashProvider, fake: FakeEcoCash
) -> None:
    await provider.start_payment(ACCESS, start("0771111111"))
    await provider.start_payment(ACCESS, start("0771111111"))
    assert len(fake.charges) == 1


async def test_a_failed_charge_and_an_unknown_one(
    provider: EcoCashProvider, fake: FakeEcoCash
) -> None:
    started = await provider.start_payment(ACCESS, start("0779999999"))
    fake.charges[source_reference("pay_EcoCash000000001")].status = "FAILED"
    failed = await provider.fetch_payment(
        ACCESS, "pay_EcoCash000000001", started.provider_reference
    )
    assert failed is not None
    assert failed.kind is ProviderEventKind.PAYMENT_FAILED
    assert await provider.fetch_payment(ACCESS, "pay_other", "263771111111:nope") is None
    assert await provider.fetch_payment(ACCESS, "pay_other", None) is None


async def test_bad_input_and_a_wrong_key_are_refused(provider: EcoCashProvider) -> None:
    with pytest.raises(ProviderFailure, match="phone"):
        await provider.start_payment(ACCESS, start(None))
    with pytest.raises(ProviderFailure, match="Zimbabwean"):
        await provider.start_payment(ACCESS, start("+255712345678"))
    with pytest.raises(ProviderFailure, match="USD and ZWG"):
        await provider.start_payment(ACCESS, start("0771111111", currency="EUR"))
    wrong = ProviderAccess("ecocash", "pa_eco", "test", {"merchant_code": "MC", "api_key": "x"})
    with pytest.raises(ProviderFailure, match="refused the API key"):
        await provider.start_payment(wrong, start("0771111111"))


def test_notifications_are_never_trusted(provider: EcoCashProvider) -> None:
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(ACCESS, b'{"status": "SUCCESS"}', {})
