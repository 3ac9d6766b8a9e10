"""Completing approved payments (the `complete_approval` job), and the customer's return.

The provider call runs outside any transaction (it must not hold SQLite's only writer); its
answer is applied through `settlement.apply_report` in the transaction that completes the job,
so the capture's outcome and the job's end commit together. A crash in between runs the job
again: the provider answers the same capture again (its idempotency key is our payment id) and
the report is a duplicate.
"""

import logging

from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.db.queue import complete_current_job
from hazina.domain.providers import Capability, approval_report
from hazina.domain.states import PaymentStatus
from hazina.services.captures import AUTOMATIC
from hazina.services.ports import ApprovalCompleter
from hazina.services.provider_access import access_for_payment
from hazina.services.provider_payments import ProviderContext
from hazina.services.settlement import Scope, apply_report

log = logging.getLogger("hazina.approvals")


def _scope(context: ProviderContext, payment: Payment) -> Scope:
    return Scope(
        payment.provider,
        payment.merchant_id,
        payment.provider_account_id,
        refundable=context.registry.can_refund(payment.provider),
    )


async def note_return(
    db: Database, context: ProviderContext, payment_id: str, order_reference: str | None
) -> None:
    """The customer came back from approving at the provider (its return URL): ask for the
    completion unless the approval webhook did first. Anyone can open the URL, so it only
    ever asks; the provider refuses to capture an order nobody approved (the job then
    tries again later). A `token` naming another order than the payment's is ignored."""
    async with db.transaction() as session:
        payment = await session.get(Payment, payment_id)
        if (
            payment is None
            or payment.status != PaymentStatus.PENDING
            or payment.provider_reference is None
            or Capability.APPROVAL not in context.registry.get(payment.provider).capabilities
            or order_reference not in (None, payment.provider_reference)
        ):
            return
        report = approval_report(payment.id, payment.provider_reference, "return")
        await apply_report(session, _scope(context, payment), report, None)


async def complete_approval(db: Database, context: ProviderContext, payment_id: str) -> str:
    """The job: capture (or authorise, for a manual-capture payment) the approved payment at
    its provider and apply the outcome. A provider failure raises, so the job is retried."""
    async with db.read() as session:
        payment = await session.get(Payment, payment_id)
        if payment is None or payment.status != PaymentStatus.PENDING:
            return "settled"
        adapter = context.registry.get(payment.provider)
        access = await access_for_payment(session, context.vault, context.registry, payment)
    if not isinstance(adapter, ApprovalCompleter) or payment.provider_reference is None:
        log.warning("payment %s: %s completes no approvals", payment_id, payment.provider)
        return "unsupported"
    report = await adapter.complete_approved(
        access,
        payment.id,
        payment.provider_reference,
        capture=payment.capture_method == AUTOMATIC,
    )
    async with db.transaction() as session:
        await complete_current_job(session)
        applied = await apply_report(session, _scope(context, payment), report, None)
    return applied.outcome.value
