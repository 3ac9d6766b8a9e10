"""Provider notifications in: store, verify, de-duplicate, apply (DESIGN.md section 7).

The happy path is one transaction: the raw body, its normalised reports, the receipts that
de-duplicate them and every state change they cause commit together. When verification fails
the body is still stored (as `rejected`) and nothing is applied; when applying fails the
transaction rolls back and the body is stored as `failed` with its error, for replay.
"""

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import InboundEvent
from hazina.domain import ids
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.providers import (
    Capability,
    InvalidSignature,
    ProviderEvent,
    ProviderFailure,
    event_from_json,
    event_to_json,
    refuse_own_namespace,
)
from hazina.services.notifications.statuses import MESSAGE_KINDS, apply_message_report
from hazina.services.pages import Page, fetch_page
from hazina.services.payouts.settlement import PAYOUT_KINDS, apply_payout_report
from hazina.services.ports import SecretBox, WebhookPreparer
from hazina.services.provider_access import HookAccount, access_for_hook, default_access
from hazina.services.provider_accounts import CredentialsUnreadable
from hazina.services.registry import ProviderRegistry
from hazina.services.settlement import Applied, Outcome, Scope, UnknownPayment, apply_report
from hazina.services.throttle import SampleThrottle

log = logging.getLogger("hazina.inbound")
# On the table: written once per notification, it needs no unit of work.
_INSERT_INBOUND_EVENT = insert(cast(Table, InboundEvent.__table__))
# A rejected body is kept for debugging only: its first 4 KiB say what was sent.
REJECTED_SAMPLE_BYTES = 4096


class InboundStatus:
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the provider is answered: 2xx once stored and applied (or known duplicate/ignored),
    400 for a bad signature or body, 5xx when applying failed so the provider sends it again."""

    status_code: int
    inbound_event_id: str
    status: str
    # Failed because no payment of the account matches (a generic gateway answers 404).
    unknown_payment: bool = False


def _always_acknowledged(status_code: int, inbound_event_id: str, status: str) -> Receipt:
    """For providers that resend anything not answered 200 (Capability.ALWAYS_ACKNOWLEDGE):
    the notification is stored with its true status all the same."""
    return Receipt(200, inbound_event_id, status)


async def receive(
    db: Database,
    vault: SecretBox,
    registry: ProviderRegistry,
    provider: str,
    account_id: str | None,
    body: bytes,
    headers: Mapping[str, str],
    source: str,
    samples: SampleThrottle,
) -> Receipt:
    """`source` is the sender's address; `samples` says how many rejected bodies it may leave."""
    adapter = registry.get(provider)
    receipt: Callable[[int, str, str], Receipt] = (
        _always_acknowledged if Capability.ALWAYS_ACKNOWLEDGE in adapter.capabilities else Receipt
    )
    # Plain values, not an ORM object: they must survive a rolled-back transaction.
    row: dict[str, Any] = {
        "id": ids.new_id(ids.INBOUND_EVENT),
        "provider": provider,
        "provider_account_id": account_id,
        "merchant_id": None,
        "body": body,
        "received_at": utc_now(),
    }
    if account_id is None:  # the deployment's default account: nothing to read
        account = HookAccount(default_access(registry, provider), None)
    else:
        try:
            async with db.read() as session:
                account = await access_for_hook(session, vault, provider, account_id)
        except CredentialsUnreadable as exc:
            # The key that sealed them left the ring: keep the body, have the provider retry.
            log.error("inbound event %s: %s", row["id"], exc)
            await _store_unapplied(db, row, InboundStatus.FAILED, str(exc))
            return receipt(500, row["id"], InboundStatus.FAILED)
    row["merchant_id"] = account.merchant_id
    try:
        if _prepares(type(adapter)):  # e.g. PayPal's certificate, fetched once
            await cast(WebhookPreparer, adapter).prepare_webhook(account.access, body, headers)
        reports = adapter.parse_webhook(account.access, body, headers)
        refuse_own_namespace(reports)
    except ProviderFailure as exc:  # what verifying needs could not be fetched: resend
        await _store_unapplied(db, row, InboundStatus.FAILED, f"verification: {exc}")
        return receipt(500, row["id"], InboundStatus.FAILED)
    except InvalidSignature as exc:
        await _store_rejected(db, row, f"signature: {exc}", source, samples)
        return receipt(400, row["id"], InboundStatus.REJECTED)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested past the parser
        await _store_rejected(db, row, f"malformed: {exc}", source, samples)
        return receipt(400, row["id"], InboundStatus.REJECTED)

    row["events"] = [event_to_json(report) for report in reports]
    row["event_type"] = ",".join(sorted({r.raw_type for r in reports}))[:100] or None
    scope = Scope(
        provider, account.merchant_id, account_id, refundable=registry.can_refund(provider)
    )
    try:
        async with db.transaction() as session:
            outcome = await _apply_all(session, scope, row["id"], reports)
            # Written once, last: receipts name it by id, and its status is known by now.
            final = {
                **row,
                "status": outcome.status,
                "payment_id": outcome.payment_id,
                "merchant_id": outcome.merchant_id or account.merchant_id,
                "processed_at": utc_now(),
            }
            await session.execute(_INSERT_INBOUND_EVENT, final)
    except Exception as exc:
        if not isinstance(exc, UnknownPayment):
            log.exception("inbound event %s from %s failed to apply", row["id"], provider)
        await _store_unapplied(db, row, InboundStatus.FAILED, f"{type(exc).__name__}: {exc}")
        failed = receipt(500, row["id"], InboundStatus.FAILED)
        return replace(failed, unknown_payment=isinstance(exc, UnknownPayment))
    return receipt(200, row["id"], outcome.status)


