"""Events, recorded in the transaction of the change they announce: the transactional outbox.

The same transaction writes one delivery row per subscribed endpoint and one `deliver_webhook`
job per delivery, so an event is delivered if and only if the change it announces committed.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Event, WebhookEndpoint, WebhookLog
from hazina.db.queue import enqueue
from hazina.domain import ids
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import NotFound
from hazina.domain.events import EventType, event_payload
from hazina.domain.webhooks import DeliveryStatus, subscribes
from hazina.services.pages import Page, fetch_page

DELIVER_WEBHOOK = "deliver_webhook"
# Job-level retries cover the handler itself failing (database unreachable); a receiver's
# failures are the delivery's own attempts, counted on the delivery row.
DELIVERY_JOB_MAX_ATTEMPTS = 10


async def enqueue_delivery(session: AsyncSession, delivery_id: uuid.UUID, run_at: datetime) -> None:
    await enqueue(
        session,
        DELIVER_WEBHOOK,
        {"delivery_id": str(delivery_id)},
        max_attempts=DELIVERY_JOB_MAX_ATTEMPTS,
        run_at=run_at,
    )


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
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.merchant_id == merchant_id,
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.url.is_not(None),
        )
    )
    for endpoint in endpoints:
        if not subscribes(endpoint.event_types, event.type):
            continue
        delivery = WebhookLog(
            id=uuid.uuid4(),
            merchant_id=merchant_id,
            endpoint_id=endpoint.id,
            event_id=event.id,
            event=event.type,
            payload=event.payload,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_retry_at=now,
            created_at=now,
        )
        session.add(delivery)
        await enqueue_delivery(session, delivery.id, now)
    return event


def event_resource(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "resource_id": event.resource_id,
        "payload": event.payload,
        "created_at": iso_z(event.created_at),
    }


async def list_events(
    db: Database, merchant_id: uuid.UUID, event_type: str | None, limit: int, offset: int
) -> Page:
    filters = [Event.merchant_id == merchant_id]
    if event_type is not None:
        filters.append(Event.type == event_type)
    async with db.read() as session:
        return await fetch_page(
            session,
            Event,
            filters,
            [Event.created_at.desc(), Event.id.desc()],
            event_resource,
            limit,
            offset,
        )


async def list_resource_events(
    db: Database, merchant_id: uuid.UUID, resource_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """What happened to one payment or refund, oldest first."""
    async with db.read() as session:
        events = await session.scalars(
            select(Event)
            .where(Event.merchant_id == merchant_id, Event.resource_id == resource_id)
            .order_by(Event.created_at, Event.id)
            .limit(limit)
        )
        return [event_resource(event) for event in events]


async def get_event(db: Database, merchant_id: uuid.UUID, event_id: str) -> dict[str, Any]:
    async with db.read() as session:
        event = await session.scalar(
            select(Event).where(Event.id == event_id, Event.merchant_id == merchant_id)
        )
    if event is None:
        raise NotFound("Event not found")
    return event_resource(event)
