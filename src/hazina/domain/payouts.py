"""Payouts: where money goes, the states a payout moves through, and what each move does to the
reservation that holds its money on the ledger.

`pending` (reserved, not yet accepted by the provider) → `processing` (the provider accepted it,
or its answer was uncertain) → `paid` | `failed`; a `paid` payout can later be `refunded` or
`reversed` (the money came back). A pending payout can be `canceled`. Nothing moves backwards: a
report of an earlier state is recorded and changes nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hazina.domain.currencies import exponent


class PayoutStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    REVERSED = "reversed"


FINAL = frozenset(
    {PayoutStatus.FAILED, PayoutStatus.CANCELED, PayoutStatus.REFUNDED, PayoutStatus.REVERSED}
)
# Still moving at the provider: reconciliation keeps asking about these.
OPEN = frozenset({PayoutStatus.PENDING, PayoutStatus.PROCESSING})
# Final with the reservation voided: as far as the ledger knows, the money never left.
RELEASED = frozenset({PayoutStatus.FAILED, PayoutStatus.CANCELED})


class LedgerMove(StrEnum):
    """What a step does to the payout's pending ledger transfer."""

    NONE = "none"
    POST = "post"  # the money left: the reservation becomes a posted transfer
    VOID = "void"  # the money never left: the reservation is released
    RETURN = "return"  # the money came back after it left: a reversing transfer


# Each allowed step and its ledger move. Whatever is not listed is refused.
_STEPS: dict[tuple[PayoutStatus, PayoutStatus], LedgerMove] = {
    (PayoutStatus.PENDING, PayoutStatus.PROCESSING): LedgerMove.NONE,
    (PayoutStatus.PENDING, PayoutStatus.FAILED): LedgerMove.VOID,
    (PayoutStatus.PENDING, PayoutStatus.CANCELED): LedgerMove.VOID,
    (PayoutStatus.PROCESSING, PayoutStatus.PAID): LedgerMove.POST,
    (PayoutStatus.PROCESSING, PayoutStatus.FAILED): LedgerMove.VOID,
    (PayoutStatus.PAID, PayoutStatus.REFUNDED): LedgerMove.RETURN,
    (PayoutStatus.PAID, PayoutStatus.REVERSED): LedgerMove.RETURN,
}
# The states a report can name, in the order a payout passes through them: a report of a later
# state implies the earlier ones (a status query answering REVERSED for a payout Hazina still
# holds `processing` means it was paid, then reversed).
_ROUTE = (PayoutStatus.PENDING, PayoutStatus.PROCESSING, PayoutStatus.PAID)


@dataclass(frozen=True, slots=True)
class Step:
    target: PayoutStatus
    ledger: LedgerMove


def steps_to(current: PayoutStatus, reported: PayoutStatus) -> list[Step]:
    """The steps that take a payout from `current` to what a report says, each with its ledger
    move; empty when the report is stale, repeated or would move the payout backwards."""
    if current == reported or current in FINAL:
        return []
    path: list[PayoutStatus] = []
    if reported in (PayoutStatus.REFUNDED, PayoutStatus.REVERSED):
        path = [*_ROUTE[_ROUTE.index(current) + 1 :], reported] if current in _ROUTE else []
    elif reported == PayoutStatus.PAID and current == PayoutStatus.PENDING:
        path = [PayoutStatus.PROCESSING, PayoutStatus.PAID]
    else:
        path = [reported]
    steps: list[Step] = []
    state = current
    for target in path:
        move = _STEPS.get((state, target))
        if move is None:
            return []
        steps.append(Step(target, move))
        state = target
    return steps


def paid_after_release(current: PayoutStatus, reported: PayoutStatus) -> bool:
    """A report that the money left for a payout whose money Hazina gave back to the account:
    no step fits (nothing moves backwards), and dropping it would hide that the account holds
    money already paid out. A human must recover it (`payout.review_required`). A refund or a
    reversal of such a payout is not one: the money left and came back, as the ledger says."""
    return current in RELEASED and reported == PayoutStatus.PAID


def sendable(amount: int, currency: str, *, whole_units: bool) -> int:
    """The most of `amount` (minor units) a provider can send: for one that pays whole major
    units only (ClickPesa), rounded down to them (100_050 TZS → 100_000)."""
    if not whole_units:
        return amount
    unit: int = 10 ** exponent(currency)
    return amount - amount % unit


class DestinationType(StrEnum):
    MOBILE_MONEY = "mobile_money"
    BANK = "bank"


class TransferType(StrEnum):
    ACH = "ACH"
    RTGS = "RTGS"


@dataclass(frozen=True, slots=True)
class MobileMoney:
    phone: str  # E.164

    @property
    def masked(self) -> str:
        return f"•••• {self.phone[-4:]}"

    def to_json(self) -> dict[str, str]:
        return {"type": DestinationType.MOBILE_MONEY.value, "phone": self.phone}


@dataclass(frozen=True, slots=True)
class BankAccount:
    account_number: str
    account_name: str
    bic: str
    transfer_type: TransferType

    @property
    def masked(self) -> str:
        return f"{self.bic} •••• {self.account_number[-4:]}"

    def to_json(self) -> dict[str, str]:
        return {
            "type": DestinationType.BANK.value,
            "account_number": self.account_number,
            "account_name": self.account_name,
            "bic": self.bic,
            "transfer_type": self.transfer_type.value,
        }


Destination = MobileMoney | BankAccount


def destination_from_json(data: dict[str, str]) -> Destination:
    """A destination as stored (already validated when the payout was created)."""
    if data["type"] == DestinationType.MOBILE_MONEY:
        return MobileMoney(data["phone"])
    transfer_type = TransferType(data["transfer_type"])
    return BankAccount(data["account_number"], data["account_name"], data["bic"], transfer_type)


def masked_destination(data: dict[str, str]) -> dict[str, str]:
    """What the API and the dashboard show: the type, the bank, the last four digits."""
    destination = destination_from_json(data)
    shown = {"type": data["type"], "masked": destination.masked}
    if isinstance(destination, BankAccount):
        shown |= {"bic": destination.bic, "account_name": destination.account_name}
    return shown


@dataclass(frozen=True, slots=True)
class PayoutStart:
    """What a payout provider needs to quote or send one payout."""

    payout_id: str
    amount: int  # minor units, what the recipient receives
    currency: str
    destination: Destination


@dataclass(frozen=True, slots=True)
class PayoutQuote:
    """The provider's preview: its fee (minor units, on top of the amount) and who carries it."""

    fee: int
    channel: str


@dataclass(frozen=True, slots=True)
class Bank:
    bic: str
    name: str


class Interval(StrEnum):
    """How often an account is paid out automatically (Stripe Connect's payout schedules)."""

    MANUAL = "manual"
    DAILY = "daily"
    WEEKLY = "weekly"


def next_scheduled_run(interval: Interval, weekday: int | None, after: datetime) -> datetime | None:
    """The next midnight (UTC) strictly after `after` on which a schedule pays out: every day,
    or the `weekday` (0 = Monday) of each week; None for `manual`."""
    if interval == Interval.MANUAL:
        return None
    midnight = after.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    if interval == Interval.DAILY:
        return midnight
    assert weekday is not None
    return midnight + timedelta(days=(weekday - midnight.weekday()) % 7)
