"""The Paynow adapter against the fake: web and express starts, status updates, polls, traces."""

import asyncio
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from hazina.domain.paynow_hash import paynow_hash
from hazina.domain.providers import (
    InvalidSignature,
    PaymentStart,
    ProviderAccess,
    ProviderEventKind,
    ProviderFailure,
)
from hazina.providers.paynow import PaynowProvider
from hazina.testing.paynow_fake import FakePaynow
from tests.providers.paynow_provider.conftest import BASE, INTEGRATION_KEY, Recorder


def start(method: str, phone: str | None = None, currency: str = "USD") -> PaymentStart:
    return PaymentStart(
        payment_id="pay_AbCdEfGh12345678",
        order_id="order_AbCdEfGh12345678",
        amount=1050,
        currency=currency,
        description="Order order_AbCdEfGh12345678",
        success_url="http://hub.test/success?payment_id=pay_AbCdEfGh12345678",
        cancel_url="http://hub.test/checkout?order_id=order_AbCdEfGh12345678",
        customer_phone=phone,
        method=method,
        notify_url="http://hub.test/hooks/paynow/pa_test",
    )


async def settled(fake: FakePaynow) -> None:
    """The test numbers settle in tasks of their own (time_scale 0: at once)."""
    while fake.tasks:
        await asyncio.gather(*fake.tasks)


async def test_a_web_payment_redirects_to_paynow_and_its_poll_url_reports_it_paid(
    provider: PaynowProvider, access: ProviderAccess, control: httpx.AsyncClient, ipns: Recorder
) -> None:
    started = await provider.start_payment(access, start("paynow"))
    assert started.next_action["type"] == "redirect"
    assert started.next_action["url"].startswith(f"{BASE}/Payment/ConfirmPayment/")
    assert started.provider_reference.startswith(f"{BASE}/Interface/CheckPayment/?guid=")
    assert started.provider_payment_reference is not None

    pending = await provider.fetch_payment(
        access, "pay_AbCdEfGh12345678", started.provider_reference
    )
    assert pending is not None
    assert pending.kind is ProviderEventKind.PAYMENT_PENDING

    page = await control.post(started.next_action["url"], data={"action": "pay"})
    assert page.status_code == 303
    assert page.headers["location"] == "http://hub.test/success?payment_id=pay_AbCdEfGh12345678"

    paid = await provider.fetch_payment(access, "pay_AbCdEfGh12345678", started.provider_reference)
    assert paid is not None
    assert paid.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (paid.payment_id, paid.amount) == ("pay_AbCdEfGh12345678", 1050)
    # The status update reports the same fact under the same dedup key.
    [update] = provider.parse_webhook(access, ipns.bodies[-1], {})
    assert update.dedup_key == paid.dedup_key
    assert update.provider_payment_reference == started.provider_payment_reference


@pytest.mark.parametrize(
    ("phone", "kind"),
    [
        ("0771111111", ProviderEventKind.PAYMENT_SUCCEEDED),
        ("0772222222", ProviderEventKind.PAYMENT_SUCCEEDED),
        ("0773333333", ProviderEventKind.PAYMENT_FAILED),
    ],
)
async def test_express_test_numbers_reach_their_documented_outcomes(
    provider: PaynowProvider,
    access: ProviderAccess,
    fake: FakePaynow,
    ipns: Recorder,
    phone: str,
    kind: ProviderEventKind,
) -> None:
    started = await provider.start_payment(access, start("ecocash", phone, currency="ZWG"))
    assert started.next_action["type"] == "ussd_push"
    assert started.next_action["phone"] == "+263" + phone[1:]
    assert "EcoCash" in started.next_action["message"]
    await settled(fake)
    [update] = provider.parse_webhook(access, ipns.bodies[-1], {})
    assert update.kind is kind
    polled = await provider.fetch_payment(access, "pay_x", started.provider_reference)
    assert polled is not None
    assert polled.kind is kind


async def test_insufficient_balance_is_refused_at_the_start(
    provider: PaynowProvider, access: ProviderAccess
) -> None:
    with pytest.raises(ProviderFailure, match="Insufficient balance") as refused:
        await provider.start_payment(access, start("onemoney", "0774444444"))
    assert not refused.value.retryable


async def test_an_international_format_phone_is_sent_as_dialled_at_home(
    provider: PaynowProvider, access: ProviderAccess, fake: FakePaynow
) -> None:
    await provider.start_payment(access, start("ecocash", "+263 77 111 1111"))
    [transaction] = fake.transactions.values()
    assert transaction.phone == "0771111111"
    with pytest.raises(ProviderFailure, match="Zimbabwean"):
        await provider.start_payment(access, start("ecocash", "+255712345678"))


