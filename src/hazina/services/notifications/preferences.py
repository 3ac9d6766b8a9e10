"""Who a merchant twin tells what (`notification_settings`): the business's own phone and email,
and the channels for "your order was paid", for buyers' receipts, and for creators (what they
earned, a payout ended: each creator reached through its own contact, `contacts`)."""

import uuid
from dataclasses import dataclass

from hazina.db.database import Database
from hazina.db.models import NotificationSetting
from hazina.domain.clock import utc_now
from hazina.domain.errors import BadRequest
from hazina.domain.notifications import Channel
from hazina.services.links.requests import checked_phone
from hazina.services.notifications.channels import require_channels


@dataclass(frozen=True, slots=True)
class Preferences:
    merchant_email: str | None = None
    merchant_phone: str | None = None
    paid_channels: tuple[str, ...] = ()
    receipt_channels: tuple[str, ...] = ()
    earning_channels: tuple[str, ...] = ()
    payout_channels: tuple[str, ...] = ()


def _channels(names: tuple[str, ...], field_name: str) -> tuple[Channel, ...]:
    try:
        return tuple(dict.fromkeys(Channel(name) for name in names))
    except ValueError:
        raise BadRequest(f"{field_name}: channels are whatsapp and email") from None


async def get_preferences(db: Database, merchant_id: uuid.UUID) -> Preferences:
    async with db.read() as session:
        row = await session.get(NotificationSetting, merchant_id)
    if row is None:
        return Preferences()
    return Preferences(
        row.merchant_email,
        row.merchant_phone,
        tuple(row.paid_channels),
        tuple(row.receipt_channels),
        tuple(row.earning_channels),
        tuple(row.payout_channels),
    )


async def save_preferences(
    db: Database, merchant_id: uuid.UUID, wanted: Preferences, *, smtp_configured: bool
) -> Preferences:
    """Validated whole (a 400 naming the field changes nothing), then stored."""
    phone = checked_phone(wanted.merchant_phone, "merchant_phone")
    email = (wanted.merchant_email or "").strip() or None
    if email is not None and "@" not in email:
        raise BadRequest("merchant_email is not an email address")
    paid = _channels(wanted.paid_channels, "paid_channels")
    receipts = _channels(wanted.receipt_channels, "receipt_channels")
    earnings = _channels(wanted.earning_channels, "earning_channels")
    payouts = _channels(wanted.payout_channels, "payout_channels")
    if Channel.WHATSAPP in paid and phone is None:
        raise BadRequest("merchant_phone is required to be told over WhatsApp")
    if Channel.EMAIL in paid and email is None:
        raise BadRequest("merchant_email is required to be told by email")
    async with db.transaction() as session:
        await require_channels(
            session,
            merchant_id,
            tuple(set(paid + receipts + earnings + payouts)),
            smtp_configured=smtp_configured,
        )
        row = await session.get(NotificationSetting, merchant_id, with_for_update=True)
        if row is None:
            row = NotificationSetting(merchant_id=merchant_id)
            session.add(row)
        row.merchant_email, row.merchant_phone = email, phone
        row.paid_channels = [channel.value for channel in paid]
        row.receipt_channels = [channel.value for channel in receipts]
        row.earning_channels = [channel.value for channel in earnings]
        row.payout_channels = [channel.value for channel in payouts]
        row.updated_at = utc_now()
    return Preferences(
        email,
        phone,
        tuple(row.paid_channels),
        tuple(row.receipt_channels),
        tuple(row.earning_channels),
        tuple(row.payout_channels),
    )
