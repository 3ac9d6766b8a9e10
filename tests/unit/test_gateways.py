"""The generic gateway's rules: the `X-Hazina-Signature` scheme (checked against Stripe's own
verifier, whose `t=…,v1=…` over "t.body" it shares), its tolerance, the redirect template and
the payload's decimal amount."""

import time

import pytest
import stripe

from hazina.domain.errors import BadRequest
from hazina.domain.gateways import (
    SignatureRefused,
    fill_template,
    gateway_name,
    reported_amount,
    sign,
    validate_name,
    validate_template,
    verify,
)

BODY = b'{"payment_id":"gw_1","transaction_id":"pay_x","status":"completed","amount":5.00}'
SECRET = "gwsec_unit-test-secret"


def test_a_signature_is_what_stripes_verifier_accepts() -> None:
    now = int(time.time())
    header = sign(BODY, SECRET, now)
    stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=300)
    verify(header, BODY, [SECRET], now)
    # A regression vector [computed]: hmac.new(b"gwsec_x", b"1700000000.{}", sha256).
    assert sign(b"{}", "gwsec_x", 1700000000) == (
        "t=1700000000,v1=c7b105efb5a8fe141b5a926cb2890372aa8281fa713e7cde7c36fa24e776a2f0"
    )


@pytest.mark.parametrize(
    ("header", "secrets", "skew", "reason"),
    [
        (None, [SECRET], 0, "missing"),
        ("v1=abc", [SECRET], 0, "not t=<unix>"),
        ("t=12,v0=abc", [SECRET], 0, "not t=<unix>"),
        ("SIGNED", ["gwsec_other"], 0, "No signature matches"),
        ("SIGNED", [SECRET], 301, "more than 300 seconds"),
        ("SIGNED", [SECRET], -301, "more than 300 seconds"),
    ],
)
def test_refusals_name_the_reason_never_a_value(
    header: str | None, secrets: list[str], skew: int, reason: str
) -> None:
    now = int(time.time())
    if header == "SIGNED":
        header = sign(BODY, SECRET, now - skew)
    with pytest.raises(SignatureRefused, match=reason) as refused:
        verify(header, BODY, secrets, now)
    assert SECRET not in str(refused.value)


def test_any_of_the_overlapping_secrets_verifies() -> None:
    now = int(time.time())
    verify(sign(BODY, "gwsec_old", now), BODY, [SECRET, "gwsec_old"], now)
    verify(sign(BODY, SECRET, now - 300), BODY, [SECRET], now)  # at the edge: still in


def test_templates_are_checked_and_filled_percent_encoded() -> None:
    template = validate_template(
        " https://pay.example/c?ref={payment_id}&a={amount}&c={currency}&r={return_url} "
    )
    url = fill_template(template, "pay_1", 123456, "JPY", "http://h/success?payment_id=pay_1")
    assert url == (
        "https://pay.example/c?ref=pay_1&a=123456&c=JPY"
        "&r=http%3A%2F%2Fh%2Fsuccess%3Fpayment_id%3Dpay_1"
    )
    assert "a=1234.56" in fill_template(template, "p", 123456, "USD", "x")
    for bad in ("https://pay.example/", "javascript:{payment_id}", "https://x/{payment_id}{x}"):
        with pytest.raises(BadRequest):
            validate_template(bad)


def test_names_and_methods() -> None:
    assert validate_name("shop-2") == "shop-2"
    assert gateway_name("generic:shop") == "shop"
    assert gateway_name("stripe") is None
    for bad in ("", "-shop", "Shop", "shop_1", "thirteen-char"):
        with pytest.raises(BadRequest):
            validate_name(bad)


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [(150.00, "USD", 15000), ("150.10", "USD", 15010), (150.1, "USD", 15010), (500, "JPY", 500)],
)
def test_amounts_are_decimals_read_exactly(value: object, currency: str, minor: int) -> None:
    assert reported_amount(value, currency) == minor


@pytest.mark.parametrize("value", ["1.005", 1.005, True, None, "abc", -1, "NaN"])
def test_amounts_a_currency_cannot_hold_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        reported_amount(value, "USD")
