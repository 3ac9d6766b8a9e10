"""Request bodies and list parameters. Amounts are strict integers of minor units: a float is
refused, never rounded. Every body is bounded: nesting (MAX_JSON_DEPTH), text without NUL, notes
as the big gateways limit them."""

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from hazina.domain.ledger import Split
from hazina.services.ledger.accounts import NewAccount
from hazina.services.orders import NewOrder
from hazina.services.payments import CardDetails, NewPayment
from hazina.services.payouts.creation import NewPayout
from hazina.services.payouts.schedules import NewSchedule
from hazina.services.refunds import NewRefund
from hazina.services.reviews import Resolution


def refuse_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in text: refuse it here, alike on every database."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(refuse_nul)]

# Lists: `limit` 1-100; `offset` up to what a 64-bit OFFSET holds on both databases.
PageLimit = Annotated[int, Query(ge=1, le=100)]
PageOffset = Annotated[int, Query(ge=0, le=2**63 - 1)]

# The top-level object or array is level 1. Deeper bodies than this are refused whole, whatever
# field the nesting hides in (ignored fields too): no request needs more than a few levels.
MAX_JSON_DEPTH = 32


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether containers in `value` nest past `limit` levels; iterative, so never recursion."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return True
        children = container.values() if isinstance(container, dict) else container
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class Body(BaseModel):
    """A JSON request body: unknown fields ignored, nesting bounded."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _bounded_depth(cls, data: Any) -> Any:
        if _nested_deeper_than(data, MAX_JSON_DEPTH):
            raise ValueError(f"Request body nests deeper than {MAX_JSON_DEPTH} levels")
        return data


# An order's notes, bounded as the big gateways bound them: at most 15 keys of at most 40
# characters; a text value at most 256 characters, any other value at most 256 as compact JSON.
NOTES_MAX_KEYS = 15
NOTE_KEY_MAX_LENGTH = 40
NOTE_VALUE_MAX_LENGTH = 256


def _texts(value: Any) -> Iterator[str]:
    """Every string inside a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def check_notes(notes: dict[str, Any]) -> dict[str, Any]:
    if len(notes) > NOTES_MAX_KEYS:
        raise ValueError(f"at most {NOTES_MAX_KEYS} keys")
    for key, value in notes.items():
        if len(key) > NOTE_KEY_MAX_LENGTH:
            raise ValueError(f"keys must be at most {NOTE_KEY_MAX_LENGTH} characters")
        if not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if len(value) > NOTE_VALUE_MAX_LENGTH:
            raise ValueError(f"values must be at most {NOTE_VALUE_MAX_LENGTH} characters")
    # Bounded by now (15 x 256 characters), so walking it is cheap.
    if any("\x00" in text for text in _texts(notes)):
        raise ValueError("must not contain NUL characters")
    return notes


Notes = Annotated[dict[str, Any], AfterValidator(check_notes)]


class SplitIn(Body):
    account_id: Annotated[Text, Field(max_length=64)]
    amount: StrictInt


class OrderCreate(Body):
    amount: StrictInt
    currency: Annotated[Text, Field(max_length=3)] = "INR"
    receipt: Annotated[Text | None, Field(max_length=255)] = None
    notes: Notes | None = None
    # #14 ledger (domain.ledger.order_terms): shares for creator accounts and a platform fee (an
    # amount, or basis points rounded half up), or a top-up of a customer wallet.
    splits: Annotated[list[SplitIn], Field(max_length=20)] = []
    platform_fee: StrictInt | None = None
    platform_fee_bps: StrictInt | None = None
    purpose: Annotated[Text | None, Field(max_length=20)] = None
    customer_account_id: Annotated[Text | None, Field(max_length=64)] = None

    def fingerprint_body(self) -> dict[str, Any]:
        """The body as idempotency compares it: the ledger fields only when given, so a key
        stored before they existed keeps its fingerprint."""
        body = self.model_dump(mode="json")
        ledger = ("splits", "platform_fee", "platform_fee_bps", "purpose", "customer_account_id")
        return {
            name: value
            for name, value in body.items()
            if name not in ledger or value not in (None, [])
        }

    def to_new_order(self) -> NewOrder:
        return NewOrder(
            amount=self.amount,
            currency=self.currency,
            receipt=self.receipt,
            notes=self.notes,
            splits=tuple(Split(split.account_id, split.amount) for split in self.splits),
            platform_fee=self.platform_fee,
            platform_fee_bps=self.platform_fee_bps,
            purpose=self.purpose,
            customer_account_id=self.customer_account_id,
        )


