"""The PayPal adapter against the fake: orders, approval, capture, authorisation, refunds, errors,
tokens, and webhook signatures (checked by OpenSSL as well as by the adapter)."""

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from hazina.domain import ids
from hazina.domain.providers import (
    CaptureStart,
    InvalidSignature,
    PaymentStart,
    ProviderAccess,
    ProviderEventKind,
    ProviderFailure,
    RefundStart,
)
from hazina.providers.paypal import PayPalProvider
from hazina.providers.paypal_reports import event_report
from hazina.providers.paypal_signatures import CertificateStore, signed_message
from hazina.testing.paypal_state import FakePayPal
from tests.providers.paypal_provider.conftest import BASE, WEBHOOK_ID, Clock


def start(capture: bool = True, amount: int = 2500) -> PaymentStart:
    payment_id = ids.new_id(ids.PAYMENT)
    return PaymentStart(
        payment_id=payment_id,
        order_id=ids.new_id(ids.ORDER),
        amount=amount,
        currency="USD",
        description="Order test",
        success_url=f"https://hub.example/checkout/approved?payment_id={payment_id}",
        cancel_url="https://hub.example/checkout?order_id=x",
        capture=capture,
    )


async def approve(control: httpx.AsyncClient, order_id: str) -> None:
    response = await control.post(f"/_control/orders/{order_id}/approve")
    assert response.json()["status"] == "APPROVED"


def test_the_signed_message_uses_the_unsigned_decimal_crc32_of_the_raw_body():
    body = b'{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}'  # providers.md 2.7 vector
    message = signed_message("8f1d", "2023-09-07T08:07:06Z", "1JE4291016473214C", body)
    assert message == b"8f1d|2023-09-07T08:07:06Z|1JE4291016473214C|2325436976"


async def test_an_order_is_created_once_per_payment_and_redirects_to_approval(
    provider: PayPalProvider, access: ProviderAccess, fake: FakePayPal
):
    payment = start()
    started = await provider.start_payment(access, payment)
    again = await provider.start_payment(access, payment)  # PayPal-Request-Id: the same order
    assert again.provider_reference == started.provider_reference
    assert len(fake.orders) == 1
    order = fake.orders[started.provider_reference]
    assert order["intent"] == "CAPTURE"
    assert order["purchase_units"][0]["custom_id"] == payment.payment_id
    assert order["purchase_units"][0]["amount"] == {"currency_code": "USD", "value": "25.00"}
    assert started.next_action == {
        "type": "redirect",
        "url": f"https://api-m.paypal.test/checkoutnow?token={started.provider_reference}",
    }


async def test_capture_before_approval_is_refused_with_paypals_issue(
    provider: PayPalProvider, access: ProviderAccess
):
    payment = start()
    order_id = (await provider.start_payment(access, payment)).provider_reference
    with pytest.raises(ProviderFailure) as refused:
        await provider.complete_approved(access, payment.payment_id, order_id, capture=True)
    assert refused.value.description.startswith("PayPal: ORDER_NOT_APPROVED: Payer has not")
    assert "(debug id " in refused.value.description
    pending = await provider.fetch_payment(access, payment.payment_id, order_id)
    assert pending is not None
    assert pending.kind is ProviderEventKind.PAYMENT_PENDING


