"""Ledger rules with no storage: order terms (splits, platform fee, top-up), how a received
amount is shared between accounts, and how refunds reverse those shares.

Rounding, everywhere: a fee in basis points rounds half up to the minor unit
(`(amount * bps + 5000) // 10000`); a share scaled by a fraction rounds down; whatever rounding
leaves over belongs to the merchant's own revenue, so every split sums exactly to what moved.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hazina.domain.errors import BadRequest

BASIS_POINTS = 10_000
MAX_SPLITS = 20
# The method (and provider name) of a payment paid from a customer wallet: the ledger itself
# collects it, and the payment's `provider_reference` names the wallet.
CREDIT = "credit"


class AccountKind(StrEnum):
    # The merchant's own: one per currency, created by the ledger when first needed.
    REVENUE = "revenue"
    PLATFORM_FEE = "platform_fee"
    CLEARING = "clearing"  # money held at one provider (one per provider and currency)
    PAYOUTS_IN_TRANSIT = "payouts_in_transit"
    # What payout providers kept as their fee (one per provider and currency, #15).
    PAYOUT_FEES = "payout_fees"
    # Sub-accounts the merchant creates.
    CREATOR = "creator"
    CUSTOMER = "customer"


SUB_ACCOUNT_KINDS = (AccountKind.CREATOR, AccountKind.CUSTOMER)


class Bucket(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    RESERVED = "reserved"


class Purpose(StrEnum):
    TOP_UP = "top_up"


def basis_points_fee(amount: int, bps: int) -> int:
    """The fee of `bps` basis points of `amount`, rounded half up to the minor unit."""
    return (amount * bps + BASIS_POINTS // 2) // BASIS_POINTS


@dataclass(frozen=True, slots=True)
class Split:
    account_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """What a paid order owes whom, besides the merchant (stored as `orders.ledger_terms`)."""

    splits: tuple[Split, ...] = ()
    platform_fee: int = 0
    # The fee as asked, when asked in basis points (shown back; `platform_fee` is what counts).
    platform_fee_bps: int | None = None
    purpose: Purpose | None = None
    customer_account_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "splits": [{"account_id": s.account_id, "amount": s.amount} for s in self.splits],
            "platform_fee": self.platform_fee,
            "platform_fee_bps": self.platform_fee_bps,
            "purpose": None if self.purpose is None else self.purpose.value,
            "customer_account_id": self.customer_account_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "OrderTerms":
        purpose = data.get("purpose")
        return cls(
            splits=tuple(Split(s["account_id"], int(s["amount"])) for s in data["splits"]),
            platform_fee=int(data["platform_fee"]),
            platform_fee_bps=data.get("platform_fee_bps"),
            purpose=None if purpose is None else Purpose(purpose),
            customer_account_id=data.get("customer_account_id"),
        )


def order_terms(
    amount: int,
    splits: Sequence[Split],
    *,
    platform_fee: int | None,
    platform_fee_bps: int | None,
    purpose: str | None,
    customer_account_id: str | None,
) -> OrderTerms | None:
    """Validated terms for an order of `amount`, or None for a plain order. The accounts
    themselves (this merchant's, this mode's, this currency's) are checked by the caller."""
    if purpose is not None and purpose != Purpose.TOP_UP:
        raise BadRequest("purpose must be top_up")
    if purpose == Purpose.TOP_UP:
        if customer_account_id is None:
            raise BadRequest("a top_up order needs customer_account_id")
        if splits or platform_fee is not None or platform_fee_bps is not None:
            raise BadRequest("a top_up order takes no splits or platform_fee")
        return OrderTerms(purpose=Purpose.TOP_UP, customer_account_id=customer_account_id)
    if customer_account_id is not None:
        raise BadRequest("customer_account_id is only for purpose top_up")
    if platform_fee is not None and platform_fee_bps is not None:
        raise BadRequest("give platform_fee or platform_fee_bps, not both")
    if len(splits) > MAX_SPLITS:
        raise BadRequest(f"at most {MAX_SPLITS} splits")
    seen: set[str] = set()
    for split in splits:
        if split.amount <= 0:
            raise BadRequest("each split amount must be a positive integer")
        if split.account_id in seen:
            raise BadRequest(f"account {split.account_id} appears twice in splits")
        seen.add(split.account_id)
    if platform_fee_bps is not None and not 0 <= platform_fee_bps <= BASIS_POINTS:
        raise BadRequest(f"platform_fee_bps must be between 0 and {BASIS_POINTS}")
    if platform_fee is not None and platform_fee < 0:
        raise BadRequest("platform_fee must not be negative")
    fee = basis_points_fee(amount, platform_fee_bps) if platform_fee_bps is not None else 0
    fee = platform_fee if platform_fee is not None else fee
    if sum(split.amount for split in splits) + fee > amount:
        raise BadRequest("splits and platform_fee add up to more than the order amount")
    if not splits and not fee and platform_fee_bps is None and platform_fee is None:
        return None
    return OrderTerms(tuple(splits), fee, platform_fee_bps)


@dataclass(frozen=True, slots=True)
class Shares:
    """How one received amount is shared: each creator's, the platform fee, and the merchant's
    remainder. Always sums to `received`."""

    creators: tuple[Split, ...]
    fee: int
    remainder: int


def share(received: int, order_amount: int, terms: OrderTerms | None) -> Shares:
    """The shares of `received` for an order of `order_amount`. Less received (a payment
    accepted on review): every share shrinks in proportion, rounded down; more: the excess is
    the merchant's."""
    if terms is None or not (terms.splits or terms.platform_fee):
        return Shares((), 0, received)
    if received >= order_amount:
        creators = terms.splits
        fee = terms.platform_fee
    else:
        creators = tuple(
            Split(s.account_id, s.amount * received // order_amount) for s in terms.splits
        )
        fee = terms.platform_fee * received // order_amount
    taken = sum(s.amount for s in creators) + fee
    return Shares(creators, fee, received - taken)


def reversal(part: int, charged: int, before: int, after: int) -> int:
    """What of `part` (one account's share of a `charged` amount) refunds moving the charge's
    reversed total from `before` to `after` take back. A function of the totals only, so
    however a refund is cut into pieces (or failed and restored) the share reversed is
    `floor(part * reversed / charged)`, and a full refund takes back exactly `part`. Refunds
    beyond what was charged take nothing more from anyone but the merchant."""
    before, after = min(before, charged), min(after, charged)
    return part * after // charged - part * before // charged