async def test_innbucks_answers_a_code_with_deep_link_and_qr_and_is_paid_with_it(
    provider: PaynowProvider, access: ProviderAccess, control: httpx.AsyncClient
) -> None:
    started = await provider.start_payment(access, start("innbucks"))
    action = started.next_action
    assert action["type"] == "authorization_code"
    assert action["code"].isdigit()
    assert len(action["code"]) == 9
    assert action["deep_link"] == f"schinn.wbpycode://innbucks.co.zw?pymInnCode={action['code']}"
    assert action["qr_svg"].startswith("<svg")
    assert "InnBucks" in action["qr_svg"]
    assert action["expires_at"].endswith("Z")
    paid = await control.post(f"/_control/innbucks/{action['code']}/pay")
    assert paid.status_code == 200
    polled = await provider.fetch_payment(access, "pay_x", started.provider_reference)
    assert polled is not None
    assert polled.kind is ProviderEventKind.PAYMENT_SUCCEEDED


async def test_express_needs_the_accounts_login_email(
    provider: PaynowProvider, access: ProviderAccess
) -> None:
    no_email = replace(
        access, secrets={k: v for k, v in access.secrets.items() if k != "auth_email"}
    )
    with pytest.raises(ProviderFailure, match="auth_email"):
        await provider.start_payment(no_email, start("ecocash", "0771111111"))
    wrong = replace(access, secrets={**access.secrets, "auth_email": "other@example.com"})
    with pytest.raises(ProviderFailure, match="authemail"):
        await provider.start_payment(wrong, start("ecocash", "0771111111"))


async def test_currencies_other_than_usd_and_zwg_are_refused(
    provider: PaynowProvider, access: ProviderAccess
) -> None:
    with pytest.raises(ProviderFailure, match="USD and ZWG"):
        await provider.start_payment(access, start("paynow", currency="EUR"))


async def test_an_answer_signed_with_another_key_is_not_used(
    provider: PaynowProvider, access: ProviderAccess
) -> None:
    wrong = replace(access, secrets={**access.secrets, "integration_key": "not-the-key"})
    # The fake refuses the request's hash first, as Paynow would.
    with pytest.raises(ProviderFailure, match="Invalid hash"):
        await provider.start_payment(wrong, start("paynow"))


async def test_a_tampered_or_unsigned_status_update_raises_invalid_signature(
    provider: PaynowProvider, access: ProviderAccess, control: httpx.AsyncClient, ipns: Recorder
) -> None:
    started = await provider.start_payment(access, start("paynow"))
    await control.post(started.next_action["url"], data={"action": "pay"})
    pairs = parse_qsl(ipns.bodies[-1].decode(), keep_blank_values=True)
    tampered = urlencode([(k, "99999.00" if k == "amount" else v) for k, v in pairs])
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(access, tampered.encode(), {})
    unsigned = urlencode([(k, v) for k, v in pairs if k != "hash"])
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(access, unsigned.encode(), {})
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(access, b"\xff\xfe", {})


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("Awaiting Delivery", ProviderEventKind.PAYMENT_SUCCEEDED),
        ("Delivered", ProviderEventKind.PAYMENT_SUCCEEDED),
        ("FAILED", ProviderEventKind.PAYMENT_FAILED),
        ("Refunded", ProviderEventKind.PAYMENT_RETURNED),
        ("Disputed", ProviderEventKind.PAYMENT_DISPUTED),
        ("Something New", ProviderEventKind.IGNORED),
    ],
)
def test_status_mapping(
    provider: PaynowProvider, access: ProviderAccess, status: str, kind: ProviderEventKind
) -> None:
    fields = [
        ("reference", "pay_AbCdEfGh12345678"),
        ("paynowreference", "1,082"),
        ("amount", "1,000.00"),
        ("status", status),
        ("pollurl", f"{BASE}/Interface/CheckPayment/?guid=x"),
    ]
    body = urlencode([*fields, ("hash", paynow_hash(fields, INTEGRATION_KEY))]).encode()
    [event] = provider.parse_webhook(access, body, {})
    assert event.kind is kind
    assert event.amount == 100000


async def test_a_poll_url_off_paynows_host_is_never_requested(
    provider: PaynowProvider, access: ProviderAccess
) -> None:
    with pytest.raises(ProviderFailure, match="off its host"):
        await provider.fetch_payment(access, "pay_x", "http://169.254.169.254/latest")


async def test_without_a_poll_url_the_trace_finds_the_transaction(
    provider: PaynowProvider, access: ProviderAccess
) -> None:
    assert await provider.fetch_payment(access, "pay_AbCdEfGh12345678", None) is None  # unknown
    await provider.start_payment(access, start("paynow"))
    traced = await provider.fetch_payment(access, "pay_AbCdEfGh12345678", None)
    assert traced is not None
    assert traced.kind is ProviderEventKind.PAYMENT_PENDING
    assert traced.provider_reference is not None


async def test_paynow_has_no_refund_api(provider: PaynowProvider, access: ProviderAccess) -> None:
    from hazina.domain.providers import RefundStart

    with pytest.raises(ProviderFailure, match="no refund API"):
        await provider.refund(access, RefundStart("rfnd_x", "pay_x", None, None, 100, "USD"))
