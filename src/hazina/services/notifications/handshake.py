"""Meta's subscription handshake for `/hooks/whatsapp/{account_id}`: the verify token the
merchant chose, compared in constant time; anything else is refused."""

import hmac

from hazina.db.database import Database
from hazina.domain.errors import NotFound
from hazina.services.notifications.channels import WHATSAPP_PROVIDER
from hazina.services.ports import SecretBox
from hazina.services.provider_accounts import CredentialsUnreadable, load_access


async def accepts_subscription(
    db: Database, vault: SecretBox, account_id: str, mode: str | None, token: str | None
) -> bool:
    if mode != "subscribe" or not token:
        return False
    try:
        access = await load_access(db, vault, WHATSAPP_PROVIDER, account_id=account_id)
    except (NotFound, CredentialsUnreadable):
        return False
    expected = access.secrets.get("verify_token", "")
    return bool(expected) and hmac.compare_digest(expected.encode(), token.encode())
