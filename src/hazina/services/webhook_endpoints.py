"""Webhook endpoints: the contract's single configured URL (the primary endpoint) and, beyond it,
more endpoints per merchant (up to a cap), each with its own secret, event filter and enabled
state. Secrets are sealed in the vault (services/webhook_secrets.py) and opened only to be shown
to their merchant."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Merchant, WebhookAttempt, WebhookEndpoint, WebhookLog
from hazina.db.statements import fresh_id
from hazina.domain import ids
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.events import EventType
from hazina.domain.webhooks import (
    SECRET_OVERLAP,
    generate_secret,
    mask_secret,
    validate_event_types,
    validate_webhook_url,
)
from hazina.services.audit import record_audit
from hazina.services.events import record_event
from hazina.services.idempotency import IdempotencyRequest, StoredResponse, respond_once
from hazina.services.pages import Page, fetch_page
from hazina.services.ports import SecretBox
from hazina.services.webhook_secrets import current_secret, set_secrets

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    url: str
    event_types: list[str] | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """Only the fields given are changed; `_UNSET` marks an absent one."""

    url: str | None = _UNSET
    event_types: list[str] | None = _UNSET
    enabled: bool = _UNSET


def endpoint_resource(
    endpoint: WebhookEndpoint, vault: SecretBox, *, reveal_secret: bool = False
) -> dict[str, Any]:
    """The secret is shown in full only when an endpoint is created or its secret regenerated."""
    secret = current_secret(vault, endpoint)
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "secret": secret if reveal_secret else mask_secret(secret),
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
        "is_primary": endpoint.is_primary,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": iso_z(endpoint.created_at),
        "updated_at": iso_z(endpoint.updated_at),
    }


def new_primary_endpoint(
    vault: SecretBox, endpoint_id: str, merchant_id: uuid.UUID, secret: str | None = None
) -> WebhookEndpoint:
    """A merchant's primary endpoint: unconfigured (no URL) until `PUT /webhooks/config`."""
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        merchant_id=merchant_id,
        url=None,
        event_types=None,
        enabled=True,
        is_primary=True,
    )
    set_secrets(vault, endpoint, secret or generate_secret(), None)
    return endpoint


async def _primary(session: AsyncSession, merchant_id: uuid.UUID) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.is_primary.is_(True)
        )
    )


async def _primary_or_new(
    session: AsyncSession, vault: SecretBox, merchant_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await _primary(session, merchant_id)
    if endpoint is None:
        endpoint_id = await fresh_id(session, WebhookEndpoint, ids.WEBHOOK_ENDPOINT)
        endpoint = new_primary_endpoint(vault, endpoint_id, merchant_id)
        session.add(endpoint)
    return endpoint


def _config(vault: SecretBox, endpoint: WebhookEndpoint | None) -> dict[str, Any]:
    if endpoint is None:
        return {"webhook_url": None, "webhook_secret": None}
    return {"webhook_url": endpoint.url, "webhook_secret": current_secret(vault, endpoint)}


async def get_config(db: Database, vault: SecretBox, merchant_id: uuid.UUID) -> dict[str, Any]:
    async with db.read() as session:
        return _config(vault, await _primary(session, merchant_id))


async def set_config(
    db: Database, vault: SecretBox, merchant_id: uuid.UUID, url: str | None, *, production: bool
) -> dict[str, Any]:
    """Set (or, with an empty value, clear) the primary endpoint's URL."""
    clean = validate_webhook_url(url, production=production) if url and url.strip() else None
    async with db.transaction() as session:
        endpoint = await _primary_or_new(session, vault, merchant_id)
        endpoint.url = clean
        if clean is not None and not endpoint.enabled:
            endpoint.enabled, endpoint.disabled_reason = True, None
        await session.flush()
        record_audit(
            session,
            actor="merchant",
            action="webhook_endpoint.configured",
            target=f"webhook_endpoint:{endpoint.id}",
            merchant_id=merchant_id,
            details={"url": clean},
        )
        return _config(vault, endpoint)


def _rotate(
    session: AsyncSession, vault: SecretBox, endpoint: WebhookEndpoint, merchant_id: uuid.UUID
) -> None:
    """New secret; the old one keeps signing beside it for SECRET_OVERLAP."""
    set_secrets(vault, endpoint, generate_secret(), current_secret(vault, endpoint))
    endpoint.previous_secret_expires_at = utc_now() + SECRET_OVERLAP
    record_audit(
        session,
        actor="merchant",
        action="webhook_secret.regenerated",
        target=f"webhook_endpoint:{endpoint.id}",
        merchant_id=merchant_id,
        details={"previous_secret_valid_until": iso_z(endpoint.previous_secret_expires_at)},
    )


async def regenerate_primary_secret(
    db: Database, vault: SecretBox, merchant_id: uuid.UUID
) -> dict[str, Any]:
    async with db.transaction() as session:
        endpoint = await _primary_or_new(session, vault, merchant_id)
        await session.flush()
        _rotate(session, vault, endpoint, merchant_id)
        return _config(vault, endpoint)


async def send_test_event(db: Database, merchant_id: uuid.UUID) -> dict[str, Any]:
    """A `webhook.test` event, delivered like any other to every subscribed endpoint."""
    async with db.transaction() as session:
        data = {"message": "Test webhook from Hazina", "merchant_id": str(merchant_id)}
        livemode = bool(
            await session.scalar(select(Merchant.livemode).where(Merchant.id == merchant_id))
        )
        event_id = await record_event(
            session, merchant_id, EventType.WEBHOOK_TEST, "test", data, livemode=livemode
        )
        deliveries = await session.scalar(
            select(func.count()).select_from(WebhookLog).where(WebhookLog.event_id == event_id)
        )
    return {
        "event_id": event_id,
        "event": EventType.WEBHOOK_TEST.value,
        "deliveries": int(deliveries or 0),
        "message": "Test webhook scheduled",
    }


async def _check_room(session: AsyncSession, merchant_id: uuid.UUID, limit: int) -> None:
    """At most `limit` endpoints per merchant (the primary included): each one multiplies every
    event's deliveries. The merchant row is locked so concurrent creates count one by one."""
    await session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())
    count = await session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id)
    )
    if int(count or 0) >= limit:
        raise BadRequest(f"A merchant may have at most {limit} webhook endpoints; delete one first")


