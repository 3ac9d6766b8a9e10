"""Stripe's units per currency, end to end against the Stripe fake: what a session and a refund
carry at Stripe, and what the adapter reads back from its events and its status answers."""

import json
from dataclasses import replace
from typing import Any

import pytest

from hazina.domain.providers import ProviderEvent, ProviderEventKind, ProviderFailure, RefundStart
from hazina.providers.stripe import StripeProvider
from tests.providers.stripe_provider.conftest import (
    ACCESS,
    StripeServer,
    auth,
    payment_start,
)

PAYMENT_ID = "pay_abcdefgh12345678"

# (currency, Hazina's minor units, Stripe's integer, a partial refund in minor units, at Stripe)
CASES = [
    pytest.param("JPY", 500, 500, 200, 200, id="JPY-0-decimal"),
    pytest.param("USD", 2500, 2500, 1000, 1000, id="USD-2-decimal"),
    pytest.param("KWD", 12_340, 12_340, 1_230, 1_230, id="KWD-3-decimal"),
    # ISK is zero-decimal in ISO but two-decimal (always 00) in Stripe's API.
    pytest.param("ISK", 5_000, 500_000, 1_000, 100_000, id="ISK-special-case"),
    # MGA has two decimals in ISO, none at Stripe.
    pytest.param("MGA", 1_000_000, 10_000, 300_000, 3_000, id="MGA-zero-at-stripe"),
]


def parse(provider: StripeProvider, signed: dict[str, Any]) -> ProviderEvent:
    [event] = provider.parse_webhook(
        ACCESS, signed["body"].encode(), {"Stripe-Signature": signed["signature"]}
    )
    return event


def refund_of(amount: int, currency: str, intent: str, refund_id: str) -> RefundStart:
    return RefundStart(
        refund_id=refund_id,
        payment_id=PAYMENT_ID,
        provider_reference=None,
        provider_payment_reference=intent,
        amount=amount,
        currency=currency,
    )


@pytest.mark.parametrize(("currency", "minor", "units", "refund", "refund_units"), CASES)
async def test_amounts_go_out_in_stripes_units_and_come_back_in_ours(
    provider: StripeProvider,
    stripe_server: StripeServer,
    currency: str,
    minor: int,
    units: int,
    refund: int,
    refund_units: int,
) -> None:
    start = replace(payment_start(amount=minor), currency=currency)
    session_id = (await provider.start_payment(ACCESS, start)).provider_reference
    session = (
        await stripe_server.http.get(f"/v1/checkout/sessions/{session_id}", headers=auth())
    ).json()
    assert (session["amount_total"], session["currency"]) == (units, currency.lower())

    answer = await stripe_server.control(f"checkout/sessions/{session_id}/complete", deliver=False)
    completed, intent_succeeded = (parse(provider, signed) for signed in answer["events"])
    assert completed.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (completed.amount, completed.currency) == (minor, currency)
    assert (intent_succeeded.amount, intent_succeeded.currency) == (minor, currency)
    reconciled = await provider.fetch_payment(ACCESS, PAYMENT_ID, session_id)
    assert reconciled is not None
    assert (reconciled.amount, reconciled.currency) == (minor, currency)

    intent = answer["object"]["payment_intent"]
    made = await provider.refund(
        ACCESS, refund_of(refund, currency, intent, "rfnd_abcdefgh12345678")
    )
    assert made.succeeded
    await stripe_server.control("deliveries/flush")
    (refund_updated,) = await stripe_server.events("refund.updated")
    assert json.loads(refund_updated["body"])["data"]["object"]["amount"] == refund_units
    event = parse(provider, refund_updated)
    assert (event.kind, event.amount, event.currency) == (
        ProviderEventKind.REFUND_SUCCEEDED,
        refund,
        currency,
    )


@pytest.mark.parametrize(
    ("currency", "minor", "step"),
    [("KWD", 12_345, "0.010"), ("BHD", 1_001, "0.010"), ("MGA", 1_000_050, "1.00")],
)
async def test_an_amount_stripe_cannot_take_is_refused_not_rounded(
    provider: StripeProvider, stripe_server: StripeServer, currency: str, minor: int, step: str
) -> None:
    start = replace(payment_start(amount=minor), currency=currency)
    with pytest.raises(ProviderFailure) as refused:
        await provider.start_payment(ACCESS, start)
    assert not refused.value.retryable
    assert f"in steps of {step}" in refused.value.description
    # Refused before any call: Stripe never saw a session.
    assert await stripe_server.events() == []

    with pytest.raises(ProviderFailure) as refused:
        await provider.refund(ACCESS, refund_of(minor, currency, "pi_x", "rfnd_abcdefgh12345678"))
    assert not refused.value.retryable
