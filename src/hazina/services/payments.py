"""Payments: creating an attempt, reading it, and settling sandbox payments in the worker."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Order, Payment
from hazina.db.queue import complete_current_job, enqueue
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.events import EventType
from hazina.domain.instruments import validate_card, validate_vpa
from hazina.domain.states import OrderStatus, PaymentStatus
from hazina.services import resources
from hazina.services.attempts import add_payment, open_attempt
from hazina.services.events import record_event
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once
from hazina.services.pages import Page, fetch_page
from hazina.services.ports import SimulatedProcessor
from hazina.services.provider_payments import (
    ProviderContext,
    ProviderPaymentRequest,
    start_provider_payment,
)

SANDBOX_METHODS = ("upi", "card")
PROCESS_PAYMENT = "process_payment"
FAILURE_CODE = "PAYMENT_FAILED"
FAILURE_DESCRIPTION = "Payment processing failed"


@dataclass(frozen=True, slots=True)
class CardDetails:
    """A card as submitted. The CVV is checked for shape at the edge and never comes this far."""

    number: str
    expiry_month: str | int
    expiry_year: str | int
    holder_name: str


@dataclass(frozen=True, slots=True)
class NewPayment:
    order_id: str
    method: str
    vpa: str | None = None
    card: CardDetails | None = None
    # Provider methods: a phone number asks for a USSD push instead of a checkout page.
    phone: str | None = None
    email: str | None = None

    def fingerprint_body(self) -> dict[str, Any]:
        """The request as idempotency compares it: no card number or CVV, even hashed."""
        card = None
        if self.card is not None:
            card = {
                "last4": self.card.number[-4:],
                "expiry": [str(self.card.expiry_month), str(self.card.expiry_year)],
                "holder_name": self.card.holder_name,
            }
        return {
            "order_id": self.order_id,
            "method": self.method,
            "vpa": self.vpa,
            "card": card,
            "phone": self.phone,
            "email": self.email,
        }


@dataclass(frozen=True, slots=True)
class _Instrument:
    vpa: str | None = None
    card_network: str | None = None
    card_last4: str | None = None


def _validate_instrument(new: NewPayment, today: date) -> _Instrument:
    if new.method == "upi":
        if new.vpa is None:
            raise BadRequest("vpa is required for method upi")
        return _Instrument(vpa=validate_vpa(new.vpa))
    if new.method == "card":
        if new.card is None:
            raise BadRequest("card is required for method card")
        card = validate_card(new.card.number, new.card.expiry_month, new.card.expiry_year, today)
        return _Instrument(card_network=card.network, card_last4=card.last4)
    raise BadRequest(f"method must be one of: {', '.join(SANDBOX_METHODS)}")


async def create_payment(
    db: Database,
    providers: ProviderContext,
    merchant_id: uuid.UUID,
    new: NewPayment,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    max_attempts: int,
) -> StoredResponse:
    """Start a payment: the sandbox's methods here, every other method at its provider.

    An order has at most one payment in flight: while one is pending (or once one succeeded) a
    second is refused, so one order is never charged twice. The order row is locked first, so
    concurrent attempts on PostgreSQL queue behind each other and see each other's payment.
    """
    if not providers.registry.is_sandbox(new.method):
        request = ProviderPaymentRequest(new.order_id, new.method, new.phone, new.email)
        return await start_provider_payment(db, providers, merchant_id, request, idempotency, ttl)

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        order = await open_attempt(session, merchant_id, new.order_id)
        instrument = _validate_instrument(new, utc_now().date())
        payment = await add_payment(
            session,
            order,
            new.method,
            vpa=instrument.vpa,
            card_network=instrument.card_network,
            card_last4=instrument.card_last4,
        )
        await enqueue(
            session, PROCESS_PAYMENT, {"payment_id": payment.id}, max_attempts=max_attempts
        )
        return 201, resources.payment_created(payment)

    return await respond_once(db, merchant_id, idempotency, ttl, insert)


async def find_order_merchant(db: Database, order_id: str) -> uuid.UUID:
    """The merchant behind a public (checkout) request, known only by its order."""
    async with db.read() as session:
        merchant_id = await session.scalar(select(Order.merchant_id).where(Order.id == order_id))
    if merchant_id is None:
        raise NotFound("Order not found")
    return merchant_id


async def get_payment(db: Database, merchant_id: uuid.UUID, payment_id: str) -> dict[str, Any]:
    async with db.read() as session:
        payment = await session.scalar(
            select(Payment).where(Payment.id == payment_id, Payment.merchant_id == merchant_id)
        )
    if payment is None:
        raise NotFound("Payment not found")
    return resources.payment_detail(payment)


async def capture_payment(
    db: Database, merchant_id: uuid.UUID, payment_id: str, amount: int
) -> dict[str, Any]:
    """Mark a successful payment captured; capturing again answers the same 200 and changes nothing.

    The sandbox settles in full, so there is no authorised-but-uncaptured money to release: a
    smaller amount captures the payment as a whole (the contract leaves partial capture open and
    recommends a 200), a larger one is refused.
    """
    if amount <= 0:
        raise BadRequest("amount must be a positive integer")
    async with db.transaction() as session:
        payment = await session.scalar(
            select(Payment).where(Payment.id == payment_id, Payment.merchant_id == merchant_id)
        )
        if payment is None:
            raise NotFound("Payment not found")
        if payment.status != PaymentStatus.SUCCESS:
            raise BadRequest("Payment not in capturable state")
        if amount > payment.amount:
            raise BadRequest("Capture amount exceeds payment amount")
        if not payment.captured:
            # Conditional, so two concurrent captures touch the row (and updated_at) once.
            await session.execute(
                update(Payment)
                .where(Payment.id == payment_id, Payment.captured.is_(False))
                .values(captured=True, updated_at=utc_now())
                .execution_options(synchronize_session=False)
            )
            payment = await session.get_one(Payment, payment_id, populate_existing=True)
        return resources.payment_detail(payment)


async def get_public_payment(db: Database, payment_id: str) -> dict[str, Any]:
    async with db.read() as session:
        payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("Payment not found")
    return resources.payment_public(payment)


async def list_payments(db: Database, merchant_id: uuid.UUID, limit: int, offset: int) -> Page:
    async with db.read() as session:
        return await fetch_page(
            session,
            Payment,
            [Payment.merchant_id == merchant_id],
            [Payment.created_at.desc(), Payment.id.desc()],
            resources.payment_detail,
            limit,
            offset,
        )


async def process_payment(db: Database, processor: SimulatedProcessor, payment_id: str) -> None:
    """The `process_payment` job. Safe to run twice: only a `pending` payment is settled."""
    async with db.read() as session:
        payment = await session.get(Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.PENDING:
        return
    await _settle(db, payment_id, succeeded=await processor.settle(payment.method))


async def give_up_payment(db: Database, payment_id: str) -> None:
    """A `process_payment` job out of attempts: the payment fails rather than stay pending."""
    await _settle(db, payment_id, succeeded=False)


async def _settle(db: Database, payment_id: str, *, succeeded: bool) -> None:
    """Move a pending payment to its outcome with its event; a no-op if it was settled already."""
    outcome = PaymentStatus.SUCCESS if succeeded else PaymentStatus.FAILED
    error = (
        {} if succeeded else {"error_code": FAILURE_CODE, "error_description": FAILURE_DESCRIPTION}
    )
    async with db.transaction() as session:
        await complete_current_job(session)
        settled = await session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status == PaymentStatus.PENDING)
            .values(status=outcome, updated_at=utc_now(), **error)
            .execution_options(synchronize_session=False)
        )
        if not settled.rowcount:  # type: ignore[attr-defined]
            return  # another run settled it first
        payment = await session.get_one(Payment, payment_id, populate_existing=True)
        if succeeded:
            await session.execute(
                update(Order)
                .where(Order.id == payment.order_id)
                .values(status=OrderStatus.PAID, updated_at=utc_now())
                .execution_options(synchronize_session=False)
            )
        event_type = EventType.PAYMENT_SUCCESS if succeeded else EventType.PAYMENT_FAILED
        await record_event(
            session,
            payment.merchant_id,
            event_type,
            payment.id,
            resources.payment_event_data(payment),
        )