async def test_an_approved_order_is_captured_once_and_refunded(
    provider: PayPalProvider, access: ProviderAccess, control: httpx.AsyncClient, fake: FakePayPal
):
    payment = start()
    order_id = (await provider.start_payment(access, payment)).provider_reference
    await approve(control, order_id)
    approved = await provider.fetch_payment(access, payment.payment_id, order_id)
    assert approved is not None
    assert approved.kind is ProviderEventKind.PAYMENT_APPROVED
    assert approved.dedup_key == f"approved:{order_id}"

    captured = await provider.complete_approved(access, payment.payment_id, order_id, capture=True)
    again = await provider.complete_approved(access, payment.payment_id, order_id, capture=True)
    assert len(fake.captures) == 1
    assert captured.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert (captured.amount, captured.currency) == (2500, "USD")
    assert captured.payment_id == payment.payment_id
    assert again.dedup_key == captured.dedup_key  # the same fact: a duplicate when applied

    refund_id = ids.new_id(ids.REFUND)
    refunded = await provider.refund(
        access,
        RefundStart(
            refund_id,
            payment.payment_id,
            order_id,
            captured.provider_payment_reference,
            1000,
            "USD",
        ),
    )
    assert refunded.succeeded is True
    settled = await provider.fetch_refund(access, refund_id, refunded.provider_refund_reference)
    assert settled is not None
    assert settled.kind is ProviderEventKind.REFUND_SUCCEEDED
    assert (settled.refund_id, settled.payment_id, settled.amount) == (
        refund_id,
        payment.payment_id,
        1000,
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("DECLINED", ProviderEventKind.PAYMENT_FAILED),
        ("PENDING", ProviderEventKind.PAYMENT_PENDING),
    ],
)
async def test_a_declined_or_pending_capture_is_not_a_success(
    provider: PayPalProvider,
    access: ProviderAccess,
    control: httpx.AsyncClient,
    status: str,
    kind: ProviderEventKind,
):
    await control.post("/_control/settings", json={"capture_status": status})
    payment = start()
    order_id = (await provider.start_payment(access, payment)).provider_reference
    await approve(control, order_id)
    report = await provider.complete_approved(access, payment.payment_id, order_id, capture=True)
    # The order itself says COMPLETED; its capture's status decides.
    assert report.kind is kind
    assert report.raw_status == status


async def test_an_authorisation_is_captured_later_for_the_amount_asked(
    provider: PayPalProvider, access: ProviderAccess, control: httpx.AsyncClient, fake: FakePayPal
):
    payment = start(capture=False)
    order_id = (await provider.start_payment(access, payment)).provider_reference
    await approve(control, order_id)
    authorised = await provider.complete_approved(
        access, payment.payment_id, order_id, capture=False
    )
    assert authorised.kind is ProviderEventKind.PAYMENT_SUCCEEDED
    assert authorised.raw_type == "authorization"
    assert fake.captures == {}
    taken = await provider.capture(
        access,
        CaptureStart(
            payment.payment_id, order_id, authorised.provider_payment_reference, 2000, "USD"
        ),
    )
    assert taken == 2000
    ((_, capture),) = fake.captures.values()
    assert capture["amount"] == {"currency_code": "USD", "value": "20.00"}


async def test_the_token_is_cached_and_fetched_again_after_a_401(
    provider: PayPalProvider,
    access: ProviderAccess,
    control: httpx.AsyncClient,
    fake: FakePayPal,
    clock: Clock,
):
    await provider.start_payment(access, start())
    await provider.start_payment(access, start())
    assert fake.tokens_issued == 1
    await control.post("/_control/settings", json={"expire_tokens": True})
    await provider.start_payment(access, start())  # 401, a new token, the call again
    assert fake.tokens_issued == 2
    clock.now += 3600 - 300  # five minutes before it expires: renewed before use
    await provider.start_payment(access, start())
    assert fake.tokens_issued == 3


async def test_wrong_credentials_are_named(provider: PayPalProvider, access: ProviderAccess):
    wrong = ProviderAccess("paypal", "pa_x", "test", {**access.secrets, "client_secret": "nope"})
    with pytest.raises(
        ProviderFailure, match="PayPal refused the credentials: Client Authentication failed"
    ):
        await provider.start_payment(wrong, start())


async def signed_approval(
    provider: PayPalProvider, access: ProviderAccess, control: httpx.AsyncClient
) -> tuple[str, dict[str, Any]]:
    payment = start()
    order_id = (await provider.start_payment(access, payment)).provider_reference
    await approve(control, order_id)
    (sent,) = (await control.get("/_control/webhooks")).json()
    return payment.payment_id, sent


async def test_a_signed_webhook_verifies_and_a_tampered_one_does_not(
    provider: PayPalProvider, access: ProviderAccess, control: httpx.AsyncClient
):
    payment_id, sent = await signed_approval(provider, access, control)
    body, headers = sent["body"].encode(), sent["headers"]
    await provider.prepare_webhook(access, body, headers)
    (report,) = provider.parse_webhook(access, body, headers)
    assert report.kind is ProviderEventKind.PAYMENT_APPROVED
    assert report.payment_id == payment_id

    with pytest.raises(InvalidSignature, match="does not match"):
        provider.parse_webhook(access, body[:-2] + b" }", headers)
    other = ProviderAccess("paypal", "pa_x", "test", {**access.secrets, "webhook_id": "OTHER"})
    with pytest.raises(InvalidSignature, match="does not match"):
        provider.parse_webhook(other, body, headers)
    off_list = {**headers, "PAYPAL-CERT-URL": "https://evil.example/v1/notifications/certs/CERT-1"}
    with pytest.raises(InvalidSignature, match="not allowed"):
        await provider.prepare_webhook(access, body, off_list)
    plain = {**headers, "PAYPAL-CERT-URL": headers["PAYPAL-CERT-URL"].replace("https:", "http:")}
    with pytest.raises(InvalidSignature, match="https"):
        await provider.prepare_webhook(access, body, plain)


