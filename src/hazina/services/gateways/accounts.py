"""A merchant's generic gateways: registered by name with a redirect URL template, and a
signing secret Hazina generates, shows once and seals (bound to the account itself).

Rotation works as for outbound webhook secrets (services.webhook_endpoints): the new secret is
shown once and the previous one keeps verifying for `SECRET_OVERLAP`, so a gateway can switch
without a webhook refused in between.
"""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import ProviderAccount
from hazina.db.statements import fresh_id
from hazina.domain import ids
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.gateways import (
    GENERIC,
    PREVIOUS_SIGNING_SECRET,
    SIGNING_SECRET,
    TEMPLATE_SETTING,
    generate_secret,
    validate_name,
    validate_template,
)
from hazina.domain.webhooks import SECRET_OVERLAP
from hazina.services.audit import record_audit
from hazina.services.ports import SecretBox
from hazina.services.provider_accounts import (
    account_resource,
    account_secret_context,
    open_account,
)


async def _gateway(
    session: AsyncSession, merchant_id: uuid.UUID, name: str
) -> ProviderAccount | None:
    return await session.scalar(
        select(ProviderAccount)
        .where(
            ProviderAccount.merchant_id == merchant_id,
            ProviderAccount.provider == GENERIC,
            ProviderAccount.name == name,
        )
        .with_for_update()
    )


def _seal(vault: SecretBox, account: ProviderAccount, secret: str, previous: str | None) -> None:
    context = account_secret_context(account, SIGNING_SECRET)
    sealed = {SIGNING_SECRET: vault.encrypt(secret, context)}
    if previous is not None:
        context = account_secret_context(account, PREVIOUS_SIGNING_SECRET)
        sealed[PREVIOUS_SIGNING_SECRET] = vault.encrypt(previous, context)
    # New dicts, not in-place edits: JSON columns only notice a replaced value.
    account.secrets = sealed
    account.hints = {SIGNING_SECRET: secret[-4:]}


async def _save(
    db: Database,
    vault: SecretBox,
    merchant_id: uuid.UUID,
    name: str,
    template: str,
    *,
    livemode: bool,
    actor: str,
    base_url: str,
) -> dict[str, Any]:
    async with db.transaction() as session:
        account = await _gateway(session, merchant_id, name)
        created = account is None
        secret = None
        if account is None:
            account = ProviderAccount(
                id=await fresh_id(session, ProviderAccount, ids.PROVIDER_ACCOUNT),
                merchant_id=merchant_id,
                provider=GENERIC,
                name=name,
                mode="live" if livemode else "test",
                secrets={},
                hints={},
            )
            session.add(account)
            secret = generate_secret()
            _seal(vault, account, secret, None)
        previous_template = (account.settings or {}).get(TEMPLATE_SETTING)
        account.settings = {TEMPLATE_SETTING: template}
        account.updated_at = utc_now()
        await session.flush()
        record_audit(
            session,
            actor=actor,
            action="provider_account.created" if created else "provider_account.updated",
            target=f"provider_account:{account.id}",
            merchant_id=merchant_id,
            details={
                "provider": GENERIC,
                "name": name,
                "redirect_url_template": template,
                "previous_redirect_url_template": previous_template,
            },
        )
        return _shown(account, base_url, secret)


def _shown(account: ProviderAccount, base_url: str, secret: str | None) -> dict[str, Any]:
    """The account's read shape, plus its secret when it was just generated: the only time
    it is shown."""
    resource = account_resource(account, base_url)
    return resource if secret is None else {**resource, SIGNING_SECRET: secret}


async def put_gateway(
    db: Database,
    vault: SecretBox,
    merchant_id: uuid.UUID,
    name: str,
    redirect_url_template: str,
    *,
    livemode: bool,
    actor: str,
    base_url: str,
) -> tuple[bool, dict[str, Any]]:
    """Register the gateway `name` (its secret generated and shown once) or change its
    template; (created, the account). Bad input changes nothing."""
    validate_name(name)
    template = validate_template(redirect_url_template)
    args = (db, vault, merchant_id, name, template)
    try:
        shown = await _save(*args, livemode=livemode, actor=actor, base_url=base_url)
    except IntegrityError:
        # A concurrent first PUT inserted it between our read and insert: update that one.
        shown = await _save(*args, livemode=livemode, actor=actor, base_url=base_url)
    return SIGNING_SECRET in shown, shown


async def rotate_secret(
    db: Database, vault: SecretBox, merchant_id: uuid.UUID, name: str, actor: str, base_url: str
) -> dict[str, Any]:
    """A new signing secret, shown once; the current one keeps verifying for SECRET_OVERLAP."""
    async with db.transaction() as session:
        account = await _gateway(session, merchant_id, name)
        if account is None:
            raise NotFound("Generic gateway not found")
        current = open_account(vault, account).secret(SIGNING_SECRET)
        if current is None:
            raise BadRequest(f"Generic gateway {name} has no signing secret to rotate")
        secret = generate_secret()
        _seal(vault, account, secret, current)
        account.previous_secret_expires_at = utc_now() + SECRET_OVERLAP
        account.updated_at = utc_now()
        await session.flush()
        record_audit(
            session,
            actor=actor,
            action="provider_account.secret_rotated",
            target=f"provider_account:{account.id}",
            merchant_id=merchant_id,
            details={
                "provider": GENERIC,
                "name": name,
                "previous_secret_valid_until": iso_z(account.previous_secret_expires_at),
            },
        )
        return {
            **_shown(account, base_url, secret),
            "previous_secret_valid_until": iso_z(account.previous_secret_expires_at),
        }
