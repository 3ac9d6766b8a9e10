"""The `send_notification` job: one message sent on its channel, its outcome recorded.

A message is sent only while it is `pending`; once a channel took it, it is `sent` with the
channel's id (WhatsApp status notifications then move it on). A passing refusal (a rate limit,
a server away) counts an attempt and raises, so the job runs again with backoff; a permanent
one fails the message at once with the channel's reason, shown on its link. A crash between the
channel accepting and the commit sends it again on the next run: at least once, never lost.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Notification, ProviderAccount, WhatsAppContact
from hazina.domain.clock import utc_now
from hazina.domain.notifications import Channel, NotificationKind, NotificationStatus, compose
from hazina.domain.providers import ProviderAccess, ProviderFailure
from hazina.domain.whatsapp import (
    OUTSIDE_WINDOW_CODE,
    SERVICE_WINDOW_SECONDS,
    template_message,
    text_message,
)
from hazina.services.notifications.channels import WHATSAPP_PROVIDER
from hazina.services.ports import SecretBox
from hazina.services.provider_accounts import open_account

DEFAULT_TEMPLATE_LANGUAGE = "en_US"


class WhatsAppChannel(Protocol):
    async def send_message(self, access: ProviderAccess, message: dict[str, Any]) -> str: ...


class EmailChannel(Protocol):
    async def send_email(self, to: str, subject: str, text: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Channels:
    """The senders a worker has: WhatsApp always (the merchant's account), email when the
    deployment configured an SMTP server."""

    whatsapp: WhatsAppChannel
    email: EmailChannel | None


class SendFailed(Exception):
    """A passing refusal: the job runs again later."""


async def _record(db: Database, notification_id: str, **values: Any) -> None:
    """Record an attempt's outcome, only on a message still pending (a replayed job, or a
    status notification that came first, never moves one back)."""
    async with db.transaction() as session:
        await session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == NotificationStatus.PENDING,
            )
            .values(attempts=Notification.attempts + 1, updated_at=utc_now(), **values)
            .execution_options(synchronize_session=False)
        )


async def send_notification(
    db: Database, vault: SecretBox, channels: Channels, notification_id: str
) -> None:
    async with db.read() as session:
        message = await session.get(Notification, notification_id)
        if message is None or message.status != NotificationStatus.PENDING:
            return
        access = None
        within_window = False
        if message.channel == Channel.WHATSAPP:
            access = await _whatsapp_access(session, vault, message.merchant_id)
            within_window = await _within_window(session, message.merchant_id, message.recipient)
    try:
        if message.channel == Channel.WHATSAPP:
            if access is None:
                raise ProviderFailure("WhatsApp is not connected any more")
            sent_id = await _send_whatsapp(channels.whatsapp, access, message, within_window)
        else:
            if channels.email is None:
                raise ProviderFailure("Email is not configured (HAZINA_SMTP_HOST)")
            subject, text = compose(message.kind, message.content)
            sent_id = await channels.email.send_email(message.recipient, subject, text)
    except ProviderFailure as failure:
        if failure.retryable:
            await _record(db, notification_id, error=failure.description)
            raise SendFailed(failure.description) from None
        await _record(
            db, notification_id, status=NotificationStatus.FAILED, error=failure.description
        )
        return
    await _record(
        db,
        notification_id,
        status=NotificationStatus.SENT,
        provider_message_id=sent_id,
        error=None,
    )


async def give_up_notification(db: Database, notification_id: str) -> None:
    """Out of attempts: the message fails with the last reason it was refused."""
    async with db.transaction() as session:
        await session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.status == NotificationStatus.PENDING,
            )
            .values(
                status=NotificationStatus.FAILED,
                # The last refusal says why; a job that never reached the channel says so.
                error=func.coalesce(Notification.error, "Gave up: the message was never sent"),
                updated_at=utc_now(),
            )
            .execution_options(synchronize_session=False)
        )


async def _whatsapp_access(
    session: AsyncSession, vault: SecretBox, merchant_id: uuid.UUID
) -> ProviderAccess | None:
    account = await session.scalar(
        select(ProviderAccount).where(
            ProviderAccount.merchant_id == merchant_id,
            ProviderAccount.provider == WHATSAPP_PROVIDER,
        )
    )
    return None if account is None else open_account(vault, account)


async def _within_window(session: AsyncSession, merchant_id: uuid.UUID, phone: str) -> bool:
    last = await session.scalar(
        select(WhatsAppContact.last_message_at).where(
            WhatsAppContact.merchant_id == merchant_id, WhatsAppContact.phone == phone
        )
    )
    return last is not None and utc_now() - last < timedelta(seconds=SERVICE_WINDOW_SECONDS)


async def _send_whatsapp(
    whatsapp: WhatsAppChannel,
    access: ProviderAccess,
    message: Notification,
    within_window: bool,
) -> str:
    """A link goes as text inside the customer's 24 h window, else as the approved template
    whose URL button takes the link's code; other messages go as text (the recipient must have
    written to the business number within 24 hours)."""
    _, text = compose(message.kind, message.content)
    is_link = message.kind == NotificationKind.PAYMENT_LINK
    if within_window or not is_link:
        try:
            return await whatsapp.send_message(access, text_message(message.recipient, text))
        except ProviderFailure as failure:
            if not is_link or getattr(failure, "code", None) != OUTSIDE_WINDOW_CODE:
                raise
    template = template_message(
        message.recipient,
        access.secrets["template_name"],
        access.secrets.get("template_language") or DEFAULT_TEMPLATE_LANGUAGE,
        [message.content["amount"]],
        message.content["code"],
    )
    return await whatsapp.send_message(access, template)
