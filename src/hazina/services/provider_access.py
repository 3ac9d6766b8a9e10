"""Which account speaks for a call to a provider: the merchant's own, or the deployment's
default account for that provider (a single-tenant deployment configured by environment)."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Payment, ProviderAccount
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.providers import ProviderAccess
from hazina.services.ports import SecretBox
from hazina.services.provider_accounts import open_account, read_access
from hazina.services.registry import ProviderRegistry


@dataclass(frozen=True, slots=True)
class HookAccount:
    """The account a provider notification arrived for. `merchant_id` None: the default
    account, shared by every merchant without an account of its own."""

    access: ProviderAccess
    merchant_id: uuid.UUID | None


def default_access(registry: ProviderRegistry, provider: str) -> ProviderAccess:
    """The deployment's account (hooks at `/hooks/{provider}`, and the payments started
    through it), whatever its mode; NotFound if there is none."""
    default = registry.defaults.get(provider)
    if default is None:
        raise NotFound(f"No default {provider} account is configured")
    return default


async def access_for_merchant(
    session: AsyncSession,
    vault: SecretBox,
    registry: ProviderRegistry,
    merchant_id: uuid.UUID,
    provider: str,
    *,
    livemode: bool,
    name: str = "",
) -> ProviderAccess:
    """For starting a payment of the merchant twin `merchant_id` (whose mode is `livemode`);
    `name` picks one of its generic gateways."""
    try:
        return await read_access(session, vault, provider, merchant_id=merchant_id, name=name)
    except NotFound:
        default = registry.default_access(provider, livemode=livemode)
        if default is None:
            mode = "live" if livemode else "test"
            raise BadRequest(
                f"No {provider} account is configured for this merchant in {mode} mode"
            ) from None
        return default


async def access_for_hook(
    session: AsyncSession, vault: SecretBox, provider: str, account_id: str
) -> HookAccount:
    """For verifying a notification sent to `/hooks/{provider}/{account_id}`."""
    account = await session.scalar(
        select(ProviderAccount).where(
            ProviderAccount.id == account_id, ProviderAccount.provider == provider
        )
    )
    if account is None:
        raise NotFound("Provider account not found")
    return HookAccount(open_account(vault, account), account.merchant_id)


async def access_for_payment(
    session: AsyncSession, vault: SecretBox, registry: ProviderRegistry, payment: Payment
) -> ProviderAccess:
    """The account a payment was started through, which alone can speak about it."""
    if payment.provider_account_id is None:
        return default_access(registry, payment.provider)
    return await read_access(
        session,
        vault,
        payment.provider,
        merchant_id=payment.merchant_id,
        account_id=payment.provider_account_id,
    )