class AccountCreate(Body):
    kind: Annotated[Text, Field(max_length=30)]
    currency: Annotated[Text, Field(max_length=3)]
    name: Annotated[Text | None, Field(max_length=255)] = None
    reference: Annotated[Text | None, Field(max_length=255)] = None
    notes: Notes | None = None

    def to_new_account(self) -> NewAccount:
        return NewAccount(self.kind, self.currency, self.name, self.reference, self.notes)


class LedgerSettingsUpdate(Body):
    keep_fees_on_refunds: StrictBool


class CardIn(BaseModel):
    number: Annotated[Text, Field(max_length=40)]
    expiry_month: Text | int
    expiry_year: Text | int
    cvv: Annotated[str, Field(max_length=4, pattern=r"^[0-9]{3,4}$")]
    holder_name: Annotated[Text, Field(min_length=1, max_length=255)]


class PaymentCreate(Body):
    order_id: Annotated[Text, Field(max_length=64)]
    method: Annotated[Text, Field(max_length=20)]
    vpa: Annotated[Text | None, Field(max_length=255)] = None
    card: CardIn | None = None
    # Provider methods: with a phone number ClickPesa pushes a USSD prompt to it.
    phone: Annotated[Text | None, Field(max_length=20)] = None
    email: Annotated[Text | None, Field(max_length=255)] = None
    # False: authorise now, capture later with POST /api/v1/payments/{id}/capture.
    capture: StrictBool = True
    # Method `credit`: the customer account (wallet) paying the order.
    account_id: Annotated[Text | None, Field(max_length=64)] = None
    # "payment_intent" (method stripe): a client secret for Stripe Elements on the merchant's
    # own page instead of the hosted checkout.
    flow: Literal["checkout", "payment_intent"] | None = None

    def to_new_payment(self) -> NewPayment:
        card = None
        if self.card is not None:
            card = CardDetails(
                number=self.card.number,
                expiry_month=self.card.expiry_month,
                expiry_year=self.card.expiry_year,
                holder_name=self.card.holder_name,
            )
        return NewPayment(
            order_id=self.order_id,
            method=self.method,
            vpa=self.vpa,
            card=card,
            phone=self.phone,
            email=self.email,
            capture=self.capture,
            account_id=self.account_id,
            flow=self.flow,
        )


class CaptureRequest(Body):
    amount: StrictInt


class RefundCreate(Body):
    amount: StrictInt
    reason: Text | None = None

    def to_new_refund(self) -> NewRefund:
        return NewRefund(amount=self.amount, reason=self.reason)


class ReviewRequest(Body):
    # accept: keep the money (the payment succeeds); refund: send back all it received.
    action: Resolution


class PayoutDestination(Body):
    """`{"type": "mobile_money", "phone"}` or `{"type": "bank", "account_number",
    "account_name", "bic", "transfer_type"}`; checked and normalised by the payouts service."""

    type: Annotated[Text, Field(max_length=20)]
    phone: Annotated[Text | None, Field(max_length=32)] = None
    account_number: Annotated[Text | None, Field(max_length=34)] = None
    account_name: Annotated[Text | None, Field(max_length=100)] = None
    bic: Annotated[Text | None, Field(max_length=11)] = None
    transfer_type: Annotated[Text | None, Field(max_length=4)] = None


class PayoutCreate(Body):
    account_id: Annotated[Text, Field(max_length=64)]
    amount: StrictInt
    currency: Annotated[Text, Field(max_length=3)]
    destination: PayoutDestination
    provider: Annotated[Text | None, Field(max_length=20)] = None

    def to_new_payout(self) -> NewPayout:
        return NewPayout(
            account_id=self.account_id,
            amount=self.amount,
            currency=self.currency,
            destination=self.destination.model_dump(exclude_none=True),
            provider=self.provider,
        )


class PayoutScheduleSet(Body):
    interval: Annotated[Text, Field(max_length=10)]
    # 0 = Monday … 6 = Sunday; weekly schedules only.
    weekday: StrictInt | None = None
    minimum: StrictInt = 0
    destination: PayoutDestination | None = None

    def to_new_schedule(self) -> NewSchedule:
        destination = None
        if self.destination is not None:
            destination = self.destination.model_dump(exclude_none=True)
        return NewSchedule(self.interval, self.weekday, self.minimum, destination)
