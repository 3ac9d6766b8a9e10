"""Events, recorded in the transaction of the change they announce: the transactional outbox.

The same transaction writes one delivery row per subscribed endpoint and one `deliver_webhook`
job per delivery, so an event is delivered if and only if the change it announces committed.
"""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Event, WebhookEndpoint, WebhookLog
from hazina.db.queue import enqueue
from hazina.domain import ids
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import NotFound
from hazina.domain.events import EventType, event_payload
from hazina.domain.webhooks import DeliveryStatus, subscribes
from hazina.services.notifications.triggers import notify_event
from hazina.services.pages import Page, fetch_page

DELIVER_WEBHOOK = "deliver_webhook"
# Job-level retries cover the handler itself failing (database unreachable); a receiver's
# failures are the delivery's own attempts, counted on the delivery row.
DELIVERY_JOB_MAX_ATTEMPTS = 10

_events = cast(Table, Event.__table__)
_endpoints = cast(Table, WebhookEndpoint.__table__)
_deliveries = cast(Table, WebhookLog.__table__)
# Built once; each call only binds its values.
_INSERT_EVENT = insert(_events)
_INSERT_DELIVERY = insert(_deliveries)
_ENDPOINTS_READ = "hazina.subscribed_endpoints"
_SUBSCRIBED_ENDPOINTS = select(_endpoints.c.id, _endpoints.c.event_types).where(
    _endpoints.c.merchant_id == bindparam("merchant_id"),
    _endpoints.c.enabled.is_(True),
    _endpoints.c.url.is_not(None),
)


async def enqueue_delivery(session: AsyncSession, delivery_id: uuid.UUID, run_at: datetime) -> None:
    await enqueue(
        session,
        DELIVER_WEBHOOK,
        {"delivery_id": str(delivery_id)},
        max_attempts=DELIVERY_JOB_MAX_ATTEMPTS,
        run_at=run_at,
    )


async def _subscribed_endpoints(
    session: AsyncSession, merchant_id: uuid.UUID
) -> list[tuple[str, list[str] | None]]:
    """The merchant's subscribed endpoints, read once per transaction: a change usually records
    several events (payment.created and payment.pending, …), and endpoints are never edited in
    a transaction that records events."""
    cache: dict[uuid.UUID, list[tuple[str, list[str] | None]]] = session.info.setdefault(
        _ENDPOINTS_READ, {}
    )
    found = cache.get(merchant_id)
    if found is None:
        rows = await session.execute(_SUBSCRIBED_ENDPOINTS, {"merchant_id": merchant_id})
        found = cache[merchant_id] = [(row.id, row.event_types) for row in rows]
    return found


async def record_event(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    event_type: EventType,
    resource_id: str,
    data: dict[str, Any],
    *,
    livemode: bool,
) -> str:
    """Write the event and its deliveries; returns the event's id. `livemode` is the mode of
    the merchant twin (and of the resource) it is about.

    Core statements, not ORM objects: this runs in every state change's transaction, and the
    unit of work would cost more than the rows.
    """
    now = utc_now()
    event_id = ids.new_id(ids.EVENT)
    payload = event_payload(event_type, now, data, livemode=livemode)
    await session.execute(
        _INSERT_EVENT,
        {
            "id": event_id,
            "merchant_id": merchant_id,
            "livemode": livemode,
            "type": event_type.value,
            "resource_id": resource_id,
            "payload": payload,
            "created_at": now,
        },
    )
    for endpoint_id, event_types in await _subscribed_endpoints(session, merchant_id):
        if not subscribes(event_types, event_type.value):
            continue
        delivery_id = uuid.uuid4()
        await session.execute(
            _INSERT_DELIVERY,
            {
                "id": delivery_id,
                "merchant_id": merchant_id,
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "event": event_type.value,
                "payload": payload,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_retry_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )
        await enqueue_delivery(session, delivery_id, now)
    # The messages the change causes (a merchant told its order was paid, a buyer's receipt),
    # in this same transaction: sent if and only if the change commits.
    await notify_event(session, merchant_id, event_type, data, livemode=livemode)
    return event_id


def event_resource(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "livemode": event.livemode,
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
