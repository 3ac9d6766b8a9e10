"""Payments collected by a provider: starting them, and reconciling them when a webhook is late.

Starting is two steps around the provider call, which never runs inside a transaction (on
SQLite it would hold the only writer for a network round trip). First the payment is written
`pending` with its events and its reconciliation jobs, so whatever the provider later reports
has a payment to land on, even if Hazina crashes mid-call. Then the provider is asked, and
its reference and the customer's next action are stored with the idempotent response.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.db.queue import complete_current_job
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest, NotFound, ProviderError
from hazina.domain.gateways import gateway_name
from hazina.domain.phones import normalise_phone
from hazina.domain.providers import (
    CLIENT_SECRET_FLOW,
    HOSTED_FLOW,
    Capability,
    PaymentStart,
    ProviderEventKind,
    ProviderFailure,
    own_report,
)
from hazina.domain.states import PaymentStatus
from hazina.observability.metrics import counts_reconciliations
from hazina.services import resources
from hazina.services.attempts import add_payment, open_attempt
from hazina.services.idempotency import (
    IdempotencyRequest,
    StoredResponse,
    StoreResponse,
    respond_once,
)
from hazina.services.ports import PaymentProvider, ReferencedBeforeStart, SecretBox
from hazina.services.provider_access import access_for_merchant, access_for_payment
from hazina.services.provider_accounts import CredentialsUnreadable
from hazina.services.reconciliation import (
    RECONCILE_PAYMENT,
    checks_remaining,
    schedule_reconciliation,
)
from hazina.services.registry import SANDBOX, ProviderRegistry
from hazina.services.settlement import Scope, apply_report


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What provider payments need beyond the database."""

    registry: ProviderRegistry
    vault: SecretBox
    # Where the customer returns to after a redirect flow (the hosted checkout).
    base_url: str
    # Seconds after the start at which reconciliation asks the provider.
    reconcile_schedule: tuple[float, ...]
    # How long a start call can take, retries included: before then a payment without a
    # provider reference may still be starting, after it one the provider does not know of
    # never started.
    start_grace_seconds: float
    # Status queries due before `reconcile_schedule`, by provider: one that sends no
    # notification (EcoCash direct) is asked within seconds, as its customer waits.
    early_checks: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderPaymentRequest:
    order_id: str
    method: str
    phone: str | None
    email: str | None
    # False: authorise only; the merchant captures later (POST /api/v1/payments/{id}/capture).
    capture: bool = True
    # "payment_intent": a client secret for the merchant's own page (Capability.CLIENT_SECRET).
    flow: str | None = None


# Where a national number (`0712 345 678`) is dialled, per provider that takes a phone; a number
# with its country code (`+255…`) needs none. #16: one parser (domain.phones) for every phone.
PHONE_REGIONS = {"clickpesa": "TZ", "paynow": "ZW", "ecocash": "ZW"}


def checked_phone(raw: str | None, provider: str) -> str | None:
    """The customer's phone in E.164, or a 400 naming the field before anything is written.
    A provider without a country here (a generic gateway) gets the number as it was given."""
    region = PHONE_REGIONS.get(provider)
    if raw is None or not raw.strip() or region is None:
        return raw
    try:
        return normalise_phone(raw, region=region)
    except ValueError as error:
        raise BadRequest(f"phone: {error}") from None


