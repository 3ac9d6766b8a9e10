"""Merchant creation: the unique email and API key decide, and a refusal leaves nothing behind."""

import pytest
from sqlalchemy import func, select

from hazina.db.database import Database
from hazina.db.models import AuditLog, Merchant, WebhookEndpoint
from hazina.domain.errors import Conflict
from hazina.services.merchants import create_merchant
from hazina.services.ports import SecretBox


async def _count(db: Database, model: type[Merchant | WebhookEndpoint | AuditLog]) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_taken_email_is_a_conflict_and_changes_nothing(
    db: Database, vault: SecretBox
) -> None:
    await create_merchant(db, vault, name="Duka", email="owner@duka.example", actor="test")
    before = [await _count(db, model) for model in (Merchant, WebhookEndpoint, AuditLog)]
    with pytest.raises(Conflict, match=r"owner@duka\.example"):
        await create_merchant(db, vault, name="Other", email="owner@duka.example", actor="test")
    assert [await _count(db, model) for model in (Merchant, WebhookEndpoint, AuditLog)] == before


async def test_a_taken_api_key_is_a_conflict(db: Database, vault: SecretBox) -> None:
    await create_merchant(
        db, vault, name="A", email="a@example.com", actor="test", api_key="key_same"
    )
    with pytest.raises(Conflict):
        await create_merchant(
            db, vault, name="B", email="b@example.com", actor="test", api_key="key_same"
        )
    # The seeded test merchant and A, each a test and a live twin; nothing of B.
    assert await _count(db, Merchant) == 4
