"""Payments: creating an attempt, reading it, and settling sandbox payments in the worker."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.db.prepared import Prepared
from hazina.db.queue import complete_current_job, enqueue
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, ExpiredCard, NotFound
from hazina.domain.instruments import validate_card, validate_vpa
from hazina.domain.ledger import CREDIT
from hazina.domain.providers import ProviderEventKind, own_report
from hazina.domain.states import PaymentStatus
from hazina.services import resources
from hazina.services.attempts import add_payment, open_attempt
from hazina.services.idempotency import (
    IdempotencyRequest,
    StoredResponse,
    respond_once,
    stored_answer,
)
from hazina.services.ledger.credit import pay_with_credit
from hazina.services.lookups import OwnedLookup
from hazina.services.orders import find_public_order
from hazina.services.pages import Page, fetch_page
from hazina.services.ports import SimulatedProcessor
from hazina.services.provider_payments import (
    ProviderContext,
    ProviderPaymentRequest,
    end_other_attempts,
    start_provider_payment,
)
from hazina.services.registry import SANDBOX
from hazina.services.reporting.filters import PaymentFilter
from hazina.services.settlement import Scope, apply_report

SANDBOX_METHODS = ("upi", "card")
PAYMENTS = OwnedLookup(Payment, "Payment")
_payments = cast(Table, Payment.__table__)
_PUBLIC_PAYMENT = Prepared(select(_payments).where(_payments.c.id == bindparam("payment_id")))
PROCESS_PAYMENT = "process_payment"


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
    # False: authorise now, capture later (providers that can; the sandbox always can).
    capture: bool = True
    # Method `credit` (#14 ledger): the customer account (wallet) that pays.
    account_id: str | None = None
    # "payment_intent": a client secret for the merchant's own page (Stripe); None: hosted.
    flow: str | None = None

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
            # Only when asked for: a key stored before `capture` existed keeps its fingerprint.
            **({} if self.capture else {"capture": False}),
            **({} if self.account_id is None else {"account_id": self.account_id}),
            **({} if self.flow is None else {"flow": self.flow}),
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
    livemode: bool,
    new: NewPayment,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    max_attempts: int,
) -> StoredResponse:
    """Start a payment: the sandbox's methods here (test mode only), every other method at its
    provider.

    The request is validated before the order is looked at, so a bad VPA or card always gets
    its own code. A paid order takes no more payments. An order may have several attempts in
    flight: a customer who abandoned one can always start another, and the attempts a provider
    can end are ended (`end_other_attempts`); a late success of any of them is settled as a
    duplicate, never a second fulfilment.
    """
    if new.method == CREDIT:
        return await pay_with_credit(
            db, merchant_id, new.order_id, new.account_id, idempotency, ttl
        )
    if not providers.registry.is_sandbox(new.method):
        request = ProviderPaymentRequest(
            new.order_id, new.method, new.phone, new.email, capture=new.capture, flow=new.flow
        )
        return await start_provider_payment(
            db, providers, merchant_id, livemode, request, idempotency, ttl
        )
    if livemode:
        live_methods = ", ".join(providers.registry.methods(livemode=True)) or "none configured"
        raise BadRequest(
            f"Method {new.method} is the sandbox's and exists only in test mode: live payments "
            f"use a provider method ({live_methods})"
        )
    if new.flow is not None:
        raise BadRequest(f'Method {new.method} has no "flow": omit it')
    try:
        instrument = _validate_instrument(new, utc_now().date())
    except ExpiredCard:
        # A card that expired since the first request: its replay still gets the stored
        # payment (a 400 would read as "no payment" and invite a second one).
        replayed = await stored_answer(db, merchant_id, idempotency)
        if replayed is None:
            raise
        return replayed
    # The new payment's id, when the order had earlier attempts that may need ending.
    retried_by: list[str] = []

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        order, retried = await open_attempt(session, merchant_id, new.order_id, new.method)
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
        if retried:
            retried_by.append(payment.id)
        return 201, resources.payment_created(payment)

    stored = await respond_once(db, merchant_id, idempotency, ttl, insert)
    if retried_by:  # created now (not replayed), after earlier attempts
        await end_other_attempts(db, providers, new.order_id, retried_by[0])
    return stored


@dataclass(frozen=True, slots=True)
class OrderOwner:
    merchant_id: uuid.UUID
    livemode: bool


async def find_order_owner(db: Database, order_id: str) -> OrderOwner:
    """The merchant twin behind a public (checkout) request, known only by its order."""
    order = await find_public_order(db, order_id)
    return OrderOwner(order.merchant_id, order.livemode)


async def get_payment(db: Database, merchant_id: uuid.UUID, payment_id: str) -> dict[str, Any]:
    return resources.payment_detail(await PAYMENTS.load(db, merchant_id, payment_id))


async def get_public_payment(db: Database, payment_id: str) -> dict[str, Any]:
    """What the checkout polls: any payment by its unguessable id, instrument details left out."""
    payment = await db.fetch_one(_PUBLIC_PAYMENT, {"payment_id": payment_id})
    if payment is None:
        raise NotFound("Payment not found")
    return resources.payment_public(payment)


async def list_payments(
    db: Database, merchant_id: uuid.UUID, filters: PaymentFilter, limit: int, offset: int
) -> Page:
    async with db.read() as session:
        return await fetch_page(
            session,
            Payment,
            filters.conditions(merchant_id),
            [Payment.created_at.desc(), Payment.id.desc()],
            resources.payment_detail,
            limit,
            offset,
        )


async def process_payment(db: Database, processor: SimulatedProcessor, payment_id: str) -> None:
    """The `process_payment` job: the sandbox's simulated network decides, and its answer is
    applied as a provider report through the one settlement path every provider takes. Safe
    to run twice: the report's receipt makes a second application a duplicate."""
    async with db.read() as session:
        payment = await session.get(Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.PENDING:
        return
    succeeded = await processor.settle(payment.method)
    await _apply_sandbox_report(db, payment, succeeded=succeeded)


async def give_up_payment(db: Database, payment_id: str) -> None:
    """A `process_payment` job out of attempts: the payment fails rather than stay pending."""
    async with db.read() as session:
        payment = await session.get(Payment, payment_id)
    if payment is not None:
        await _apply_sandbox_report(db, payment, succeeded=False)


async def _apply_sandbox_report(db: Database, payment: Payment, *, succeeded: bool) -> None:
    kind = ProviderEventKind.PAYMENT_SUCCEEDED if succeeded else ProviderEventKind.PAYMENT_FAILED
    report = own_report(
        kind, "sandbox", payment.id, amount=payment.amount, currency=payment.currency
    )
    scope = Scope(SANDBOX, payment.merchant_id, None, refundable=True)
    async with db.transaction() as session:
        await complete_current_job(session)
        await apply_report(session, scope, report, None)
