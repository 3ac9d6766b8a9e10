"""Deliveries (the contract's webhook logs): the `deliver_webhook` job, the logs, and recovery.

One job runs one attempt. Its outcome is written in one transaction with the attempt's log row
and, after a failure, the next attempt's job at `next_retry_at`: the schedule lives in the
database, so a restarted worker picks it up where the last one stopped.

The job is idempotent: one that finds its delivery finished, or not due yet (a job left behind
by a manual retry), does nothing. The outcome is written only if the delivery is still in the
state the attempt started from (pending, same attempt count), and only that write enqueues the
next attempt, so two jobs for one delivery collapse back into one chain. A worker killed
mid-attempt never recorded it: the job runs again once its lease lapses and sends the same
body under the same `webhook-id`, which is what lets receivers de-duplicate (at least once).
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Event, WebhookAttempt, WebhookEndpoint, WebhookLog
from hazina.db.prepared import Prepared
from hazina.db.queue import JobLease, complete_current_job, complete_leased_jobs, current_lease
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import NotFound
from hazina.domain.webhooks import (
    GONE,
    AttemptOutcome,
    DeliveryStatus,
    RetryPolicy,
    WebhookMessage,
    parse_retry_after,
)
from hazina.observability.metrics import count_delivery_attempt
from hazina.services.audit import record_audit
from hazina.services.events import enqueue_delivery
from hazina.services.pages import Page, fetch_page
from hazina.services.ports import SecretBox, WebhookSender
from hazina.services.resources import render
from hazina.services.webhook_secrets import SecretField, open_secret

log = logging.getLogger("hazina.webhooks")
NOT_FOUND = "Webhook not found"


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    status: str | None = None
    event: str | None = None
    endpoint_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Attempt:
    """A delivery as a job found it: due and pending, about to be attempted."""

    delivery_id: uuid.UUID
    merchant_id: uuid.UUID
    endpoint_id: str
    attempts: int
    message: WebhookMessage | None  # None: its endpoint is gone, disabled or unconfigured


def _parse_id(delivery_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(delivery_id)
    except ValueError:
        return None


def _valid_secrets(vault: SecretBox, row: Any, now: datetime) -> tuple[str, ...]:
    """The secrets that sign this attempt, opened once for it (a few microseconds each)."""
    secret = open_secret(
        vault,
        row.merchant_id,
        row.endpoint_id,
        SecretField.CURRENT,
        row.secret,
        sealed=row.secrets_sealed,
    )
    expires_at = row.previous_secret_expires_at
    if row.previous_secret and expires_at is not None and expires_at > now:
        previous = open_secret(
            vault,
            row.merchant_id,
            row.endpoint_id,
            SecretField.PREVIOUS,
            row.previous_secret,
            sealed=row.secrets_sealed,
        )
        return (secret, previous)
    return (secret,)


# The hot path of every delivery reads one row of each table with plain Core statements: the
# ORM's identity map and unit of work would only add work to rows used once and thrown away.
_deliveries = cast(Table, WebhookLog.__table__)
_endpoints = cast(Table, WebhookEndpoint.__table__)
_attempts = cast(Table, WebhookAttempt.__table__)
_DUE = select(
    _deliveries.c.merchant_id,
    _deliveries.c.endpoint_id,
    _deliveries.c.status,
    _deliveries.c.attempts,
    _deliveries.c.next_retry_at,
    _deliveries.c.payload,
    _endpoints.c.url,
    _endpoints.c.enabled,
    _endpoints.c.secret,
    _endpoints.c.previous_secret,
    _endpoints.c.previous_secret_expires_at,
    _endpoints.c.secrets_sealed,
).select_from(_deliveries.outerjoin(_endpoints, _endpoints.c.id == _deliveries.c.endpoint_id))


_DUE_BY_ID = Prepared(_DUE.where(_deliveries.c.id == bindparam("id")))


async def _due(db: Database, vault: SecretBox, delivery_id: uuid.UUID) -> _Attempt | None:
    now = utc_now()
    row = await db.fetch_one(_DUE_BY_ID, {"id": delivery_id})
    if row is None or row.status != DeliveryStatus.PENDING:
        return None
    # The job's run_at is this very next_retry_at, read by this worker's clock after the
    # claim: a later value means a newer schedule owns the delivery.
    if row.next_retry_at is not None and row.next_retry_at > now:
        return None
    message = None
    if row.enabled and row.url is not None:
        message = WebhookMessage(
            delivery_id=str(delivery_id),
            url=row.url,
            body=render(row.payload),
            secrets=_valid_secrets(vault, row, now),
        )
    return _Attempt(delivery_id, row.merchant_id, row.endpoint_id, row.attempts, message)


def _unchanged(attempt: _Attempt) -> Any:
    """The delivery is still as the attempt found it (a manual retry in between wins)."""
    return (
        (_deliveries.c.id == attempt.delivery_id)
        & (_deliveries.c.status == DeliveryStatus.PENDING)
        & (_deliveries.c.attempts == attempt.attempts)
    )


async def deliver_webhook(
    db: Database,
    sender: WebhookSender,
    policy: RetryPolicy,
    vault: SecretBox,
    recorder: "AttemptRecorder",
    delivery_id: str,
) -> None:
    """The `deliver_webhook` job: one attempt of one delivery. Safe to run twice. A secret that
    does not open fails the job (WebhookSecretUnreadable), which retries and then gives up."""
    parsed = _parse_id(delivery_id)
    attempt = None if parsed is None else await _due(db, vault, parsed)
    if attempt is None:
        return
    if attempt.message is None:
        # Nothing to send to: fail it now, so recovery finds it once the endpoint is back.
        async with db.transaction() as session:
            await complete_current_job(session)
            await session.execute(
                update(_deliveries)
                .where(_unchanged(attempt))
                .values(status=DeliveryStatus.FAILED, next_retry_at=None, updated_at=utc_now())
            )
        return
    attempted_at = utc_now()
    outcome = await sender.send(attempt.message)
    count_delivery_attempt(outcome.status_code, outcome.duration_ms / 1000)
    if outcome.succeeded:
        await recorder.record_success(_Success(attempt, attempted_at, outcome, current_lease()))
    else:
        await _record_attempt(db, attempt, policy, attempted_at, outcome)


def _attempt_row(
    attempt: _Attempt, attempted_at: datetime, outcome: AttemptOutcome
) -> dict[str, Any]:
    """The attempt log row of one attempt, successful or not."""
    return {
        "delivery_id": attempt.delivery_id,
        "attempt": attempt.attempts + 1,
        "attempted_at": attempted_at,
        "status_code": outcome.status_code,
        "response_body": outcome.response_body,
        "duration_ms": outcome.duration_ms,
        "error": outcome.error,
    }


@dataclass(frozen=True, slots=True)
class _Success:
    attempt: _Attempt
    attempted_at: datetime
    outcome: AttemptOutcome
    lease: JobLease | None  # the job to complete with it; None outside a worker


_SUCCEEDED = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("b_id"),
        _deliveries.c.status == DeliveryStatus.PENDING,
        _deliveries.c.attempts == bindparam("b_found"),
    )
    .values(
        status=DeliveryStatus.SUCCESS,
        attempts=bindparam("b_attempts"),
        last_attempt_at=bindparam("b_at"),
        next_retry_at=None,
        response_code=bindparam("b_code"),
        response_body=bindparam("b_body"),
        updated_at=bindparam("b_now"),
    )
)


class AttemptRecorder:
    """Records successful attempts in groups: one transaction for every success that finished
    while the previous group was being written (group commit, no timer, so an idle worker
    writes each at once). A delivery's attempt row, its new state and its job's completion
    still commit together; a group that fails to commit fails each of its jobs, which run
    again and re-send under the same `webhook-id` (at least once), as a lone attempt would.

    Failed attempts keep their own transaction (_record_attempt): they schedule the next
    attempt only if their update applied, which needs that update's own row count."""

    def __init__(self, db: Database, *, largest_group: int = 256) -> None:
        self._db = db
        self._largest_group = largest_group
        self._waiting: list[tuple[_Success, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def record_success(self, success: _Success) -> None:
        written = asyncio.get_running_loop().create_future()
        self._waiting.append((success, written))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_groups())
        await written

    async def _write_groups(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[: self._largest_group]
                del self._waiting[: self._largest_group]
                try:
                    await self._write([success for success, _ in group])
                except Exception as error:
                    for _, written in group:
                        if not written.done():
                            written.set_exception(error)
                else:
                    for _, written in group:
                        if not written.done():
                            written.set_result(None)
        finally:
            self._writing = None

    async def _write(self, group: list[_Success]) -> None:
        now = utc_now()
        async with self._db.transaction() as session:
            await complete_leased_jobs(
                session, [success.lease for success in group if success.lease is not None]
            )
            await session.execute(
                insert(_attempts),
                [
                    _attempt_row(success.attempt, success.attempted_at, success.outcome)
                    for success in group
                ],
            )
            await session.execute(
                _SUCCEEDED,
                [
                    {
                        "b_id": success.attempt.delivery_id,
                        "b_found": success.attempt.attempts,
                        "b_attempts": success.attempt.attempts + 1,
                        "b_at": success.attempted_at,
                        "b_code": success.outcome.status_code,
                        "b_body": success.outcome.response_body,
                        "b_now": now,
                    }
                    for success in group
                ],
            )


async def give_up_delivery(db: Database, delivery_id: str) -> None:
    """A `deliver_webhook` job out of job-level attempts (say, the database was down for long):
    the delivery is marked failed instead of staying pending with no job, so recovery finds it."""
    parsed = _parse_id(delivery_id)
    if parsed is None:
        return
    async with db.transaction() as session:
        await session.execute(
            update(_deliveries)
            .where(_deliveries.c.id == parsed, _deliveries.c.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.FAILED, next_retry_at=None, updated_at=utc_now())
        )


async def _record_attempt(
    db: Database,
    attempt: _Attempt,
    policy: RetryPolicy,
    attempted_at: datetime,
    outcome: AttemptOutcome,
) -> None:
    """A failed attempt: its log row, the delivery's new state and, unless it gave up, the
    next attempt's job, in one transaction with the job's completion."""
    attempts = attempt.attempts + 1
    now = utc_now()
    gone = outcome.status_code == GONE
    wait = None
    if not gone:
        wait = policy.wait_after(attempts, parse_retry_after(outcome.retry_after, now))
    if wait is None:
        status, next_retry_at = DeliveryStatus.FAILED, None
    else:
        status, next_retry_at = DeliveryStatus.PENDING, now + wait
    async with db.transaction() as session:
        await complete_current_job(session)
        await session.execute(insert(_attempts), _attempt_row(attempt, attempted_at, outcome))
        applied = await session.execute(
            update(_deliveries)
            .where(_unchanged(attempt))
            .values(
                status=status,
                attempts=attempts,
                last_attempt_at=attempted_at,
                next_retry_at=next_retry_at,
                response_code=outcome.status_code,
                response_body=outcome.response_body,
                updated_at=now,
            )
        )
        if not applied.rowcount:  # type: ignore[attr-defined]
            return
        if next_retry_at is not None:
            await enqueue_delivery(session, attempt.delivery_id, next_retry_at)
        if gone:
            await _disable_gone_endpoint(session, attempt)
    # The error and status only: never the URL's secrets or any signature header.
    log.info(
        "delivery %s attempt %d failed (%s); %s",
        attempt.delivery_id,
        attempts,
        outcome.error or outcome.status_code,
        "gave up" if next_retry_at is None else f"next at {iso_z(next_retry_at)}",
    )


async def _disable_gone_endpoint(session: AsyncSession, attempt: _Attempt) -> None:
    """410 Gone: the receiver says this URL will never accept deliveries again."""
    endpoint_id = attempt.endpoint_id
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(enabled=False, disabled_reason="410 Gone from the endpoint", updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    record_audit(
        session,
        actor="system:webhooks",
        action="webhook_endpoint.disabled",
        target=f"webhook_endpoint:{endpoint_id}",
        merchant_id=attempt.merchant_id,
        details={"reason": "410 Gone", "delivery_id": str(attempt.delivery_id)},
    )


def delivery_summary(delivery: WebhookLog) -> dict[str, Any]:
    """The contract's webhook log item, plus the endpoint it went to."""
    return {
        "id": str(delivery.id),
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": iso_z(delivery.created_at),
        "last_attempt_at": iso_z(delivery.last_attempt_at) if delivery.last_attempt_at else None,
        "response_code": delivery.response_code,
        "endpoint_id": delivery.endpoint_id,
    }


def _attempt_resource(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "attempted_at": iso_z(attempt.attempted_at),
        "status_code": attempt.status_code,
        "response_body": attempt.response_body,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
    }


async def list_deliveries(
    db: Database, merchant_id: uuid.UUID, where: DeliveryFilter, limit: int, offset: int
) -> Page:
    filters = [WebhookLog.merchant_id == merchant_id]
    if where.status is not None:
        filters.append(WebhookLog.status == where.status)
    if where.event is not None:
        filters.append(WebhookLog.event == where.event)
    if where.endpoint_id is not None:
        filters.append(WebhookLog.endpoint_id == where.endpoint_id)
    async with db.read() as session:
        return await fetch_page(
            session,
            WebhookLog,
            filters,
            [WebhookLog.created_at.desc(), WebhookLog.id],
            delivery_summary,
            limit,
            offset,
        )


async def list_resource_deliveries(
    db: Database, merchant_id: uuid.UUID, resource_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The deliveries of the events about one payment or refund, oldest first."""
    async with db.read() as session:
        deliveries = await session.scalars(
            select(WebhookLog)
            .join(Event, Event.id == WebhookLog.event_id)
            .where(WebhookLog.merchant_id == merchant_id, Event.resource_id == resource_id)
            .order_by(WebhookLog.created_at, WebhookLog.id)
            .limit(limit)
        )
        return [delivery_summary(delivery) for delivery in deliveries]


async def _owned(session: AsyncSession, merchant_id: uuid.UUID, delivery_id: str) -> WebhookLog:
    parsed = _parse_id(delivery_id)
    delivery = None
    if parsed is not None:
        delivery = await session.scalar(
            select(WebhookLog).where(WebhookLog.id == parsed, WebhookLog.merchant_id == merchant_id)
        )
    if delivery is None:
        raise NotFound(NOT_FOUND)
    return delivery


async def get_delivery(db: Database, merchant_id: uuid.UUID, delivery_id: str) -> dict[str, Any]:
    async with db.read() as session:
        delivery = await _owned(session, merchant_id, delivery_id)
        attempts = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery.id)
            .order_by(WebhookAttempt.attempt, WebhookAttempt.id)
        )
        return delivery_summary(delivery) | {
            "event_id": delivery.event_id,
            "payload": delivery.payload,
            "next_retry_at": iso_z(delivery.next_retry_at) if delivery.next_retry_at else None,
            "response_body": delivery.response_body,
            "attempt_log": [_attempt_resource(attempt) for attempt in attempts],
        }


async def _reschedule(session: AsyncSession, delivery: WebhookLog) -> None:
    """The contract's manual retry: attempts back to 0, pending, a job due now."""
    now = utc_now()
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_retry_at = now
    delivery.updated_at = now
    await enqueue_delivery(session, delivery.id, now)


async def retry_delivery(db: Database, merchant_id: uuid.UUID, delivery_id: str) -> dict[str, Any]:
    async with db.transaction() as session:
        delivery = await _owned(session, merchant_id, delivery_id)
        await _reschedule(session, delivery)
        return {
            "id": str(delivery.id),
            "status": delivery.status,
            "message": "Webhook retry scheduled",
        }


async def recover_deliveries(
    db: Database, merchant_id: uuid.UUID, since: datetime, endpoint_id: str | None = None
) -> dict[str, Any]:
    """Re-send every failed delivery created since `since` whose endpoint can receive it now
    (enabled, with a URL): the way back after an outage or a re-enabled endpoint."""
    filters = [
        WebhookLog.merchant_id == merchant_id,
        WebhookLog.status == DeliveryStatus.FAILED,
        WebhookLog.created_at >= since,
        WebhookEndpoint.enabled.is_(True),
        WebhookEndpoint.url.is_not(None),
    ]
    if endpoint_id is not None:
        filters.append(WebhookLog.endpoint_id == endpoint_id)
    async with db.transaction() as session:
        deliveries = list(
            await session.scalars(
                select(WebhookLog)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookLog.endpoint_id)
                .where(*filters)
                .order_by(WebhookLog.created_at)
            )
        )
        for delivery in deliveries:
            await _reschedule(session, delivery)
    return {
        "recovered": len(deliveries),
        "since": iso_z(since),
        "message": "Webhook retries scheduled",
    }