async def start_provider_payment(
    db: Database,
    context: ProviderContext,
    merchant_id: uuid.UUID,
    livemode: bool,
    new: ProviderPaymentRequest,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
) -> StoredResponse:
    adapter = context.registry.for_method(new.method, livemode=livemode)
    new = replace(new, phone=checked_phone(new.phone, adapter.name))
    if not new.capture and Capability.CAPTURE not in adapter.capabilities:
        raise BadRequest(
            f"{adapter.name} cannot authorise a payment to capture it later: "
            f'omit "capture" (or set it to true) for method {new.method}'
        )
    if new.flow == CLIENT_SECRET_FLOW and Capability.CLIENT_SECRET not in adapter.capabilities:
        raise BadRequest(
            f'{adapter.name} has no "flow": "{CLIENT_SECRET_FLOW}": omit "flow" for method '
            f"{new.method}"
        )
    async with db.read() as session:
        access = await access_for_merchant(
            session,
            context.vault,
            context.registry,
            merchant_id,
            adapter.name,
            livemode=livemode,
            name=gateway_name(new.method) or "",
        )
    # The new payment's id, and whether its order had earlier attempts that may need ending.
    created: list[tuple[str, bool]] = []

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        order, retried = await open_attempt(session, merchant_id, new.order_id, new.method)
        payment = await add_payment(
            session,
            order,
            new.method,
            provider=adapter.name,
            provider_account_id=access.account_id,
            capture_method="automatic" if new.capture else "manual",
        )
        if isinstance(adapter, ReferencedBeforeStart):
            # A provider that sends no notification can only be asked, and asking may need
            # what the start's answer would have brought back (EcoCash: the customer's number).
            payment.provider_reference = adapter.reference_before_start(payment.id, new.phone)
        schedule = context.early_checks.get(adapter.name, ()) + context.reconcile_schedule
        await schedule_reconciliation(session, payment.id, schedule, final=True)
        created.append((payment.id, retried))
        return 201, resources.payment_created(payment)

    async def finish(body: dict[str, Any], store: StoreResponse) -> tuple[int, dict[str, Any]]:
        payment_id, retried = created[0]
        if retried:
            await end_other_attempts(db, context, new.order_id, payment_id)
        start = PaymentStart(
            payment_id=payment_id,
            order_id=new.order_id,
            amount=body["amount"],
            currency=body["currency"],
            description=f"Order {new.order_id}",
            success_url=f"{context.base_url}/{_return_page(adapter)}?payment_id={payment_id}",
            cancel_url=f"{context.base_url}/checkout?order_id={new.order_id}",
            customer_phone=new.phone,
            customer_email=new.email,
            capture=new.capture,
            flow=new.flow or HOSTED_FLOW,
            method=new.method,
            notify_url=f"{context.base_url}/hooks/{adapter.name}"
            + ("" if access.account_id is None else f"/{access.account_id}"),
        )
        try:
            started = await adapter.start_payment(access, start)
        except ProviderFailure as exc:
            if exc.retryable:
                # Down, slow or cut off: the provider may have started it all the same (a USSD
                # push already on the customer's phone). The payment stays pending until the
                # provider is asked what it knows; should it succeed, it is applied then. The
                # answer is kept under the Idempotency-Key, as Stripe keeps its 5xx: a retry
                # with the same key must not start (and push) the payment a second time.
                description = (
                    f"{exc.description} Payment {payment_id} stays pending until "
                    f"{adapter.name} confirms whether it started."
                )
                error = {"error": {"code": ProviderError.code, "description": description}}
                async with db.transaction() as session:
                    await schedule_reconciliation(
                        session, payment_id, (context.start_grace_seconds,)
                    )
                    await store(session, ProviderError.status, error)
                return ProviderError.status, error
            # It refused what it was sent (a phone number it cannot push to, say).
            await _fail_start(db, context, payment_id, exc.description)
            raise BadRequest(exc.description) from exc
        async with db.transaction() as session:
            payment = await session.get_one(Payment, payment_id)
            payment.provider_reference = started.provider_reference
            payment.next_action = started.next_action
            if started.provider_payment_reference is not None:
                payment.provider_payment_reference = started.provider_payment_reference
            payment.updated_at = utc_now()
            await session.flush()
            response = resources.payment_created(payment)
            await store(session, 201, response)
        return 201, response

    # A claim older than any start can take was left by a process that died mid-start.
    abandoned = timedelta(seconds=context.start_grace_seconds)
    return await respond_once(db, merchant_id, idempotency, ttl, insert, finish, abandoned)


def _return_page(adapter: PaymentProvider) -> str:
    """Where the provider sends the customer back: an `APPROVAL` provider's return also tells
    Hazina to complete the payment (services.approvals), then shows `/success`."""
    return "checkout/approved" if Capability.APPROVAL in adapter.capabilities else "success"


# What the final check treats as "never confirmed": still pending, approved but never captured,
# or a status the adapter cannot read (which says nothing, so must not keep it pending forever).
_UNRESOLVED = frozenset(
    {
        ProviderEventKind.PAYMENT_PENDING,
        ProviderEventKind.PAYMENT_APPROVED,
        ProviderEventKind.IGNORED,
    }
)


async def end_other_attempts(
    db: Database, context: ProviderContext, order_id: str, current_payment_id: str
) -> None:
    """A customer started another attempt: end the order's other attempts still open at a
    provider that allows it (Stripe expires the Checkout Session), so an abandoned page can
    neither lock the order nor take its money later. Where the provider refuses (it was paid
    meanwhile) or cannot end one (a USSD push), the attempt stays pending and is reconciled;
    should it succeed after all, the settlement rules refund or review the duplicate."""
    async with db.read() as session:
        others = list(
            await session.scalars(
                select(Payment).where(
                    Payment.order_id == order_id,
                    Payment.status == PaymentStatus.PENDING,
                    Payment.provider != SANDBOX,
                    Payment.id != current_payment_id,
                )
            )
        )
        openings = []
        unreachable = []
        for payment in others:
            adapter = context.registry.get(payment.provider)
            if Capability.CANCEL not in adapter.capabilities or not payment.provider_reference:
                continue
            try:
                access = await access_for_payment(session, context.vault, context.registry, payment)
            except (NotFound, CredentialsUnreadable):
                # Its account is gone or unreadable: the new attempt must not fail for it.
                unreachable.append(payment.id)
                continue
            openings.append((payment, adapter, access))
    for payment_id in unreachable:
        await _check_soon(db, payment_id, 0.0)
    for payment, adapter, access in openings:
        try:
            await adapter.cancel_payment(access, str(payment.provider_reference))
        except ProviderFailure:
            await _check_soon(db, payment.id, 0.0)
            continue
        ended = own_report(
            ProviderEventKind.PAYMENT_EXPIRED,
            "superseded",
            payment.id,
            message=f"Ended: the customer started payment {current_payment_id} instead",
        )
        async with db.transaction() as session:
            await apply_report(session, _scope(context, payment), ended, None)


