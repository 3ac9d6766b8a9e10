"""The payout resource: one serialiser for the API, its webhooks and the dashboard."""

from typing import Any

from hazina.db.models import Payout
from hazina.db.prepared import Row
from hazina.domain.clock import iso_z
from hazina.domain.payouts import masked_destination


def payout_view(payout: Payout | Row) -> dict[str, Any]:
    """The destination is shown masked (its type, bank and last four digits): a payout's
    events travel to every subscribed endpoint."""
    return {
        "id": payout.id,
        "object": "payout",
        "livemode": payout.livemode,
        "account_id": payout.account_id,
        "amount": payout.amount,
        "fee": payout.fee,
        "currency": payout.currency,
        "destination": masked_destination(payout.destination),
        "provider": payout.provider,
        "status": payout.status,
        "failure_reason": payout.failure_reason,
        "source": payout.source,
        "created_at": iso_z(payout.created_at),
        "updated_at": iso_z(payout.updated_at),
    }
