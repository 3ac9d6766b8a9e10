"""ClickPesa payout records (providers.md 3.4, 3.5) as Hazina's reports.

One reading for the three places a payout's state appears: the create answer, the status query
and the `PAYOUT …` webhooks. ClickPesa sends no completed or failed payout event, and its
`PAYOUT INITIATED` samples say `SUCCESS` while the money may still be moving, so an initiated
event only ever means `processing`: `paid` and `failed` come from the status query alone.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hazina.domain import ids
from hazina.domain.providers import ProviderEvent, ProviderEventKind

PAYOUT_INITIATED = "PAYOUT INITIATED"
PAYOUT_REFUNDED = "PAYOUT REFUNDED"
PAYOUT_REVERSED = "PAYOUT REVERSED"
WEBHOOK_EVENTS = frozenset({PAYOUT_INITIATED, PAYOUT_REFUNDED, PAYOUT_REVERSED})
# raw_type of a status-query (or create) answer.
PAYOUT_STATUS = "PAYOUT STATUS"

_STATUS_KINDS: dict[str, ProviderEventKind] = {
    "AUTHORIZED": ProviderEventKind.PAYOUT_PROCESSING,
    "PENDING": ProviderEventKind.PAYOUT_PROCESSING,
    "PROCESSING": ProviderEventKind.PAYOUT_PROCESSING,
    "SUCCESS": ProviderEventKind.PAYOUT_PAID,
    "FAILED": ProviderEventKind.PAYOUT_FAILED,
    "REFUNDED": ProviderEventKind.PAYOUT_REFUNDED,
    "REVERSED": ProviderEventKind.PAYOUT_REVERSED,
}
_EVENT_KINDS = {
    PAYOUT_INITIATED: ProviderEventKind.PAYOUT_PROCESSING,
    PAYOUT_REFUNDED: ProviderEventKind.PAYOUT_REFUNDED,
    PAYOUT_REVERSED: ProviderEventKind.PAYOUT_REVERSED,
}
# A status answer named like the webhook reporting the same fact, so the two share a dedup key.
_NAMED_LIKE = {
    ProviderEventKind.PAYOUT_REFUNDED: PAYOUT_REFUNDED,
    ProviderEventKind.PAYOUT_REVERSED: PAYOUT_REVERSED,
}


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


def _occurred_at(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _reason(event: str, data: Mapping[str, Any]) -> str | None:
    """Why the money came back (`refund.message`, `reverse.message`) or why it failed (`notes`)."""
    for key in ("refund", "reverse"):
        detail = data.get(key)
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            return str(detail["message"])
    notes = data.get("notes") or data.get("message")
    return notes if isinstance(notes, str) and notes else None


def payout_report(event: str, data: Mapping[str, Any]) -> ProviderEvent:
    """A payout record (webhook `data`, status-query item or create answer) as a report.
    Raises ValueError for a record that names no payout of Hazina's."""
    reference = _text(data.get("orderReference"))
    if reference is None:
        raise ValueError("ClickPesa payout without an orderReference")
    payout_id = ids.from_alphanumeric_reference(reference, ids.PAYOUT)
    status = str(data.get("status") or "").strip().upper()
    if event in _EVENT_KINDS:
        kind = _EVENT_KINDS[event]
    else:
        kind = _STATUS_KINDS.get(status, ProviderEventKind.IGNORED)
        event = _NAMED_LIKE.get(kind, event)
    transaction = _text(data.get("id"))
    return ProviderEvent(
        kind=kind if payout_id is not None else ProviderEventKind.IGNORED,
        dedup_key=f"{event}:{reference}:{transaction or ''}:{status}",
        raw_type=event,
        raw_status=status,
        payout_id=payout_id,
        provider_reference=reference,
        provider_payment_reference=transaction,
        occurred_at=_occurred_at(data.get("updatedAt")),
        message=_reason(event, data),
    )


def latest_record(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest of a status query's items (ISO-8601 in UTC sorts as text)."""
    if not records:
        return None
    return max(records, key=lambda item: str(item.get("updatedAt") or ""))
