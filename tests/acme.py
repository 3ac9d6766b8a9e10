"""Acme: a minimal provider for testing the provider-agnostic paths (inbound, settlement,
reconciliation, provider refunds) apart from any real provider's wire format.

Its webhooks are JSON signed with a hex HMAC-SHA256 in `acme-signature`; it remembers what
the test says each payment's state is, for status queries; it can be told to hold a start
(to race a webhook against it) or refuse one.
"""

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hazina.domain.providers import (
    Capability,
    CaptureStart,
    CredentialFields,
    InvalidSignature,
    PaymentStart,
    ProviderAccess,
    ProviderEvent,
    ProviderEventKind,
    ProviderFailure,
    RefundStart,
    StartedPayment,
    StartedRefund,
)

SECRET = "acme_webhook_secret"
CREDENTIALS = CredentialFields(required=("webhook_secret",))
DEFAULT_ACCESS = ProviderAccess("acme", None, "test", {"webhook_secret": SECRET})
KINDS = {
    "paid": ProviderEventKind.PAYMENT_SUCCEEDED,
    "failed": ProviderEventKind.PAYMENT_FAILED,
    "expired": ProviderEventKind.PAYMENT_EXPIRED,
    "refunded": ProviderEventKind.REFUND_SUCCEEDED,
    # A status the adapter cannot read: it says nothing about the payment.
    "on_hold": ProviderEventKind.IGNORED,
}


def reference_of(payment_id: str) -> str:
    return "acme_" + payment_id.removeprefix("pay_")


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"acme-signature": digest, "content-type": "application/json"}


def webhook(
    payment_id: str | None,
    status: str,
    *,
    amount: int | None = None,
    currency: str | None = None,
    event_id: str | None = None,
    reference: str | None = None,
    refund: str | None = None,
) -> bytes:
    body = {
        "id": event_id or "acme_evt_" + secrets.token_hex(6),
        "status": status,
        "payment": payment_id,
        "reference": reference,
        "refund": refund,
        "amount": amount,
        "currency": currency,
    }
    return json.dumps(body).encode()


@dataclass
class AcmeProvider:
    name: str = "acme"
    methods: tuple[str, ...] = ("acme",)
    currencies: frozenset[str] | None = None
    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.REDIRECT,
            Capability.STATUS_QUERY,
            Capability.REFUND,
            Capability.REFUND_QUERY,
            Capability.CANCEL,
        }
    )
    credentials: CredentialFields = CREDENTIALS
    # What a status query answers, by payment id ("paid", "failed", "open"); absent: unknown.
    states: dict[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None
    # What a start raises, if anything.
    refuse_starts: ProviderFailure | None = None
    refunds: list[RefundStart] = field(default_factory=list)
    # False: its webhooks are unauthenticated (like ClickPesa without a checksum key).
    confirm_reports: bool = True
    started: list[PaymentStart] = field(default_factory=list)
    # References of the attempts Hazina ended, and what ending one raises, if anything.
    cancelled: list[str] = field(default_factory=list)
    refuse_cancels: ProviderFailure | None = None
    # Set once a start reached the provider (tests race a webhook or a duplicate against it).
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def start_payment(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        self.started.append(start)
        self.reached.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.refuse_starts is not None:
            raise self.refuse_starts
        url = f"https://acme.test/pay/{reference_of(start.payment_id)}"
        return StartedPayment(reference_of(start.payment_id), {"type": "redirect", "url": url})

    def parse_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> list[ProviderEvent]:
        expected = sign(body, access.secrets["webhook_secret"])["acme-signature"]
        if not hmac.compare_digest(expected, headers.get("acme-signature", "")):
            raise InvalidSignature("acme-signature does not match")
        data: dict[str, Any] = json.loads(body)
        kind = KINDS.get(data["status"], ProviderEventKind.IGNORED)
        return [
            ProviderEvent(
                kind=kind,
                dedup_key=data["id"],
                raw_type="acme.payment",
                raw_status=data["status"],
                payment_id=data["payment"],
                provider_reference=data.get("reference"),
                provider_refund_reference=data.get("refund"),
                confirmed=self.confirm_reports,
                amount=data.get("amount"),
                currency=data.get("currency"),
            )
        ]

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        state = self.states.get(payment_id)
        if state is None:
            return None
        kind = KINDS.get(state, ProviderEventKind.PAYMENT_PENDING)
        return ProviderEvent(
            kind=kind,
            dedup_key=f"status:{payment_id}:{state}",
            raw_type="acme.status",
            raw_status=state,
            payment_id=payment_id,
        )

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund:
        self.refunds.append(refund)
        return StartedRefund("acme_re_" + refund.refund_id, succeeded=False)

    async def fetch_refund(
        self, access: ProviderAccess, refund_id: str, provider_refund_reference: str | None
    ) -> ProviderEvent | None:
        state = self.states.get(refund_id)  # "refunded" or "failed"; absent: still pending
        if state not in ("refunded", "failed"):
            return None
        kind = KINDS.get(state, ProviderEventKind.REFUND_FAILED)
        return ProviderEvent(
            kind=kind,
            dedup_key=f"status:{refund_id}:{state}",
            raw_type="acme.refund",
            raw_status=state,
            refund_id=refund_id,
            provider_refund_reference=provider_refund_reference,
        )

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        raise ProviderFailure("Acme captures every payment on success.")

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        if self.refuse_cancels is not None:
            raise self.refuse_cancels
        self.cancelled.append(provider_reference)

    async def aclose(self) -> None:
        return None