async def test_openssl_verifies_the_fakes_signature_with_its_served_certificate(
    provider: PayPalProvider, access: ProviderAccess, control: httpx.AsyncClient, tmp_path: Path
):
    assert shutil.which("openssl") is not None, "OpenSSL is the independent verifier here"
    _, sent = await signed_approval(provider, access, control)
    headers = sent["headers"]
    certificate = (await control.get(headers["PAYPAL-CERT-URL"])).content
    (tmp_path / "cert.pem").write_bytes(certificate)
    key = openssl("x509", "-pubkey", "-noout", "-in", str(tmp_path / "cert.pem")).stdout
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "sig").write_bytes(base64.b64decode(headers["PAYPAL-TRANSMISSION-SIG"]))
    message = signed_message(
        headers["PAYPAL-TRANSMISSION-ID"],
        headers["PAYPAL-TRANSMISSION-TIME"],
        WEBHOOK_ID,
        sent["body"].encode(),
    )
    (tmp_path / "message").write_bytes(message)
    verified = openssl(
        "dgst", "-sha256", "-verify", str(tmp_path / "key.pem"),
        "-signature", str(tmp_path / "sig"), str(tmp_path / "message"),
    )  # fmt: skip
    assert verified.stdout.strip() == b"Verified OK", verified.stderr


def openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], capture_output=True, check=False)


@pytest.mark.parametrize(
    ("event_type", "custom_id"),
    [("PAYMENT.CAPTURE.REVERSED", None), ("PAYMENT.CAPTURE.REFUNDED", None)],
)
def test_money_returned_outside_hazina_sends_the_payment_to_review(
    event_type: str, custom_id: str | None
):
    resource = {
        "id": "1JU08902781691411",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "25.00"},
        "custom_id": custom_id,
        "links": [{"rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/3C67"}],
    }
    event = {"id": "WH-1", "event_type": event_type, "resource": resource}
    report = event_report(event)
    assert report.kind is ProviderEventKind.PAYMENT_RETURNED
    assert report.provider_payment_reference == "3C67"  # the capture, which names the payment


def test_a_refund_hazina_asked_for_settles_that_refund():
    payment_id, refund_id = ids.new_id(ids.PAYMENT), ids.new_id(ids.REFUND)
    resource = {
        "id": "1JU08902781691411",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "10.00"},
        "custom_id": f"{payment_id}:{refund_id}",
        "links": [{"rel": "up", "href": "https://api-m.paypal.com/v2/payments/captures/3C67"}],
    }
    report = event_report(
        {"id": "WH-2", "event_type": "PAYMENT.CAPTURE.REFUNDED", "resource": resource}
    )
    assert report.kind is ProviderEventKind.REFUND_SUCCEEDED
    assert (report.payment_id, report.refund_id, report.amount) == (payment_id, refund_id, 1000)


async def test_the_postback_fallback_asks_paypal_about_each_webhook(
    fake_app: Starlette, access: ProviderAccess, control: httpx.AsyncClient, clock: Clock
):
    transport = httpx.ASGITransport(app=fake_app)
    certificates = CertificateStore(["paypal.test"], 5.0, transport=transport)
    provider = PayPalProvider(BASE, 5.0, certificates, clock, transport=transport, postback=True)
    try:
        payment_id, sent = await signed_approval(provider, access, control)
        body, headers = sent["body"].encode(), sent["headers"]
        with pytest.raises(InvalidSignature, match="did not verify this webhook"):
            provider.parse_webhook(access, body, headers)  # nobody asked PayPal yet
        await provider.prepare_webhook(access, body, headers)
        (report,) = provider.parse_webhook(access, body, headers)
        assert report.payment_id == payment_id

        altered = body.replace(b'"APPROVED"', b'"APPROVEd"', 1)
        with pytest.raises(InvalidSignature, match="PayPal did not verify"):
            await provider.prepare_webhook(access, altered, headers)
    finally:
        await provider.aclose()
