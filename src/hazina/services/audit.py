"""The audit log: who changed which credential or key, and when."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import AuditLog


def record_audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str,
    merchant_id: uuid.UUID | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the caller's transaction. `details` must never hold a secret."""
    session.add(
        AuditLog(
            merchant_id=merchant_id, actor=actor, action=action, target=target, details=details
        )
    )
