"""The ClickPesa payout client against the fake: preview, create, bank list, status query and
the PAYOUT webhooks, each in ClickPesa's wire format."""

import json

import pytest
from clickpesa import SecurityManager, WebhookValidator

from hazina.domain import ids
from hazina.domain.payouts import BankAccount, MobileMoney, PayoutStart, TransferType
from hazina.domain.providers import InvalidSignature, ProviderEventKind, ProviderFailure
from hazina.providers.clickpesa_payouts import ClickPesaPayouts

from .conftest import CHECKSUM_KEY, access, register


@pytest.fixture
def payouts(provider):
    return ClickPesaPayouts(provider)


def mobile(amount: int = 100000, phone: str = "+255712345678") -> PayoutStart:
    return PayoutStart(ids.new_id(ids.PAYOUT), amount, "TZS", MobileMoney(phone))


def bank(bic: str = "EQBLTZTZ") -> PayoutStart:
    account = BankAccount("0150123456789", "Asha Mwinyi", bic, TransferType.ACH)
    return PayoutStart(ids.new_id(ids.PAYOUT), 2000000, "TZS", account)


async def disbursements(control, start: PayoutStart) -> int:
    reference = ids.alphanumeric_reference(start.payout_id)
    response = await control.get(f"/_control/payouts/{reference}")
    return int(response.json()["disbursements"])


async def settle(control, start: PayoutStart, status: str, **extra):
    reference = ids.alphanumeric_reference(start.payout_id)
    response = await control.post(
        f"/_control/payouts/{reference}/settle", json={"status": status, **extra}
    )
    assert response.status_code == 200
    return response.content


async def test_the_preview_quotes_the_fee_in_minor_units(payouts, control):
    await register(control, checksum_key=CHECKSUM_KEY)
    quote = await payouts.preview(access(CHECKSUM_KEY), mobile(100000))
    # 1000 TZS → 1047.1 deducted: a fee of 47.10 TZS.
    assert quote.fee == 4710
    assert quote.channel == "TIGO PESA"


async def test_a_payout_is_processing_until_the_status_query_says_success(payouts, control):
    await register(control, checksum_key=CHECKSUM_KEY)
    start = mobile()
    accepted = await payouts.create(access(CHECKSUM_KEY), start)
    assert accepted.kind is ProviderEventKind.PAYOUT_PROCESSING
    assert accepted.payout_id == start.payout_id
    assert accepted.raw_status == "AUTHORIZED"
    queried = await payouts.fetch_payout(access(CHECKSUM_KEY), start)
    assert queried is not None
    assert queried.kind is ProviderEventKind.PAYOUT_PROCESSING
    await settle(control, start, "SUCCESS")
    paid = await payouts.fetch_payout(access(CHECKSUM_KEY), start)
    assert paid is not None
    assert paid.kind is ProviderEventKind.PAYOUT_PAID
    assert await disbursements(control, start) == 1


async def test_a_failed_payout_says_why(payouts, control):
    await register(control)
    start = mobile()
    await payouts.create(access(), start)
    await settle(control, start, "FAILED", message="Recipient wallet is full")
    failed = await payouts.fetch_payout(access(), start)
    assert failed is not None
    assert failed.kind is ProviderEventKind.PAYOUT_FAILED
    assert failed.message == "Recipient wallet is full"


async def test_a_second_create_of_one_reference_is_a_status_query(payouts, control):
    """ClickPesa refuses a known reference (409): the client answers what the payout is."""
    await register(control)
    start = mobile()
    await payouts.create(access(), start)
    await settle(control, start, "SUCCESS")
    again = await payouts.create(access(), start)
    assert again.kind is ProviderEventKind.PAYOUT_PAID
    assert await disbursements(control, start) == 1


async def test_a_payout_clickpesa_never_saw_is_unknown(payouts, control):
    await register(control)
    assert await payouts.fetch_payout(access(), mobile()) is None


