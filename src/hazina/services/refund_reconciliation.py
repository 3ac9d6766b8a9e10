"""Refunds that always end: asking the provider about a refund it accepted but has not
settled, and the give-up steps that settle a refund whose jobs ran out of attempts.

A refund reserves its amount on the payment while it is pending. A refund that stayed pending
forever would keep that money unrefundable and the merchant uninformed, so every way a refund's
work can stop ends it: the provider's answer, the last scheduled status query, or the give-up
step of a job out of attempts, which fails the refund with its reason, releases the reservation
and emits `refund.failed`.

Failing releases the amount, so Hazina fails a refund it has no answer for only where nothing
can have gone back unseen: its own (sandbox, credit), or at a provider it can ask about refunds
(`Capability.REFUND_QUERY`), whose late answer still lands on the failed refund. At a provider
it cannot ask (EcoCash direct), the money may be with the customer already: the refund stays
pending with its reservation, and its payment goes to review (`refund_unconfirmed`), so the
same amount cannot be refunded again until the merchant has looked at the provider.
"""

from dataclasses import replace

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import Payment, Refund
from hazina.db.queue import complete_current_job
from hazina.domain.settlement import ReviewReason
from hazina.domain.states import PaymentStatus, RefundStatus
from hazina.observability.metrics import counts_reconciliations
from hazina.services.provider_access import access_for_payment
from hazina.services.provider_payments import ProviderContext
from hazina.services.reconciliation import RECONCILE_REFUND, checks_remaining
from hazina.services.registry import SANDBOX, ProviderRegistry
from hazina.services.settlement import (
    GAVE_UP,
    NEVER_CONFIRMED,
    UNANSWERED,
    Scope,
    apply_report,
    send_to_review,
    settle_refund,
)


@counts_reconciliations("refund")
async def reconcile_refund(
    db: Database, context: ProviderContext, refund_id: str, *, final: bool = False
) -> str:
    """The `reconcile_refund` job: ask the provider about a pending refund and apply its answer
    like a webhook. On the `final` check a refund the provider still has not settled fails.
    Returns what happened."""
    async with db.read() as session:
        refund = await session.get(Refund, refund_id)
        if refund is None or refund.status != RefundStatus.PENDING:
            return "settled"
        payment = await session.get_one(Payment, refund.payment_id)
        if payment.provider == SANDBOX:
            return "settled"  # the sandbox's own job settles it
        adapter = context.registry.get(payment.provider)
        access = await access_for_payment(session, context.vault, context.registry, payment)
    report = await adapter.fetch_refund(access, refund.id, refund.provider_reference)
    if report is None:
        if not final:
            return "unknown"
        # Only a refund still pending ends: one a webhook settled meanwhile stays settled.
        ended = await end_unconfirmed_refund(db, context.registry, refund_id, NEVER_CONFIRMED)
        return "applied" if ended else "settled"
    # The provider's answer names the refund by its own ids; Hazina's make it land here.
    report = replace(report, payment_id=payment.id, refund_id=refund.id)
    async with db.transaction() as session:
        await complete_current_job(session)
        scope = Scope(payment.provider, payment.merchant_id, payment.provider_account_id)
        applied = await apply_report(session, scope, report, None)
    return applied.outcome.value


async def give_up_refund(db: Database, registry: ProviderRegistry, refund_id: str) -> None:
    """A `process_refund` job out of attempts (the provider, or the network, kept failing)."""
    await end_unconfirmed_refund(db, registry, refund_id, GAVE_UP)


async def give_up_refund_reconciliation(
    db: Database, registry: ProviderRegistry, refund_id: str
) -> None:
    """A `reconcile_refund` job out of attempts: if no later status query is scheduled, the
    refund ends rather than stay pending forever."""
    async with db.read() as session:
        if await checks_remaining(session, RECONCILE_REFUND, "refund_id", refund_id):
            return
    await end_unconfirmed_refund(db, registry, refund_id, UNANSWERED)


async def end_unconfirmed_refund(
    db: Database, registry: ProviderRegistry, refund_id: str, reason: str
) -> bool:
    """End a pending refund whose outcome Hazina never learnt: failed with `reason` where a
    late answer can still reach it, else held for the merchant (module docstring). False,
    changing nothing, once the refund is settled."""
    async with db.read() as session:
        refund = await session.get(Refund, refund_id)
        if refund is None:
            return False
        provider = await session.scalar(
            select(Payment.provider).where(Payment.id == refund.payment_id)
        )
    if provider is None or registry.can_query_refunds(provider):
        return await fail_pending_refund(db, refund_id, reason)
    return await hold_pending_refund(db, refund_id)


async def hold_pending_refund(db: Database, refund_id: str) -> bool:
    """Keep a pending refund (and its reservation) and send its payment to review, with the
    running job completed; False, changing nothing, once the refund is settled."""
    async with db.transaction() as session:
        await complete_current_job(session)
        refund = await session.get(Refund, refund_id)
        if refund is None:
            return False
        # Payment before refund, the order settlement locks them in: never a deadlock.
        payment = await session.get_one(
            Payment, refund.payment_id, with_for_update=True, populate_existing=True
        )
        current = await session.get_one(
            Refund, refund_id, with_for_update=True, populate_existing=True
        )
        if current.status != RefundStatus.PENDING:
            return False
        # A payment in review keeps the reason a human is looking at it for; one `refunded`
        # (Hazina returning a duplicate in full) keeps saying so. Either way this refund stays
        # pending and reserved: nothing can refund its amount twice.
        if payment.status == PaymentStatus.SUCCESS:
            await send_to_review(session, payment, ReviewReason.REFUND_UNCONFIRMED)
        return True


async def fail_pending_refund(db: Database, refund_id: str, reason: str) -> bool:
    """Fail a refund that is still pending, with its reason (and complete the running job, if
    any, with it); False, changing nothing, once the refund is settled."""
    async with db.transaction() as session:
        await complete_current_job(session)
        refund = await session.get(Refund, refund_id)
        if refund is None:
            return False
        # Payment before refund, the order settlement locks them in: never a deadlock.
        payment = await session.get_one(
            Payment, refund.payment_id, with_for_update=True, populate_existing=True
        )
        current = await session.get_one(
            Refund, refund_id, with_for_update=True, populate_existing=True
        )
        if current.status != RefundStatus.PENDING:
            return False
        await settle_refund(session, current, payment, succeeded=False, reason=reason)
        return True
