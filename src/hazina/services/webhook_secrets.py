"""Webhook endpoint signing secrets, sealed in the vault like provider credentials.

Each token's associated data names its merchant, endpoint and field (`secret` or
`previous_secret`), so a token copied into another row or field does not open. Rows written
before migration 0009 (or by an older process during a rolling upgrade) hold plaintext with
`secrets_sealed = false`; `seal_endpoint` turns them into tokens, and re-seals tokens under an
older key, one endpoint per transaction: start-up runs it for unsealed rows, `hazina keys rotate`
for every row.
"""

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import WebhookEndpoint
from hazina.services.ports import SecretBox


class SecretField(StrEnum):
    """Which of an endpoint's two secrets a token holds (part of its associated data)."""

    CURRENT = "secret"
    PREVIOUS = "previous_secret"


class WebhookSecretUnreadable(ValueError):
    """A sealed endpoint secret does not open: its key left the ring, or the row was altered."""


def secret_context(merchant_id: uuid.UUID, endpoint_id: str, field_name: SecretField) -> str:
    """The associated data binding a sealed endpoint secret to where it belongs."""
    return f"{merchant_id}:webhook_endpoint:{endpoint_id}:{field_name}"


def seal_secret(
    vault: SecretBox,
    merchant_id: uuid.UUID,
    endpoint_id: str,
    field_name: SecretField,
    plaintext: str,
) -> str:
    return vault.encrypt(plaintext, secret_context(merchant_id, endpoint_id, field_name))


def open_secret(
    vault: SecretBox,
    merchant_id: uuid.UUID,
    endpoint_id: str,
    field_name: SecretField,
    stored: str,
    *,
    sealed: bool,
) -> str:
    """The plaintext of a stored secret; an unsealed (legacy) row's value is its plaintext."""
    if not sealed:
        return stored
    try:
        return vault.decrypt(stored, secret_context(merchant_id, endpoint_id, field_name))
    except ValueError as exc:
        raise WebhookSecretUnreadable(
            f"{field_name} of webhook endpoint {endpoint_id} does not decrypt: {exc}"
        ) from None


def set_secrets(
    vault: SecretBox, endpoint: WebhookEndpoint, secret: str, previous: str | None
) -> None:
    """Store both secrets of an endpoint (its id and merchant set), sealed."""
    endpoint.secret = seal_secret(
        vault, endpoint.merchant_id, endpoint.id, SecretField.CURRENT, secret
    )
    endpoint.previous_secret = (
        None
        if previous is None
        else seal_secret(vault, endpoint.merchant_id, endpoint.id, SecretField.PREVIOUS, previous)
    )
    endpoint.secrets_sealed = True


def current_secret(vault: SecretBox, endpoint: WebhookEndpoint) -> str:
    return open_secret(
        vault,
        endpoint.merchant_id,
        endpoint.id,
        SecretField.CURRENT,
        endpoint.secret,
        sealed=endpoint.secrets_sealed,
    )


def previous_secret(vault: SecretBox, endpoint: WebhookEndpoint) -> str | None:
    if endpoint.previous_secret is None:
        return None
    return open_secret(
        vault,
        endpoint.merchant_id,
        endpoint.id,
        SecretField.PREVIOUS,
        endpoint.previous_secret,
        sealed=endpoint.secrets_sealed,
    )


def _is_current(vault: SecretBox, endpoint: WebhookEndpoint) -> bool:
    tokens = [endpoint.secret, endpoint.previous_secret]
    return endpoint.secrets_sealed and all(
        vault.is_current(token) for token in tokens if token is not None
    )


async def seal_endpoint(db: Database, vault: SecretBox, endpoint_id: str) -> bool:
    """Seal (or re-seal under the newest key) one endpoint's secrets; True if it changed.
    Locked, so a regeneration racing it is not overwritten; a repeated run changes nothing."""
    async with db.transaction() as session:
        endpoint = await session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update()
        )
        if endpoint is None or _is_current(vault, endpoint):
            return False
        set_secrets(
            vault, endpoint, current_secret(vault, endpoint), previous_secret(vault, endpoint)
        )
        return True


@dataclass(frozen=True, slots=True)
class SealingResult:
    endpoints: int  # examined
    endpoints_sealed: int


async def seal_endpoints(db: Database, vault: SecretBox, *, unsealed_only: bool) -> SealingResult:
    """Every endpoint (rotation), or only those still holding plaintext (start-up)."""
    statement = select(WebhookEndpoint.id).order_by(WebhookEndpoint.id)
    if unsealed_only:
        statement = statement.where(WebhookEndpoint.secrets_sealed.is_(False))
    async with db.read() as session:
        endpoint_ids = list(await session.scalars(statement))
    sealed = 0
    for endpoint_id in endpoint_ids:
        sealed += await seal_endpoint(db, vault, endpoint_id)
    return SealingResult(len(endpoint_ids), sealed)
