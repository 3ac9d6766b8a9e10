"""Outbound signatures, checked by third-party verifiers and by the contract's receiver rule."""

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import standardwebhooks
import svix.webhooks

from hazina.delivery.signing import contract_signature, signature_headers
from hazina.domain.webhooks import generate_secret
from hazina.services.resources import render

CONTRACT_SECRET = "whsec_test_abc123"

PAYLOAD: dict[str, Any] = {
    "event": "payment.success",
    "timestamp": 1705315870,
    "data": {
        "payment": {
            "id": "pay_H8sK3jD9s2L1pQr0",
            "order_id": "order_NXhj67fGH2jk9mPq",
            "amount": 50000,
            "currency": "INR",
            "method": "upi",
            "vpa": "user@paytm",
            "status": "success",
            "created_at": "2024-01-15T10:31:00Z",
        },
        "notes": {"customer": "Zoë Ñandú", "city": "दिल्ली", "emoji": "💸", "quote": 'a "b" \\ c'},
    },
}


def contract_receiver_accepts(secret: str, body: bytes, signature: str) -> bool:
    """The contract's receiver: HMAC over `JSON.stringify(req.body)`, compared with `===`.

    Python's equivalent of JSON.stringify on the parsed body is the compact, non-ASCII-escaping
    dump; it reproduces our bytes exactly because we sign exactly that serialisation.
    """
    restringified = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)
    expected = hmac.new(secret.encode(), restringified.encode(), hashlib.sha256).hexdigest()
    return expected == signature


def headers_for(*secrets: str, body: bytes, message_id: str = "0b5e6d1c") -> dict[str, str]:
    return signature_headers(secrets, message_id, int(time.time()), body)


@pytest.mark.parametrize("secret", [CONTRACT_SECRET, generate_secret()])
def test_third_party_verifiers_accept_our_signatures(secret: str) -> None:
    body = render(PAYLOAD)
    headers = headers_for(secret, body=body)

    assert standardwebhooks.Webhook(secret).verify(body, headers) == PAYLOAD
    svix.webhooks.Webhook(secret).verify(body, headers)  # raises on a mismatch
    assert contract_receiver_accepts(secret, body, headers["X-Webhook-Signature"])


def test_non_ascii_body_is_sent_unescaped_and_signed_as_sent() -> None:
    body = render(PAYLOAD)
    assert "दिल्ली".encode() in body  # not \\u-escaped: the bytes JSON.stringify would produce
    signature = contract_signature(CONTRACT_SECRET, body)
    assert signature == signature.lower()
    assert len(signature) == 64
    assert contract_receiver_accepts(CONTRACT_SECRET, body, signature)


def test_a_wrong_secret_or_a_changed_body_is_rejected() -> None:
    body = render(PAYLOAD)
    headers = headers_for(generate_secret(), body=body)
    other = generate_secret()
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(other).verify(body, headers)
    with pytest.raises(svix.webhooks.WebhookVerificationError):
        svix.webhooks.Webhook(other).verify(body, headers)
    tampered = body.replace(b"50000", b"50001")
    assert not contract_receiver_accepts(other, tampered, headers["X-Webhook-Signature"])


def test_during_rotation_both_secrets_verify() -> None:
    new, old = generate_secret(), generate_secret()
    body = render(PAYLOAD)
    headers = headers_for(new, old, body=body)

    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        standardwebhooks.Webhook(secret).verify(body, headers)
        svix.webhooks.Webhook(secret).verify(body, headers)
    # The contract's single-valued header follows the new secret.
    assert contract_receiver_accepts(new, body, headers["X-Webhook-Signature"])
    assert not contract_receiver_accepts(old, body, headers["X-Webhook-Signature"])


def test_generated_secrets_are_whsec_and_32_random_bytes() -> None:
    import base64

    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert generate_secret() != secret
