"""Decrypted credentials for one call to a provider: the merchant's own account, or the
deployment's default account for that provider."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Payment, ProviderAccount
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.providers import ProviderAccess
from hazina.services.ports import SecretBox
from hazina.services.registry import ProviderRegistry


def secret_context(merchant_id: uuid.UUID, provider: str, field: str) -> str:
    """What each ciphertext is bound to: a token copied to another row does not decrypt."""
    return f"{merchant_id}:{provider}:{field}"


def decrypt_account(vault: SecretBox, account: ProviderAccount) -> ProviderAccess:
    secrets = {
        name: vault.decrypt(token, secret_context(account.merchant_id, account.provider, name))
        for name, token in account.secrets.items()
    }
    return ProviderAccess(account.provider, account.id, account.mode, secrets)


@dataclass(frozen=True, slots=True)
class HookAccount:
    """The account a provider notification arrived for. `merchant_id` None: the default
    account, shared by every merchant without an account of its own."""

    access: ProviderAccess
    merchant_id: uuid.UUID | None


async def access_for_merchant(
    session: AsyncSession,
    vault: SecretBox,
    registry: ProviderRegistry,
    merchant_id: uuid.UUID,
    provider: str,
) -> ProviderAccess:
    account = await session.scalar(
        select(ProviderAccount).where(
            ProviderAccount.merchant_id == merchant_id, ProviderAccount.provider == provider
        )
    )
    if account is not None:
        return decrypt_account(vault, account)
    default = registry.default_access(provider)
    if default is None:
        raise BadRequest(f"No {provider} account is configured for this merchant")
    return default


async def access_for_hook(
    session: AsyncSession,
    vault: SecretBox,
    registry: ProviderRegistry,
    provider: str,
    account_id: str | None,
) -> HookAccount:
    if account_id is None:
        default = registry.default_access(provider)
        if default is None:
            raise NotFound(f"No default {provider} account is configured")
        return HookAccount(default, None)
    account = await session.scalar(
        select(ProviderAccount).where(
            ProviderAccount.id == account_id, ProviderAccount.provider == provider
        )
    )
    if account is None:
        raise NotFound("Provider account not found")
    return HookAccount(decrypt_account(vault, account), account.merchant_id)


async def access_for_payment(
    session: AsyncSession, vault: SecretBox, registry: ProviderRegistry, payment: Payment
) -> ProviderAccess:
    """The account a payment was started through, which alone can speak about it."""
    if payment.provider_account_id is None:
        default = registry.default_access(payment.provider)
        if default is None:
            raise NotFound(f"No default {payment.provider} account is configured")
        return default
    account = await session.scalar(
        select(ProviderAccount).where(
            ProviderAccount.id == payment.provider_account_id,
            ProviderAccount.merchant_id == payment.merchant_id,
        )
    )
    if account is None:
        raise NotFound("The payment's provider account was deleted")
    return decrypt_account(vault, account)