def _scope(context: ProviderContext, payment: Payment) -> Scope:
    """What reports about this payment may move, and whether its duplicate can be refunded."""
    return Scope(
        payment.provider,
        payment.merchant_id,
        payment.provider_account_id,
        refundable=context.registry.can_refund(payment.provider),
    )


async def _check_soon(db: Database, payment_id: str, seconds: float) -> None:
    async with db.transaction() as session:
        await schedule_reconciliation(session, payment_id, (seconds,))


async def _fail_start(
    db: Database, context: ProviderContext, payment_id: str, description: str
) -> None:
    """The provider refused the start: the payment fails now, with its event."""
    failure = own_report(
        ProviderEventKind.PAYMENT_FAILED, "start-failed", payment_id, message=description
    )
    async with db.transaction() as session:
        payment = await session.get_one(Payment, payment_id)
        await apply_report(session, _scope(context, payment), failure, None)


@counts_reconciliations("payment")
async def reconcile_payment(
    db: Database, context: ProviderContext, payment_id: str, *, final: bool = False
) -> str:
    """Ask the provider for a pending payment's state and apply the answer like a webhook.

    A payment the provider never heard of, whose start was never answered (no `next_action`
    stored; a provider reference may be, known before the start) and is long over, never
    started (Hazina stopped mid-start, or the push never arrived): it fails. On the
    `final` check, a payment the provider still calls pending expires, so none stays pending
    (and blocks its order) forever; money that arrives later is still applied, and flagged.
    Returns what happened, for `hazina reconcile`.
    """
    async with db.read() as session:
        payment = await session.get(Payment, payment_id)
        if payment is None or payment.status != PaymentStatus.PENDING:
            return "settled"
        adapter = context.registry.get(payment.provider)
        access = await access_for_payment(session, context.vault, context.registry, payment)
    report = await adapter.fetch_payment(access, payment.id, payment.provider_reference)
    # Approved but never captured takes no money: the final check expires it like a pending one.
    unresolved = report is None or report.kind in _UNRESOLVED
    if final and unresolved:
        report = own_report(
            ProviderEventKind.PAYMENT_EXPIRED,
            "reconcile-final",
            payment.id,
            message="The provider never confirmed the payment",
        )
    started_long_ago = utc_now() - payment.created_at > timedelta(
        seconds=context.start_grace_seconds
    )
    if report is None and (payment.next_action is not None or not started_long_ago):
        return "unknown"
    if report is None:
        report = own_report(
            ProviderEventKind.PAYMENT_FAILED,
            "never-started",
            payment.id,
            message="The payment never reached the provider",
        )
    async with db.transaction() as session:
        await complete_current_job(session)
        applied = await apply_report(session, _scope(context, payment), report, None)
    return applied.outcome.value


async def give_up_reconciliation(db: Database, context: ProviderContext, payment_id: str) -> None:
    """A `reconcile_payment` job out of attempts (the provider kept failing). If no later
    status query is scheduled, the payment expires as the final check would have expired it,
    so it never stays pending (and blocks its order) forever; money that arrives later is
    still applied, and flagged."""
    async with db.read() as session:
        payment = await session.get(Payment, payment_id)
        if payment is None or payment.status != PaymentStatus.PENDING:
            return
        if await checks_remaining(session, RECONCILE_PAYMENT, "payment_id", payment_id):
            return
    expiry = own_report(
        ProviderEventKind.PAYMENT_EXPIRED,
        "reconcile-gave-up",
        payment_id,
        message="The provider could not be asked about the payment: every status query failed",
    )
    async with db.transaction() as session:
        await apply_report(session, _scope(context, payment), expiry, None)


async def pending_provider_payments(db: Database, since: timedelta) -> list[str]:
    """Ids of provider payments still pending that started within `since`, oldest first."""
    async with db.read() as session:
        rows = await session.scalars(
            select(Payment.id)
            .where(
                Payment.status == PaymentStatus.PENDING,
                Payment.provider != SANDBOX,
                Payment.created_at >= utc_now() - since,
            )
            .order_by(Payment.created_at)
        )
        return list(rows)