async def test_bank_payouts_go_to_a_listed_bank(payouts, control):
    await register(control, checksum_key=CHECKSUM_KEY)
    banks = await payouts.banks(access(CHECKSUM_KEY))
    assert "EQBLTZTZ" in {b.bic for b in banks}
    start = bank()
    quote = await payouts.preview(access(CHECKSUM_KEY), start)
    assert quote.fee == 94200  # 4.71 % of 20,000.00
    accepted = await payouts.create(access(CHECKSUM_KEY), start)
    assert accepted.kind is ProviderEventKind.PAYOUT_PROCESSING
    with pytest.raises(ProviderFailure, match="Invalid bank bic") as refused:
        await payouts.preview(access(CHECKSUM_KEY), bank("NOTABANK"))
    assert refused.value.retryable is False


async def test_amounts_with_cents_and_other_currencies_are_refused_before_sending(payouts):
    with pytest.raises(ProviderFailure, match=r"whole TZS only: amount 100050 is 1000\.50 TZS"):
        await payouts.preview(access(), mobile(100050))
    start = PayoutStart(ids.new_id(ids.PAYOUT), 1000, "KES", MobileMoney("+255712345678"))
    with pytest.raises(ProviderFailure, match="TZS or USD"):
        await payouts.preview(access(), start)


@pytest.mark.parametrize(
    ("status", "kind", "reason"),
    [
        ("REVERSED", ProviderEventKind.PAYOUT_REVERSED, "Reversed by the mobile network"),
        ("REFUNDED", ProviderEventKind.PAYOUT_REFUNDED, "Refunded by the bank"),
    ],
)
async def test_returned_money_arrives_as_a_signed_webhook(
    payouts, provider, control, status, kind, reason
):
    await register(control, checksum_key=CHECKSUM_KEY)
    start = mobile()
    await payouts.create(access(CHECKSUM_KEY), start)
    await settle(control, start, "SUCCESS")
    body = await settle(control, start, status)
    assert json.loads(body)["event"] == f"PAYOUT {status}"
    [event] = provider.parse_webhook(access(CHECKSUM_KEY), body, {})
    assert event.kind is kind
    assert event.payout_id == start.payout_id
    assert event.message == reason
    assert event.confirmed is True
    # The status query names the same fact the same way: one receipt for both.
    queried = await payouts.fetch_payout(access(CHECKSUM_KEY), start)
    assert queried is not None
    assert queried.dedup_key == event.dedup_key
    tampered = json.loads(body)
    tampered["data"]["amount"] = "1.00"
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(access(CHECKSUM_KEY), json.dumps(tampered).encode(), {})


async def test_an_initiated_event_only_means_processing(payouts, provider, control):
    """Its samples say SUCCESS while the money may still be moving: never `paid`."""
    await register(control)
    start = mobile()
    await payouts.create(access(), start)
    reference = ids.alphanumeric_reference(start.payout_id)
    data = {"orderReference": reference, "status": "SUCCESS"}
    payload = {"event": "PAYOUT INITIATED", "data": data}
    [event] = provider.parse_webhook(access(), json.dumps(payload).encode(), {})
    assert event.kind is ProviderEventKind.PAYOUT_PROCESSING
    assert event.confirmed is False  # no checksum key: Hazina asks before believing


async def test_a_held_create_has_disbursed_before_it_answers(payouts, control, fake_app):
    """What the crash test relies on: the fake counts the disbursement before answering."""
    await register(control)
    fake_app.state.clickpesa_payouts.hold_seconds = 0.01
    start = mobile()
    await payouts.create(access(), start)
    assert await disbursements(control, start) == 1


async def test_clickpesas_own_sdk_agrees_on_payout_checksums(payouts, provider, control):
    """The fake's signed PAYOUT event verifies with clickpesa-python-sdk; an event the SDK
    signs is believed by the adapter."""
    await register(control, checksum_key=CHECKSUM_KEY)
    start = mobile()
    await payouts.create(access(CHECKSUM_KEY), start)
    await settle(control, start, "SUCCESS")
    payload = json.loads(await settle(control, start, "REVERSED"))
    checksum = payload.pop("checksum")
    assert WebhookValidator.verify(payload, checksum, CHECKSUM_KEY)
    signed = {**payload, "checksum": SecurityManager.create_checksum(CHECKSUM_KEY, payload)}
    [event] = provider.parse_webhook(access(CHECKSUM_KEY), json.dumps(signed).encode(), {})
    assert (event.kind, event.confirmed) == (ProviderEventKind.PAYOUT_REVERSED, True)
