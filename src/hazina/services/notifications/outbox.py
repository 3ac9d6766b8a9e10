"""Writing a notification and its job into the caller's transaction: it is sent if and only if
the change that caused it commits, and a crash between the two can neither lose nor double it."""

import uuid
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Notification
from hazina.db.queue import enqueue
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.notifications import Channel, NotificationKind, NotificationStatus

SEND_NOTIFICATION = "send_notification"
# Job attempts cover a channel's passing refusals (rate limits, an SMTP server away); a
# permanent refusal fails the message at once.
SEND_MAX_ATTEMPTS = 8

_INSERT = insert(cast(Table, Notification.__table__))


async def add_notification(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    *,
    livemode: bool,
    kind: NotificationKind,
    channel: Channel,
    recipient: str,
    subject_id: str,
    content: dict[str, Any],
) -> str:
    now = utc_now()
    notification_id = ids.new_id(ids.NOTIFICATION)
    await session.execute(
        _INSERT,
        {
            "id": notification_id,
            "merchant_id": merchant_id,
            "livemode": livemode,
            "kind": kind.value,
            "channel": channel.value,
            "recipient": recipient,
            "subject_id": subject_id,
            "content": content,
            "status": NotificationStatus.PENDING.value,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        },
    )
    await enqueue(
        session,
        SEND_NOTIFICATION,
        {"notification_id": notification_id},
        max_attempts=SEND_MAX_ATTEMPTS,
    )
    return notification_id
