"""Key rotation: re-seal every provider secret and webhook endpoint secret under the vault's
newest key (sealing any endpoint secret still in plaintext on the way).

One transaction per account or endpoint, so an interrupted run keeps what it finished and the
next run skips those (their tokens are current): rotation is resumable and safe to repeat.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import ProviderAccount
from hazina.services.audit import record_audit
from hazina.services.ports import SecretBox
from hazina.services.provider_accounts import CredentialsUnreadable, account_secret_context
from hazina.services.webhook_secrets import seal_endpoints


@dataclass(frozen=True, slots=True)
class RotationResult:
    accounts: int  # examined
    accounts_rotated: int
    secrets_rotated: int
    endpoints: int  # webhook endpoints examined
    endpoints_rotated: int


async def _rotate_account(db: Database, vault: SecretBox, account_id: str) -> int:
    """Re-seal the account's stale tokens; the number re-sealed. A token that does not open
    stops the rotation (CredentialsUnreadable) rather than leave it behind unnoticed."""
    async with db.transaction() as session:
        # Locked, so a credential change racing the rotation is not overwritten.
        account = await session.scalar(
            select(ProviderAccount).where(ProviderAccount.id == account_id).with_for_update()
        )
        if account is None:  # deleted since the run listed it
            return 0
        stale = {name for name, token in account.secrets.items() if not vault.is_current(token)}
        if not stale:
            return 0
        resealed = dict(account.secrets)
        for name in stale:
            context = account_secret_context(account, name)
            try:
                plaintext = vault.decrypt(resealed[name], context)
            except ValueError as exc:
                raise CredentialsUnreadable(
                    f"{name} of provider account {account.id} does not decrypt: {exc}"
                ) from None
            resealed[name] = vault.encrypt(plaintext, context)
        # A new dict, not an in-place edit: JSON columns only notice a replaced value.
        account.secrets = resealed
        return len(stale)


async def rotate_secrets(
    db: Database,
    vault: SecretBox,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    actor: str = "cli",
) -> RotationResult:
    """Re-seal every secret not under the newest key; `on_progress(done, total)` after each
    account. Webhook endpoints follow the accounts. The run is audited once, with its counts."""
    async with db.read() as session:
        account_ids = list(
            await session.scalars(select(ProviderAccount.id).order_by(ProviderAccount.id))
        )
    accounts_rotated = secrets_rotated = 0
    for done, account_id in enumerate(account_ids, start=1):
        rotated = await _rotate_account(db, vault, account_id)
        accounts_rotated += rotated > 0
        secrets_rotated += rotated
        if on_progress is not None:
            on_progress(done, len(account_ids))
    endpoints = await seal_endpoints(db, vault, unsealed_only=False)
    result = RotationResult(
        len(account_ids),
        accounts_rotated,
        secrets_rotated,
        endpoints.endpoints,
        endpoints.endpoints_sealed,
    )
    async with db.transaction() as session:
        record_audit(
            session,
            actor=actor,
            action="vault.keys_rotated",
            target="vault",
            merchant_id=None,
            details={
                "accounts": result.accounts,
                "accounts_rotated": result.accounts_rotated,
                "secrets_rotated": result.secrets_rotated,
                "webhook_endpoints": result.endpoints,
                "webhook_endpoints_rotated": result.endpoints_rotated,
            },
        )
    return result
