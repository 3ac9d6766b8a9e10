"""Provider accounts: a merchant's own Stripe or ClickPesa credentials, sealed in the vault.
Generic gateways are accounts too, several per merchant by name (services.gateways makes them).

Credentials are write-only. A PUT replaces the account's credentials as a whole: every
required field must be given, and an optional field left out is removed. Reads show masks only.
Each secret is sealed with a context naming its merchant, provider and field, so a token
copied into another row or field does not decrypt.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import Payment, ProviderAccount
from hazina.db.statements import fresh_id
from hazina.domain import ids
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.gateways import GENERIC, METHOD_PREFIX, PREVIOUS_SIGNING_SECRET
from hazina.domain.providers import CredentialFields, ProviderAccess
from hazina.domain.states import PaymentStatus
from hazina.services.audit import record_audit
from hazina.services.ports import SecretBox

MODES = ("test", "live")
MAX_SECRET_LENGTH = 4096
# Shorter secrets show no last four: four characters of a short secret give too much away.
_MIN_LENGTH_FOR_HINT = 12


class CredentialsUnreadable(ValueError):
    """A stored secret does not decrypt: its key left the ring, or the row was tampered with."""


def secret_context(merchant_id: uuid.UUID, provider: str, field_name: str) -> str:
    """The associated data binding a sealed secret to where it belongs."""
    return f"{merchant_id}:{provider}:{field_name}"


def account_secret_context(account: ProviderAccount, field_name: str) -> str:
    """A named account (one of a merchant's generic gateways) binds its secrets to itself too,
    so a token copied from one gateway to another does not open."""
    if account.name:
        return f"{account.merchant_id}:{account.provider}:{account.id}:{field_name}"
    return secret_context(account.merchant_id, account.provider, field_name)


def _hint(secret: str) -> str | None:
    return secret[-4:] if len(secret) >= _MIN_LENGTH_FOR_HINT else None


def _validated(
    provider: str, mode: str, secrets: Mapping[str, str], fields: CredentialFields
) -> dict[str, str]:
    """The credentials to store, or BadRequest naming the first problem (never a value)."""
    if mode not in MODES:
        raise BadRequest("mode must be one of: test, live")
    unknown = sorted(set(secrets) - set(fields.names))
    if unknown:
        raise BadRequest(
            f"Unknown credential fields for {provider}: {', '.join(unknown)} "
            f"(accepted: {', '.join(fields.names)})"
        )
    given = {name: value.strip() for name, value in secrets.items() if value.strip()}
    missing = [name for name in fields.required if name not in given]
    if missing:
        raise BadRequest(f"Missing credential fields for {provider}: {', '.join(missing)}")
    for name, value in given.items():
        if len(value) > MAX_SECRET_LENGTH or any(ch.isspace() or ch == "\x00" for ch in value):
            raise BadRequest(
                f"{name} must be at most {MAX_SECRET_LENGTH} characters without spaces"
            )
        prefixes = tuple(prefix.format(mode=mode) for prefix in fields.prefixes.get(name, ()))
        if prefixes and not value.startswith(prefixes):
            raise BadRequest(f"{name} must start with {' or '.join(prefixes)} in {mode} mode")
    return given


def _twin_mode(mode: str | None, livemode: bool) -> str:
    twin, other = ("live", "test") if livemode else ("test", "live")
    if mode and mode != twin:
        raise BadRequest(
            f"mode must be {twin}: {twin} keys manage {twin} accounts only "
            f"(use the {other} keys, or the dashboard's {other} mode, for {other} accounts)"
        )
    return twin


def account_resource(
    account: ProviderAccount, base_url: str, fields: CredentialFields | None = None
) -> dict[str, Any]:
    """The read shape: which fields are configured and their last four characters only."""
    names = list(fields.names) if fields else []
    names += [name for name in account.secrets if name not in names]
    named = (
        {"name": account.name, "method": f"{METHOD_PREFIX}{account.name}"} if account.name else {}
    )
    return {
        "id": account.id,
        "provider": account.provider,
        **named,
        "mode": account.mode,
        "webhook_url": f"{base_url}/hooks/{account.provider}/{account.id}",
        **({"settings": dict(account.settings)} if account.settings else {}),
        "credentials": {
            name: {
                "configured": name in account.secrets,
                "last4": f"…{account.hints[name]}" if account.hints.get(name) else None,
            }
            for name in names
        },
        "created_at": iso_z(account.created_at),
        "updated_at": iso_z(account.updated_at),
    }


def _fields_for(provider: str, catalogue: Mapping[str, CredentialFields]) -> CredentialFields:
    fields = catalogue.get(provider)
    if fields is None:
        raise BadRequest(
            f"Unsupported provider {provider!r}: use one of "
            f"{', '.join(sorted(set(catalogue) - {GENERIC}))}"
        )
    return fields


async def _account(
    session: AsyncSession, merchant_id: uuid.UUID, provider: str, *, lock: bool = False
) -> ProviderAccount | None:
    statement = select(ProviderAccount).where(
        ProviderAccount.merchant_id == merchant_id,
        ProviderAccount.provider == provider,
        ProviderAccount.name == "",
    )
    return await session.scalar(statement.with_for_update() if lock else statement)


def _opens_to(vault: SecretBox, token: Any, context: str, plaintext: str) -> bool:
    try:
        return isinstance(token, str) and vault.decrypt(token, context) == plaintext
    except ValueError:
        return False


async def _save(
    db: Database,
    vault: SecretBox,
    merchant_id: uuid.UUID,
    provider: str,
    mode: str,
    given: dict[str, str],
    actor: str,
    base_url: str,
    fields: CredentialFields,
) -> dict[str, Any]:
    async with db.transaction() as session:
        account = await _account(session, merchant_id, provider, lock=True)
        created = account is None
        if account is None:
            account = ProviderAccount(
                id=await fresh_id(session, ProviderAccount, ids.PROVIDER_ACCOUNT),
                merchant_id=merchant_id,
                provider=provider,
                mode=mode,
                secrets={},
                hints={},
            )
            session.add(account)
        old = dict(account.secrets)
        sealed = {
            name: vault.encrypt(value, secret_context(merchant_id, provider, name))
            for name, value in given.items()
        }
        changed = sorted(
            name
            for name, value in given.items()
            if not _opens_to(
                vault, old.get(name), secret_context(merchant_id, provider, name), value
            )
        )
        # New dicts, not in-place edits: JSON columns only notice a replaced value.
        account.secrets = sealed
        account.hints = {name: _hint(value) for name, value in given.items()}
        previous_mode, account.mode = account.mode, mode
        account.updated_at = utc_now()
        await session.flush()
        record_audit(
            session,
            actor=actor,
            action="provider_account.created" if created else "provider_account.updated",
            target=f"provider_account:{account.id}",
            merchant_id=merchant_id,
            details={
                "provider": provider,
                "mode": mode,
                "previous_mode": None if created else previous_mode,
                "changed": changed,
                "removed": sorted(set(old) - set(given)),
            },
        )
        return account_resource(account, base_url, fields)


async def put_account(
    db: Database,
    vault: SecretBox,
    merchant_id: uuid.UUID,
    provider: str,
    mode: str | None,
    secrets: Mapping[str, str],
    actor: str,
    *,
    livemode: bool,
    base_url: str,
    catalogue: Mapping[str, CredentialFields],
) -> dict[str, Any]:
    """Create or replace the merchant twin's account at `provider`; bad input changes nothing.

    The account's mode is its twin's (`livemode`): a `mode` given must name it, so a live
    credential can never be saved through test keys, nor the other way round. The account
    keeps its id across replacements, so the webhook URL pasted into the provider's dashboard
    stays valid. `catalogue` maps provider names to their fields.
    """
    if provider == GENERIC:
        raise BadRequest(
            "Generic gateways are named and their secret is generated: "
            "use PUT /api/v1/provider-accounts/generic/{name}"
        )
    mode = _twin_mode(mode, livemode)
    fields = _fields_for(provider, catalogue)
    given = _validated(provider, mode, secrets, fields)
    try:
        return await _save(db, vault, merchant_id, provider, mode, given, actor, base_url, fields)
    except IntegrityError:
        # A concurrent first PUT inserted the row between our read and insert: replace it.
        return await _save(db, vault, merchant_id, provider, mode, given, actor, base_url, fields)


async def list_accounts(
    db: Database,
    merchant_id: uuid.UUID,
    base_url: str,
    catalogue: Mapping[str, CredentialFields],
) -> list[dict[str, Any]]:
    async with db.read() as session:
        accounts = await session.scalars(
            select(ProviderAccount)
            .where(ProviderAccount.merchant_id == merchant_id)
            .order_by(ProviderAccount.provider, ProviderAccount.name)
        )
        return [
            account_resource(account, base_url, catalogue.get(account.provider))
            for account in accounts
        ]


async def delete_account(
    db: Database, merchant_id: uuid.UUID, provider: str, actor: str, *, name: str = ""
) -> None:
    async with db.transaction() as session:
        account = await session.scalar(
            select(ProviderAccount)
            .where(
                ProviderAccount.merchant_id == merchant_id,
                ProviderAccount.provider == provider,
                ProviderAccount.name == name,
            )
            .with_for_update()
        )
        if account is None:
            raise NotFound("Provider account not found")
        # Its credentials are what verifies their webhooks and asks about them.
        pending = await session.scalar(
            select(Payment.id)
            .where(
                Payment.provider_account_id == account.id,
                Payment.status == PaymentStatus.PENDING,
            )
            .limit(1)
        )
        if pending is not None:
            raise BadRequest(
                f"The {provider} account still has payments pending (such as {pending}): "
                "remove it once they are settled"
            )
        await session.delete(account)
        record_audit(
            session,
            actor=actor,
            action="provider_account.deleted",
            target=f"provider_account:{account.id}",
            merchant_id=merchant_id,
            details={
                "provider": provider,
                **({"name": name} if name else {}),
                "removed": sorted(account.secrets),
            },
        )


def open_account(vault: SecretBox, account: ProviderAccount) -> ProviderAccess:
    """Decrypt every credential of the account, for one call to its provider. A rotated
    signing secret's predecessor is left out once its overlap has ended."""
    secrets: dict[str, str] = {}
    overlap_until = account.previous_secret_expires_at
    for name, token in account.secrets.items():
        if name == PREVIOUS_SIGNING_SECRET and (
            overlap_until is None or overlap_until <= utc_now()
        ):
            continue
        context = account_secret_context(account, name)
        try:
            secrets[name] = vault.decrypt(str(token), context)
        except ValueError as exc:
            raise CredentialsUnreadable(
                f"{name} of provider account {account.id} does not decrypt: {exc}"
            ) from None
    settings = {key: str(value) for key, value in (account.settings or {}).items()}
    return ProviderAccess(account.provider, account.id, account.mode, secrets, settings)


async def read_access(
    session: AsyncSession,
    vault: SecretBox,
    provider: str,
    *,
    merchant_id: uuid.UUID | None = None,
    account_id: str | None = None,
    name: str = "",
) -> ProviderAccess:
    """An account's decrypted credentials, by id (inbound hooks), by merchant and `name` (a
    gateway's; outbound calls) or by both; NotFound if none matches, CredentialsUnreadable
    if they do not open."""
    if merchant_id is None and account_id is None:
        raise ValueError("give merchant_id, account_id or both")
    filters = [ProviderAccount.provider == provider]
    if merchant_id is not None:
        filters.append(ProviderAccount.merchant_id == merchant_id)
    if account_id is not None:
        filters.append(ProviderAccount.id == account_id)
    else:
        filters.append(ProviderAccount.name == name)
    account = await session.scalar(select(ProviderAccount).where(*filters))
    if account is None:
        raise NotFound("Provider account not found")
    return open_account(vault, account)


async def load_access(
    db: Database,
    vault: SecretBox,
    provider: str,
    *,
    merchant_id: uuid.UUID | None = None,
    account_id: str | None = None,
) -> ProviderAccess:
    """`read_access` in a read transaction of its own."""
    async with db.read() as session:
        return await read_access(
            session, vault, provider, merchant_id=merchant_id, account_id=account_id
        )
