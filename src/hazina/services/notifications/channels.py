"""Which channels a merchant twin can send on: WhatsApp through its own WhatsApp account, email
through the deployment's SMTP server."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import ProviderAccount
from hazina.domain.errors import BadRequest
from hazina.domain.notifications import Channel

WHATSAPP_PROVIDER = "whatsapp"


async def require_channels(
    session: AsyncSession,
    merchant_id: uuid.UUID,
    channels: tuple[Channel, ...],
    *,
    smtp_configured: bool,
) -> None:
    """A 400 naming what is missing, so nothing is queued that can never be sent."""
    if Channel.EMAIL in channels and not smtp_configured:
        raise BadRequest(
            "email cannot be sent: this deployment has no SMTP server (HAZINA_SMTP_HOST)"
        )
    if Channel.WHATSAPP in channels:
        account = await session.scalar(
            select(ProviderAccount.id).where(
                ProviderAccount.merchant_id == merchant_id,
                ProviderAccount.provider == WHATSAPP_PROVIDER,
            )
        )
        if account is None:
            raise BadRequest("WhatsApp is not connected: add a whatsapp provider account first")