@functools.cache
def _prepares(adapter_type: type) -> bool:
    """Whether an adapter class fetches what verifying needs first (`WebhookPreparer`). Asked
    once per class: a runtime Protocol check costs some 30 µs, on every notification."""
    return issubclass(adapter_type, WebhookPreparer)


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: str
    # The payment the notification was about, and so its merchant (for the default account).
    payment_id: str | None
    merchant_id: uuid.UUID | None


def _applier(report: ProviderEvent) -> Callable[..., Awaitable[Applied]]:
    """Payouts and messages have settlements of their own; everything else is a payment's."""
    if report.kind in PAYOUT_KINDS:
        return apply_payout_report
    if report.kind in MESSAGE_KINDS:
        return apply_message_report
    return apply_report


async def _apply_all(
    session: AsyncSession, scope: Scope, inbound_event_id: str, reports: list[ProviderEvent]
) -> _Outcome:
    results = [
        await _applier(report)(session, scope, report, inbound_event_id) for report in reports
    ]
    # A payment's report names its payment and merchant; a payout's only its merchant.
    touched = next((r for r in results if r.merchant_id is not None), None)
    if touched is None:
        return _Outcome(_status_of(results), None, None)
    return _Outcome(_status_of(results), touched.payment_id, touched.merchant_id)


def _status_of(results: list[Applied]) -> str:
    outcomes = {result.outcome for result in results}
    if outcomes & {Outcome.APPLIED, Outcome.RECORDED}:
        return InboundStatus.PROCESSED
    if Outcome.DUPLICATE in outcomes:
        return InboundStatus.DUPLICATE
    return InboundStatus.IGNORED


async def _store_rejected(
    db: Database, row: dict[str, Any], error: str, source: str, samples: SampleThrottle
) -> None:
    """Keep a bounded sample of a body that failed verification: anyone can send one, so only
    its first bytes, and only a few per source address (the rest are counted, not stored)."""
    if not await samples.admit(source):
        if samples.dropped % 1000 == 1:  # a line per thousand, so the log cannot flood either
            log.warning("rejected hook bodies unstored: %d, last from %s", samples.dropped, source)
        return
    body: bytes = row["body"]
    if len(body) > REJECTED_SAMPLE_BYTES:
        row = {**row, "body": body[:REJECTED_SAMPLE_BYTES]}
        error = f"{error} (body cut to {REJECTED_SAMPLE_BYTES} of {len(body)} bytes)"
    await _store_unapplied(db, row, InboundStatus.REJECTED, error)


async def _store_unapplied(db: Database, row: dict[str, Any], status: str, error: str) -> None:
    """Keep the body of a notification that was not applied. If this fails too, the error
    reaches the provider as a 5xx and it sends the notification again."""
    async with db.transaction() as session:
        session.add(InboundEvent(**row, status=status, error=error[:2000]))


async def replay(
    db: Database, registry: ProviderRegistry, inbound_event_id: str, merchant_id: uuid.UUID | None
) -> dict[str, Any]:
    """Apply a stored notification's reports again (`merchant_id` None: an operator, any
    merchant). Receipts make this safe: what was applied before is a duplicate now."""
    async with db.transaction() as session:
        query = select(InboundEvent).where(InboundEvent.id == inbound_event_id)
        if merchant_id is not None:
            query = query.where(InboundEvent.merchant_id == merchant_id)
        inbound = await session.scalar(query.with_for_update())
        if inbound is None:
            raise NotFound("Inbound event not found")
        if inbound.events is None:
            raise BadRequest(f"Inbound event was {inbound.status}: it has nothing to apply")
        reports = [event_from_json(data) for data in inbound.events]
        scope = Scope(
            inbound.provider,
            inbound.merchant_id,
            inbound.provider_account_id,
            refundable=registry.can_refund(inbound.provider),
        )
        inbound.attempts += 1
        await session.flush()
        try:
            async with session.begin_nested():
                outcome = await _apply_all(session, scope, inbound.id, reports)
        except Exception as exc:
            inbound.error = f"{type(exc).__name__}: {exc}"[:2000]
        else:
            if outcome.status != InboundStatus.DUPLICATE:  # else it was applied before: as is
                inbound.status, inbound.error = outcome.status, None
                inbound.processed_at = utc_now()
            inbound.payment_id = outcome.payment_id or inbound.payment_id
            inbound.merchant_id = outcome.merchant_id or inbound.merchant_id
        await session.flush()
        return inbound_event_resource(inbound)


async def list_inbound_events(
    db: Database, merchant_id: uuid.UUID, limit: int, offset: int
) -> Page:
    async with db.read() as session:
        return await fetch_page(
            session,
            InboundEvent,
            [InboundEvent.merchant_id == merchant_id],
            [InboundEvent.received_at.desc(), InboundEvent.id.desc()],
            inbound_event_resource,
            limit,
            offset,
        )


async def failed_inbound_event_ids(db: Database) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(
            select(InboundEvent.id)
            .where(InboundEvent.status == InboundStatus.FAILED, InboundEvent.events.is_not(None))
            .order_by(InboundEvent.received_at)
        )
        return list(rows)


def inbound_event_resource(inbound: InboundEvent) -> dict[str, Any]:
    return {
        "id": inbound.id,
        "provider": inbound.provider,
        "provider_account_id": inbound.provider_account_id,
        "status": inbound.status,
        "event_type": inbound.event_type,
        "payment_id": inbound.payment_id,
        "error": inbound.error,
        "attempts": inbound.attempts,
        "received_at": iso_z(inbound.received_at),
        "processed_at": None if inbound.processed_at is None else iso_z(inbound.processed_at),
    }