async def create_endpoint(
    db: Database,
    vault: SecretBox,
    merchant_id: uuid.UUID,
    new: NewEndpoint,
    idempotency: IdempotencyRequest | None,
    ttl: timedelta,
    *,
    production: bool,
    max_endpoints: int,
) -> StoredResponse:
    url = validate_webhook_url(new.url, production=production)
    event_types = validate_event_types(new.event_types)

    async def insert(session: AsyncSession) -> tuple[int, dict[str, Any]]:
        await _check_room(session, merchant_id, max_endpoints)
        endpoint = WebhookEndpoint(
            id=await fresh_id(session, WebhookEndpoint, ids.WEBHOOK_ENDPOINT),
            merchant_id=merchant_id,
            url=url,
            event_types=event_types,
            enabled=new.enabled,
            is_primary=False,
        )
        set_secrets(vault, endpoint, generate_secret(), None)
        session.add(endpoint)
        await session.flush()
        record_audit(
            session,
            actor="merchant",
            action="webhook_endpoint.created",
            target=f"webhook_endpoint:{endpoint.id}",
            merchant_id=merchant_id,
            details={"url": url, "event_types": event_types},
        )
        return 201, endpoint_resource(endpoint, vault, reveal_secret=True)

    return await respond_once(db, merchant_id, idempotency, ttl, insert)


async def _owned(
    session: AsyncSession, merchant_id: uuid.UUID, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.merchant_id == merchant_id
        )
    )
    if endpoint is None:
        raise NotFound("Webhook endpoint not found")
    return endpoint


async def get_endpoint(
    db: Database, vault: SecretBox, merchant_id: uuid.UUID, endpoint_id: str
) -> dict[str, Any]:
    async with db.read() as session:
        return endpoint_resource(await _owned(session, merchant_id, endpoint_id), vault)


async def list_endpoints(
    db: Database, vault: SecretBox, merchant_id: uuid.UUID, limit: int, offset: int
) -> Page:
    async with db.read() as session:
        return await fetch_page(
            session,
            WebhookEndpoint,
            [WebhookEndpoint.merchant_id == merchant_id],
            [WebhookEndpoint.created_at, WebhookEndpoint.id],
            lambda endpoint: endpoint_resource(endpoint, vault),
            limit,
            offset,
        )


async def update_endpoint(
    db: Database,
    vault: SecretBox,
    merchant_id: uuid.UUID,
    endpoint_id: str,
    changes: EndpointChanges,
    *,
    production: bool,
) -> dict[str, Any]:
    async with db.transaction() as session:
        endpoint = await _owned(session, merchant_id, endpoint_id)
        if changes.url is not _UNSET:
            if changes.url is None and not endpoint.is_primary:
                raise BadRequest("url is required")
            endpoint.url = (
                None
                if changes.url is None
                else validate_webhook_url(changes.url, production=production)
            )
        if changes.event_types is not _UNSET:
            endpoint.event_types = validate_event_types(changes.event_types)
        if changes.enabled is not _UNSET:
            endpoint.enabled = bool(changes.enabled)
            # Re-enabling (after a 410, say) clears why it was disabled.
            endpoint.disabled_reason = None if endpoint.enabled else "disabled by the merchant"
        endpoint.updated_at = utc_now()
        record_audit(
            session,
            actor="merchant",
            action="webhook_endpoint.updated",
            target=f"webhook_endpoint:{endpoint.id}",
            merchant_id=merchant_id,
            details={"url": endpoint.url, "enabled": endpoint.enabled},
        )
        return endpoint_resource(endpoint, vault)


async def regenerate_endpoint_secret(
    db: Database, vault: SecretBox, merchant_id: uuid.UUID, endpoint_id: str
) -> dict[str, Any]:
    async with db.transaction() as session:
        endpoint = await _owned(session, merchant_id, endpoint_id)
        _rotate(session, vault, endpoint, merchant_id)
        return endpoint_resource(endpoint, vault, reveal_secret=True)


async def delete_endpoint(db: Database, merchant_id: uuid.UUID, endpoint_id: str) -> None:
    """Removes the endpoint with its deliveries and their attempts; pending jobs then find
    nothing to do. The primary endpoint belongs to the contract's config and stays."""
    async with db.transaction() as session:
        endpoint = await _owned(session, merchant_id, endpoint_id)
        if endpoint.is_primary:
            raise BadRequest("The primary endpoint is managed through /api/v1/webhooks/config")
        deliveries = select(WebhookLog.id).where(WebhookLog.endpoint_id == endpoint.id)
        await session.execute(
            delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries))
        )
        await session.execute(delete(WebhookLog).where(WebhookLog.endpoint_id == endpoint.id))
        await session.delete(endpoint)
        record_audit(
            session,
            actor="merchant",
            action="webhook_endpoint.deleted",
            target=f"webhook_endpoint:{endpoint_id}",
            merchant_id=merchant_id,
        )
