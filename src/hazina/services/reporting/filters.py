"""The one payment filter: the API's list, the Transactions page and its CSV export all read it.

A pydantic model so FastAPI documents each field as a query parameter (`Annotated[PaymentFilter,
Query()]`) and the pages validate the same query string with the same rules; either way a bad
value is a 400 that names the field and changes nothing.
"""

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from sqlalchemy import ColumnElement, or_, select

from hazina.db.models import Order, Payment
from hazina.domain.errors import BadRequest
from hazina.domain.states import PaymentStatus


def _blank_is_none(value: Any) -> Any:
    """An empty form field (`status=`) means "any", as leaving the parameter out does."""
    return None if isinstance(value, str) and not value.strip() else value


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _iso_day(value: Any) -> Any:
    """`2026-01-31` only: pydantic alone would also read `0` or `1700000000` as a day."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a day written YYYY-MM-DD")
    return value


Blank = BeforeValidator(_blank_is_none)
Stripped = BeforeValidator(_stripped)
# Constraints sit on the inner type: they hold for a given value, None is "not given".
Name = Annotated[
    Annotated[str, StringConstraints(max_length=32, pattern=r"^[a-z0-9_]+$")] | None,
    Stripped,
    Blank,
]
Search = Annotated[Annotated[str, StringConstraints(max_length=200)] | None, Stripped, Blank]
# Before-validators run last-listed first: a blank is None before the other checks see it.
Day = Annotated[date | None, BeforeValidator(_iso_day), Blank]
Amount = Annotated[Annotated[int, Field(ge=0, le=2**63 - 1)] | None, Blank]


class PaymentFilter(BaseModel):
    """Which payments: every given field narrows the list (all of them hold), none given is all."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Annotated[PaymentStatus | None, Blank] = None
    method: Name = None
    provider: Name = None
    # Whole UTC days, both ends included: `created_from=2026-01-01&created_to=2026-01-31`
    # is January.
    created_from: Day = None
    created_to: Day = None
    # Minor units, both ends included, compared with the payment's amount (not what was received).
    amount_min: Amount = None
    amount_max: Amount = None
    # A payment or order id or provider reference (exact), or part of the order's receipt or of
    # the customer's handle (the UPI VPA), case-insensitive.
    q: Search = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise ValueError("created_from must not be after created_to")
        if (
            self.amount_min is not None
            and self.amount_max is not None
            and self.amount_min > self.amount_max
        ):
            raise ValueError("amount_min must not exceed amount_max")
        return self

    def query(self) -> dict[str, str]:
        """The fields given, as query parameters: a page's links and its export carry the same."""
        return {name: str(value) for name, value in self.model_dump(exclude_none=True).items()}

    def conditions(self, merchant_id: uuid.UUID) -> list[ColumnElement[bool]]:
        """WHERE clauses on `payments`, the merchant's own first (every list is tenant-scoped)."""
        where: list[ColumnElement[bool]] = [Payment.merchant_id == merchant_id]
        if self.status is not None:
            where.append(Payment.status == self.status)
        if self.method is not None:
            where.append(Payment.method == self.method)
        if self.provider is not None:
            where.append(Payment.provider == self.provider)
        if self.created_from is not None:
            where.append(Payment.created_at >= _start_of(self.created_from))
        if self.created_to is not None and self.created_to < date.max:  # no day after the last
            where.append(Payment.created_at < _start_of(self.created_to + timedelta(days=1)))
        if self.amount_min is not None:
            where.append(Payment.amount >= self.amount_min)
        if self.amount_max is not None:
            where.append(Payment.amount <= self.amount_max)
        if self.q is not None:
            where.append(_search(merchant_id, self.q))
        return where


NO_FILTER = PaymentFilter()


def read_payment_filter(params: dict[str, str]) -> PaymentFilter:
    """A page's query string as a filter, or the API's 400 naming the first bad field."""
    try:
        return PaymentFilter.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise BadRequest(f"{field}: {first['msg']}" if field else first["msg"]) from None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _search(merchant_id: uuid.UUID, text: str) -> ColumnElement[bool]:
    receipts = select(Order.id).where(
        Order.merchant_id == merchant_id, Order.receipt.icontains(text, autoescape=True)
    )
    return or_(
        Payment.id == text,
        Payment.order_id == text,
        Payment.provider_reference == text,
        Payment.provider_payment_reference == text,
        Payment.vpa.icontains(text, autoescape=True),
        Payment.order_id.in_(receipts),
    )
