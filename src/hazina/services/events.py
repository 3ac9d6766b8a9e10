"""Recording events in the transaction of the change they announce."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Event
from hazina.domain import ids
from hazina.domain.clock import utc_now
from hazina.domain.events import EventType, event_payload


async def record_event(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    event_type: EventType,
    resource_id: str,
    data: dict[str, Any],
) -> Event:
    now = utc_now()
    event = Event(
        id=ids.new_id(ids.EVENT),
        merchant_id=merchant_id,
        type=event_type.value,
        resource_id=resource_id,
        payload=event_payload(event_type, now, data),
        created_at=now,
    )
    session.add(event)
    return event
