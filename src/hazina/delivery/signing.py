"""Signatures of an outbound webhook body: the contract's hex HMAC and Standard Webhooks'.

The body is signed exactly as sent. `X-Webhook-Signature` is the contract's scheme: lowercase hex
HMAC-SHA256 of the body keyed by the secret string. Standard Webhooks signs
`{webhook-id}.{webhook-timestamp}.{body}` keyed by the base64-decoded secret, through the
`standardwebhooks` package itself so receivers using it (or `svix`) agree with us by construction.
"""

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

CONTRACT_HEADER = "X-Webhook-Signature"
# Header names that must never reach a log line.
SIGNATURE_HEADERS = frozenset({CONTRACT_HEADER.lower(), "webhook-signature"})


def contract_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` for one secret."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return Webhook(secret).sign(message_id, moment, body.decode())


def signature_headers(
    secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Headers for one attempt. `secrets` is newest first; every one of them signs
    `webhook-signature` (space-separated), so a receiver mid-rotation verifies with either, while
    the contract's single-valued header carries the newest secret's signature only."""
    if not secrets:
        raise ValueError("a webhook needs at least one secret")
    return {
        "Content-Type": "application/json",
        CONTRACT_HEADER: contract_signature(secrets[0], body),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_signature(secret, message_id, timestamp, body) for secret in secrets
        ),
    }
