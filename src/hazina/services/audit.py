"""The audit log: who changed which credential or key, and when."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import AuditLog
from hazina.domain.clock import iso_z
from hazina.domain.redaction import redact_url
from hazina.services.pages import Page, fetch_page


def record_audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    merchant_id: uuid.UUID | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the caller's transaction. `details` must never hold a secret; URLs
    in it (a webhook URL with `user:pass@` or `?token=`) are stored with their credentials
    masked, since merchants read these rows back."""
    session.add(
        AuditLog(
            merchant_id=merchant_id,
            actor=actor,
            action=action,
            target=target,
            details=None if details is None else _redacted(details),
        )
    )


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def audit_resource(entry: AuditLog) -> dict[str, Any]:
    return {
        "id": entry.id,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
        "created_at": iso_z(entry.created_at),
    }


async def list_audit_logs(db: Database, merchant_id: uuid.UUID, limit: int, offset: int) -> Page:
    """The merchant's own rows, newest first; deployment-wide rows (key rotation) stay out."""
    async with db.read() as session:
        return await fetch_page(
            session,
            AuditLog,
            [AuditLog.merchant_id == merchant_id],
            [AuditLog.created_at.desc(), AuditLog.id.desc()],
            audit_resource,
            limit,
            offset,
        )
