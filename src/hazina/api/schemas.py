"""Request bodies. Amounts are strict integers of minor units: a float is refused, never rounded."""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from hazina.services.orders import NewOrder
from hazina.services.payments import CardDetails, NewPayment
from hazina.services.refunds import NewRefund
from hazina.services.reviews import Resolution


def refuse_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in text: refuse it here, alike on every database."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(refuse_nul)]


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    amount: StrictInt
    currency: Annotated[Text, Field(max_length=3)] = "INR"
    receipt: Annotated[Text | None, Field(max_length=255)] = None
    notes: dict[str, Any] | None = None

    def to_new_order(self) -> NewOrder:
        return NewOrder(
            amount=self.amount, currency=self.currency, receipt=self.receipt, notes=self.notes
        )


class CardIn(BaseModel):
    number: Annotated[Text, Field(max_length=40)]
    expiry_month: str | int
    expiry_year: str | int
    cvv: Annotated[str, Field(max_length=4, pattern=r"^[0-9]{3,4}$")]
    holder_name: Annotated[Text, Field(min_length=1, max_length=255)]


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: Annotated[Text, Field(max_length=64)]
    method: Annotated[Text, Field(max_length=20)]
    vpa: Annotated[Text | None, Field(max_length=255)] = None
    card: CardIn | None = None
    # Provider methods: with a phone number ClickPesa pushes a USSD prompt to it.
    phone: Annotated[Text | None, Field(max_length=20)] = None
    email: Annotated[Text | None, Field(max_length=255)] = None
    # False: authorise now, capture later with POST /api/v1/payments/{id}/capture.
    capture: StrictBool = True

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
        )


class CaptureRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    amount: StrictInt


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    amount: StrictInt
    reason: str | None = None

    def to_new_refund(self) -> NewRefund:
        return NewRefund(amount=self.amount, reason=self.reason)


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # accept: keep the money (the payment succeeds); refund: send back all it received.
    action: Resolution
