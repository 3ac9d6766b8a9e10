"""The PayPal fake's state and wire pieces: its clients, tokens, orders and the webhooks it
sent, the REST error envelope, and the self-signed identity its webhooks are signed with
(providers.md 2.5, 2.6, 2.7 B). `paypal_fake` serves them.
"""

import base64
import json
import re
import secrets
import string
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from starlette.requests import Request
from starlette.responses import JSONResponse

CERT_PATH = "/v1/notifications/certs/CERT-hazina-fake"
WEBHOOK_TIMEOUT_SECONDS = 10.0
_AMOUNT = r"^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$"
_MESSAGES = {
    400: (
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
    ),
    401: (
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to missing authorization header, or invalid authentication "
        "credentials.",
    ),
    404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
    422: (
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation.",
    ),
}


def paypal_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error(status: int, issue: str | None = None, description: str = "") -> JSONResponse:
    """PayPal's REST error envelope (2.5)."""
    name, message = _MESSAGES[status]
    body: dict[str, Any] = {"name": name, "message": message, "debug_id": secrets.token_hex(6)}
    if issue is not None:
        body["details"] = [{"issue": issue, "description": description or issue}]
    return JSONResponse(body, status_code=status, headers={"Paypal-Debug-Id": body["debug_id"]})


def signing_identity() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A fresh RSA key and a self-signed certificate (PEM) for it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.fake")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def sign(
    key: rsa.RSAPrivateKey, transmission_id: str, at: str, webhook_id: str, body: bytes
) -> str:
    crc = zlib.crc32(body) & 0xFFFFFFFF
    message = f"{transmission_id}|{at}|{webhook_id}|{crc}".encode()
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


@dataclass(slots=True)
class FakeClient:
    client_id: str
    secret: str
    webhook_id: str
    webhook_url: str | None


@dataclass(slots=True)
class SentWebhook:
    headers: dict[str, str]
    body: bytes
    status: int | None


@dataclass(slots=True)
class FakePayPal:
    token_lifetime_seconds: int
    base_url: str = ""
    key: rsa.RSAPrivateKey | None = None
    certificate: bytes = b""
    clients: dict[str, FakeClient] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # → client id, expiry
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    order_clients: dict[str, str] = field(default_factory=dict)
    captures: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # → order
    authorizations: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    deliver: bool = True
    next_capture_status: str = "COMPLETED"
    sent: list[SentWebhook] = field(default_factory=list)
    tokens_issued: int = 0

    def client_of(self, request: Request) -> FakeClient | None:
        authorization = request.headers.get("authorization", "")
        found = self.tokens.get(authorization.removeprefix("Bearer "))
        if found is None or found[1] < time.monotonic():
            return None
        return self.clients.get(found[0])

    def link(self, path: str, rel: str, method: str = "GET") -> dict[str, str]:
        return {"href": f"{self.base_url}{path}", "rel": rel, "method": method}

    async def send_webhook(
        self, client: FakeClient, event_type: str, resource: dict[str, Any]
    ) -> None:
        event_id = f"WH-{paypal_id()}"
        event = {
            "id": event_id,
            "create_time": now(),
            "resource_type": resource.get("_type", "checkout-order"),
            "event_version": "1.0",
            "event_type": event_type,
            "summary": event_type.replace(".", " ").lower(),
            "resource_version": "2.0",
            "resource": {k: v for k, v in resource.items() if k != "_type"},
            "links": [self.link(f"/v1/notifications/webhooks-events/{event_id}", "self")],
        }
        body = json.dumps(event).encode()
        transmission_id, at = str(uuid.uuid1()), now()
        assert self.key is not None
        headers = {
            "Content-Type": "application/json",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": at,
            "PAYPAL-TRANSMISSION-SIG": sign(self.key, transmission_id, at, client.webhook_id, body),
            "PAYPAL-CERT-URL": f"{self.base_url}{CERT_PATH}",
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }
        sent = SentWebhook(headers, body, None)
        self.sent.append(sent)
        if not self.deliver or client.webhook_url is None:
            return
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS) as http:
            try:
                sent.status = (
                    await http.post(client.webhook_url, content=body, headers=headers)
                ).status_code
            except httpx.TransportError:
                sent.status = None


def amount_ok(amount: Any) -> bool:
    return (
        isinstance(amount, dict)
        and isinstance(amount.get("currency_code"), str)
        and isinstance(amount.get("value"), str)
        and re.fullmatch(_AMOUNT, amount["value"]) is not None
    )
