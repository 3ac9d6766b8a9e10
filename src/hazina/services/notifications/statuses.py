"""A messaging channel's notifications applied (WhatsApp): a message's delivery status recorded
on its notification, a customer's message opening the 24 h text window. Called by the common
inbound path (`services.inbound`) inside its transaction, after the same receipt check that
de-duplicates payment reports."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Notification, ProviderEventReceipt, WhatsAppContact
from hazina.db.statements import insert_unless_exists
from hazina.domain.clock import utc_now
from hazina.domain.notifications import NotificationStatus, advances
from hazina.domain.providers import ProviderEvent, ProviderEventKind
from hazina.services.settlement import Applied, Outcome, Scope

MESSAGE_KINDS = frozenset({ProviderEventKind.MESSAGE_STATUS, ProviderEventKind.MESSAGE_RECEIVED})
_STATUSES = {status.value for status in NotificationStatus} - {NotificationStatus.PENDING.value}


class UnknownMessage(LookupError):
    """A status for a message Hazina has not recorded sending (yet): its send may still be
    committing, so the notification fails and the channel sends it again."""


async def apply_message_report(
    session: AsyncSession, scope: Scope, event: ProviderEvent, inbound_event_id: str | None
) -> Applied:
    if scope.merchant_id is None:  # WhatsApp has no deployment-wide account
        return Applied(Outcome.IGNORED)
    if event.kind == ProviderEventKind.MESSAGE_STATUS and event.raw_status not in _STATUSES:
        return Applied(Outcome.IGNORED)  # `played` (voice) and statuses yet to come
    fresh = await insert_unless_exists(
        session,
        ProviderEventReceipt,
        {
            "provider": scope.provider,
            "provider_account_id": scope.receipt_account,
            "dedup_key": event.dedup_key,
            "inbound_event_id": inbound_event_id,
            "created_at": utc_now(),
        },
    )
    if not fresh:
        return Applied(Outcome.DUPLICATE, None, scope.merchant_id)
    if event.kind == ProviderEventKind.MESSAGE_RECEIVED:
        await _note_contact(session, scope, event)
        return Applied(Outcome.APPLIED, None, scope.merchant_id)
    message = await session.scalar(
        select(Notification)
        .where(
            Notification.merchant_id == scope.merchant_id,
            Notification.channel == "whatsapp",
            Notification.provider_message_id == event.provider_reference,
        )
        .with_for_update()
    )
    if message is None:
        raise UnknownMessage(f"no WhatsApp message {event.provider_reference}")
    if not advances(message.status, event.raw_status):
        # Out of order (`delivered` after `read`): recorded by its receipt, changes nothing.
        return Applied(Outcome.RECORDED, None, scope.merchant_id)
    message.status = event.raw_status
    if event.raw_status == NotificationStatus.FAILED:
        message.error = event.message or "WhatsApp reported the message failed"
    message.updated_at = utc_now()
    return Applied(Outcome.APPLIED, None, scope.merchant_id)


async def _note_contact(session: AsyncSession, scope: Scope, event: ProviderEvent) -> None:
    assert scope.merchant_id is not None
    phone = "+" + (event.provider_reference or "").lstrip("+")
    at: datetime = event.occurred_at or utc_now()
    contact = await session.get(WhatsAppContact, (scope.merchant_id, phone))
    if contact is None:
        session.add(WhatsAppContact(merchant_id=scope.merchant_id, phone=phone, last_message_at=at))
    elif contact.last_message_at < at:
        contact.last_message_at = at
    await session.flush()
