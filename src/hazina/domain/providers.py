"""What every payment provider's notifications and status answers are normalised into."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class Capability(StrEnum):
    REDIRECT = "redirect"  # a hosted page the customer is sent to
    USSD_PUSH = "ussd_push"  # a prompt pushed to the customer's phone
    SIMULATED = "simulated"  # settled by Hazina's own worker (the sandbox)
    STATUS_QUERY = "status_query"  # reconciliation can ask for a payment's state
    REFUND = "refund"
    # Reconciliation can ask for a refund's state (`fetch_refund`). A provider that refunds
    # without it (EcoCash direct) cannot settle a refund whose answer was pending or lost:
    # its amount stays reserved and the payment goes to review (`refund_unconfirmed`).
    REFUND_QUERY = "refund_query"
    # An attempt still open at the provider can be ended (Stripe expires a Checkout Session),
    # so a customer who abandoned it can start another without paying twice.
    CANCEL = "cancel"
    CAPTURE = "capture"
    # The customer approves at the provider, then Hazina completes the payment there (PayPal
    # captures an approved order): its return URL tells Hazina the customer came back.
    APPROVAL = "approval"
    # The customer pays on the merchant's own page with the provider's elements, confirming a
    # payment Hazina created there with its client secret (Stripe's PaymentIntent flow).
    CLIENT_SECRET = "client_secret"  # noqa: S105 (a capability, not a secret)
    # The provider takes any answer but 200 as "send it again" and resends (Paynow's IPN): a
    # notification Hazina rejects or cannot apply is still answered 200 (and stored as such);
    # the provider's status query settles the payment instead.
    ALWAYS_ACKNOWLEDGE = "always_acknowledge"


@dataclass(frozen=True, slots=True)
class CredentialFields:
    """What one provider's credentials consist of, and the prefixes each value must start
    with; `{mode}` in a prefix becomes the account's mode, so a live key is refused on a test
    account."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return self.required + self.optional


