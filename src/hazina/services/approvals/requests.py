"""Asking for an approved payment's completion: one `complete_approval` job per approval.

Called by `settlement.apply_report` for a `PAYMENT_APPROVED` report, after its receipt was
inserted: the receipt's key is one per order (`domain.providers.approval_report`), so the job
is enqueued once however many times, and by whom, the approval is reported.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Payment
from hazina.db.queue import enqueue
from hazina.domain.states import PaymentStatus

COMPLETE_APPROVAL = "complete_approval"
# An approval reported before the customer approved (a return URL opened early) keeps being
# retried with the queue's backoff for a while; the payment's final status query ends it.
COMPLETION_MAX_ATTEMPTS = 8


async def request_completion(session: AsyncSession, payment: Payment) -> bool:
    """Enqueue the completion of a locked pending payment. Returns False: the approval itself
    changes nothing in the payment (it is recorded, and stays pending until captured)."""
    if payment.status == PaymentStatus.PENDING:
        await enqueue(
            session,
            COMPLETE_APPROVAL,
            {"payment_id": payment.id},
            max_attempts=COMPLETION_MAX_ATTEMPTS,
        )
    return False
