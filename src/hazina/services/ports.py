"""What the services need from the outside world, as Protocols the adapters implement."""

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from hazina.domain.payouts import Bank, PayoutQuote, PayoutStart
from hazina.domain.providers import (
    Capability,
    CaptureStart,
    CredentialFields,
    PaymentStart,
    ProviderAccess,
    ProviderEvent,
    RefundStart,
    StartedPayment,
    StartedRefund,
)
from hazina.domain.webhooks import AttemptOutcome, WebhookMessage


class SimulatedProcessor(Protocol):
    """The sandbox's stand-in for a payment network (methods `upi` and `card`)."""

    async def settle(self, method: str) -> bool:
        """Take as long as the simulated network would, then say whether the payment succeeded."""
        ...

    async def settle_refund(self) -> None:
        """Take as long as the simulated network needs to return a refund's money."""
        ...


class WebhookSender(Protocol):
    """Signs and POSTs one webhook attempt; never raises for what the receiver or network did."""

    async def send(self, message: WebhookMessage) -> AttemptOutcome: ...

    async def aclose(self) -> None: ...


class PaymentProvider(Protocol):
    """One payment provider (DESIGN.md section 6). Calls a provider cannot do raise
    `ProviderFailure`; the registry reads `capabilities` first so that seldom happens."""

    name: str
    # The payment `method` values this provider serves.
    methods: tuple[str, ...]
    # The currencies it collects, so the checkout offers it only for orders in one of them;
    # None: any (it converts, or refuses at the start).
    currencies: frozenset[str] | None
    capabilities: frozenset[Capability]
    # The credentials an account of this provider holds (all required ones must be set).
    credentials: CredentialFields

    async def start_payment(
        self, access: ProviderAccess, start: PaymentStart
    ) -> StartedPayment: ...

    def parse_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> list[ProviderEvent]:
        """Verify on the raw bytes (raise `InvalidSignature`), then normalise. Unknown types
        come back as an `IGNORED` event so they are stored and acknowledged."""
        ...

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        """The payment's state at the provider now, for reconciliation; None when unknown."""
        ...

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund: ...

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        """End an attempt the customer can still complete (`CANCEL` providers); raise
        `ProviderFailure` when the provider refuses, e.g. because it was paid meanwhile."""
        ...

    async def fetch_refund(
        self, access: ProviderAccess, refund_id: str, provider_refund_reference: str | None
    ) -> ProviderEvent | None:
        """A refund's outcome at the provider now (`REFUND_SUCCEEDED` or `REFUND_FAILED`), for
        reconciliation; None while it is still pending there, or when the provider cannot say."""
        ...

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        """Capture an authorised payment (`CAPTURE` providers); returns the amount captured.
        Asking again for the same payment captures nothing more."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ReferencedBeforeStart(Protocol):
    """A provider whose reference for a payment is known before it is started (EcoCash
    direct: the customer's number and a UUID of the payment id). It is stored with the pending
    payment, so a start whose answer was lost can still be looked up by it."""

    def reference_before_start(self, payment_id: str, phone: str | None) -> str | None:
        """The reference `start_payment` will return; None if the start will be refused."""
        ...


class PayoutProvider(Protocol):
    """Sends money out (services.payouts). `fetch_payout` is the source of truth: a payout
    whose start was uncertain is asked about, never sent again."""

    name: str
    # It sends whole major units only (ClickPesa): a scheduled payout rounds its balance down
    # (domain.payouts.sendable), the cents stay on the account.
    whole_units: bool

    async def preview(self, access: ProviderAccess, start: PayoutStart) -> PayoutQuote:
        """The fee for sending it; `ProviderFailure` for a destination the provider refuses."""
        ...

    async def create(self, access: ProviderAccess, start: PayoutStart) -> ProviderEvent:
        """Send it. Answers the provider's state of the payout (a PAYOUT_* report); a
        `ProviderFailure` that is `retryable` leaves it unknown whether the provider took it."""
        ...

    async def fetch_payout(
        self, access: ProviderAccess, start: PayoutStart
    ) -> ProviderEvent | None:
        """Its state at the provider now; None when the provider never heard of it."""
        ...

    async def banks(self, access: ProviderAccess) -> list[Bank]:
        """The banks a bank payout may go to (empty: the provider does not say)."""
        ...


@runtime_checkable
class ApprovalCompleter(Protocol):
    """A provider whose customer approves a payment that Hazina then completes (`APPROVAL`:
    PayPal captures, or authorises, an approved order)."""

    async def complete_approved(
        self, access: ProviderAccess, payment_id: str, provider_reference: str, *, capture: bool
    ) -> ProviderEvent:
        """Take (or, `capture` False, authorise) the approved payment, idempotently per
        payment, and report its outcome; a payment not approved yet raises `ProviderFailure`."""
        ...


@runtime_checkable
class WebhookPreparer(Protocol):
    """A provider whose notifications need something from the network before `parse_webhook`
    can verify them synchronously (PayPal's signing certificate)."""

    async def prepare_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> None:
        """Fetch (or find cached) what verifying needs; `InvalidSignature` when the
        notification names a source it must not be trusted from, `ProviderFailure` when the
        provider could not be reached (the notification is then answered 500, to be resent)."""
        ...


class SecretBox(Protocol):
    """The credentials vault: authenticated encryption bound to where a secret belongs.

    `context` (merchant, provider, field) is authenticated with the ciphertext, so a token
    copied into another row does not decrypt."""

    def encrypt(self, plaintext: str, context: str) -> str: ...

    def decrypt(self, token: str, context: str) -> str:
        """Raise `ValueError` for an unknown key id, a tampered token or the wrong context."""
        ...

    def is_current(self, token: str) -> bool:
        """Whether the token was sealed with the newest key (rotation skips those)."""
        ...