class ProviderEventKind(StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_EXPIRED = "payment_expired"
    PAYMENT_PENDING = "payment_pending"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    # A manual-capture authorisation the provider released uncaptured (it expired).
    AUTHORIZATION_EXPIRED = "authorization_expired"
    # The customer approved the payment at the provider, which takes the money only once Hazina
    # asks (`APPROVAL` providers): the payment stays pending and a job completes it.
    PAYMENT_APPROVED = "payment_approved"
    # Money of a successful payment went back, or is contested, outside Hazina (Paynow's
    # `Refunded` and `Disputed`): the payment goes to review with the reason.
    PAYMENT_RETURNED = "payment_returned"
    PAYMENT_DISPUTED = "payment_disputed"
    # Understood and stored, but nothing for Hazina to change (e.g. an unpaid completed session).
    IGNORED = "ignored"
    # A messaging channel's facts (WhatsApp), applied to notifications, never to payments:
    # a message's delivery status (`provider_reference` its id, `raw_status` the status), and
    # a customer writing in (`provider_reference` their number), which opens the 24 h window.
    MESSAGE_STATUS = "message_status"
    MESSAGE_RECEIVED = "message_received"
    # A payout's state at its provider (services.payouts.settlement applies them).
    PAYOUT_PROCESSING = "payout_processing"
    PAYOUT_PAID = "payout_paid"
    PAYOUT_FAILED = "payout_failed"
    PAYOUT_REFUNDED = "payout_refunded"
    PAYOUT_REVERSED = "payout_reversed"


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One fact a provider reported, in Hazina's words.

    `dedup_key` is unique per fact at its provider (Stripe's event id; for providers without
    event ids, the reference and status), so a repeated notification is recognised.
    `payment_id` is Hazina's id when the provider echoes it back; otherwise `provider_reference`
    (the reference Hazina stored when it started the payment) finds the payment.
    """

    kind: ProviderEventKind
    dedup_key: str
    raw_type: str
    raw_status: str
    payment_id: str | None = None
    provider_reference: str | None = None
    # The provider's own id of the money movement, learned once the customer paid (Stripe's
    # PaymentIntent, ClickPesa's transaction id); refunds need it.
    provider_payment_reference: str | None = None
    # As reported, in minor units; None when the provider did not say.
    amount: int | None = None
    currency: str | None = None
    occurred_at: datetime | None = None
    refund_id: str | None = None
    provider_refund_reference: str | None = None
    message: str | None = None
    # False when nothing authenticated the report (a ClickPesa account without a checksum key):
    # Hazina then asks the provider instead of believing it.
    confirmed: bool = True
    # Hazina's payout id, for the PAYOUT_* kinds.
    payout_id: str | None = None


def event_to_json(event: ProviderEvent) -> dict[str, Any]:
    """Stored with the inbound event, so a replay needs neither the body's signature nor time."""
    # Field by field: every value is a string, number or None but the time (asdict would
    # deep-copy each one, and this runs for every notification).
    data = {name: getattr(event, name) for name in _EVENT_FIELDS}
    data["kind"] = event.kind.value
    data["occurred_at"] = None if event.occurred_at is None else event.occurred_at.isoformat()
    return data


_EVENT_FIELDS = tuple(f.name for f in fields(ProviderEvent))


def event_from_json(data: dict[str, Any]) -> ProviderEvent:
    occurred_at = data.get("occurred_at")
    return ProviderEvent(
        **{
            **data,
            "kind": ProviderEventKind(data["kind"]),
            "occurred_at": None if occurred_at is None else datetime.fromisoformat(occurred_at),
        }
    )


# Dedup keys of the reports Hazina makes itself start with it; provider event ids never do.
OWN_REPORT_PREFIX = "hazina:"


def refuse_own_namespace(reports: Sequence[ProviderEvent]) -> None:
    """A notification's reports may not use Hazina's own dedup keys: whoever holds an
    account's signing key chooses its event ids, and one named like Hazina's final check would
    pre-empt it. Raises ValueError (a malformed notification)."""
    for report in reports:
        if report.dedup_key.startswith(OWN_REPORT_PREFIX):
            raise ValueError(f"event id {report.dedup_key!r} is in Hazina's own namespace")


def own_report(
    kind: ProviderEventKind,
    reason: str,
    payment_id: str,
    *,
    refund_id: str | None = None,
    message: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
) -> ProviderEvent:
    """A fact Hazina establishes itself (the sandbox's outcome, an attempt it ended, a check it
    gave up on), applied like a provider's report. One per `reason` and payment (or refund)."""
    return ProviderEvent(
        kind=kind,
        dedup_key=f"{OWN_REPORT_PREFIX}{reason}:{refund_id or payment_id}",
        raw_type="hazina",
        raw_status=reason,
        payment_id=payment_id,
        refund_id=refund_id,
        message=message,
        amount=amount,
        currency=currency,
    )


# How the customer pays: the provider's hosted page (or a push), or the merchant's own page
# confirming with a client secret (`"flow": "payment_intent"`, providers with `CLIENT_SECRET`).
HOSTED_FLOW = "checkout"
CLIENT_SECRET_FLOW = "payment_intent"  # noqa: S105 (a flow, not a secret)


def approval_report(
    payment_id: str | None, provider_reference: str, raw_type: str
) -> ProviderEvent:
    """The customer approved the provider's order `provider_reference` (`APPROVAL` providers).
    One key per order, whoever says so first (the provider's webhook, a status query, the
    customer's return), so the payment is completed once."""
    return ProviderEvent(
        kind=ProviderEventKind.PAYMENT_APPROVED,
        dedup_key=f"approved:{provider_reference}",
        raw_type=raw_type,
        raw_status="APPROVED",
        payment_id=payment_id,
        provider_reference=provider_reference,
    )


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """What an adapter needs to start collecting one payment."""

    payment_id: str
    order_id: str
    amount: int
    currency: str
    description: str
    # Where a redirect flow sends the customer back to (the hosted checkout's pages).
    success_url: str
    cancel_url: str
    customer_phone: str | None = None
    customer_email: str | None = None
    # False: only authorise now; the merchant captures later (providers with `CAPTURE`).
    capture: bool = True
    flow: str = "checkout"  # HOSTED_FLOW or CLIENT_SECRET_FLOW
    # The payment method asked for, for providers serving several (Paynow's `ecocash`…).
    method: str = ""
    # Where the provider posts this payment's notifications when it takes a URL per payment
    # (Paynow's `resulturl`): this account's `/hooks/{provider}/…`.
    notify_url: str = ""


@dataclass(frozen=True, slots=True)
class CaptureStart:
    """Capturing `amount` of an authorised payment (at most what was authorised)."""

    payment_id: str
    provider_reference: str | None
    provider_payment_reference: str | None
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class StartedPayment:
    provider_reference: str
    # What the customer must do next: {"type": "redirect", "url": …},
    # {"type": "ussd_push", "phone": …, "message": …}.
    next_action: dict[str, Any] = field(default_factory=dict)
    # The provider's own reference, when its start answer already gives one (Paynow's).
    provider_payment_reference: str | None = None


@dataclass(frozen=True, slots=True)
class RefundStart:
    refund_id: str
    payment_id: str
    provider_reference: str | None
    provider_payment_reference: str | None
    amount: int
    currency: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StartedRefund:
    provider_refund_reference: str
    # True when the provider confirmed the money went back; otherwise a webhook will say so.
    succeeded: bool


@dataclass(frozen=True, slots=True)
class ProviderAccess:
    """One account's decrypted credentials, handed to an adapter for one call and not kept.

    `account_id` is None for the deployment-wide default account configured by environment.
    """

    provider: str
    account_id: str | None
    mode: str
    secrets: dict[str, str]
    # What the account holds that is not secret (a generic gateway's redirect URL template).
    settings: dict[str, str] = field(default_factory=dict)

    def secret(self, name: str) -> str | None:
        return self.secrets.get(name) or None

    def __repr__(self) -> str:  # never let a secret reach a log line through a repr
        return f"ProviderAccess({self.provider!r}, {self.account_id!r}, mode={self.mode!r})"


class InvalidSignature(Exception):
    """The notification's signature (or checksum) did not verify: it is stored and never applied."""


class ProviderFailure(Exception):
    """The provider refused or could not be reached; `description` is safe to show a merchant."""

    def __init__(self, description: str, *, retryable: bool = False) -> None:
        super().__init__(description)
        self.description = description
        self.retryable = retryable
