"""What a merchant asks for when creating a link, checked before anything is written."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hazina.domain.errors import BadRequest
from hazina.domain.links import DEFAULT_LIFETIME_DAYS, MAX_LIFETIME_DAYS
from hazina.domain.notifications import Channel
from hazina.domain.phones import normalise_phone
from hazina.services.orders import NewOrder, validate_order


@dataclass(frozen=True, slots=True)
class Customer:
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class NewLink:
    amount: int
    currency: str
    description: str | None = None
    reference: str | None = None
    methods: tuple[str, ...] | None = None
    customer: Customer = field(default_factory=Customer)
    expires_at: datetime | None = None
    send: tuple[str, ...] = ()


def checked_phone(raw: str | None, field_name: str) -> str | None:
    """E.164, or a 400 naming the field."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalise_phone(raw)
    except ValueError as error:
        raise BadRequest(f"{field_name}: {error}") from None


def checked_channels(send: Sequence[str], customer: Customer) -> tuple[Channel, ...]:
    """The channels to send the link on, each with the contact it needs."""
    channels: list[Channel] = []
    for name in send:
        try:
            channel = Channel(name)
        except ValueError:
            raise BadRequest("send: channels are whatsapp and email") from None
        if channel is Channel.WHATSAPP and customer.phone is None:
            raise BadRequest("customer.phone is required to send the link over WhatsApp")
        if channel is Channel.EMAIL and customer.email is None:
            raise BadRequest("customer.email is required to send the link by email")
        if channel not in channels:
            channels.append(channel)
    return tuple(channels)


def validate_link(
    new: NewLink, offered: Sequence[str], now: datetime
) -> tuple[NewLink, datetime, tuple[Channel, ...]]:
    """The link with its phone normalised, its expiry, and its channels; or a 400.

    `offered`: every method of the merchant's mode; a link may narrow them, never widen.
    """
    validate_order(NewOrder(amount=new.amount, currency=new.currency))
    if new.methods is not None:
        unknown = [method for method in new.methods if method not in offered]
        if unknown or not new.methods:
            raise BadRequest(f"methods must be some of: {', '.join(offered)}")
    customer = Customer(
        name=new.customer.name,
        phone=checked_phone(new.customer.phone, "customer.phone"),
        email=new.customer.email.strip() if new.customer.email else None,
    )
    if customer.email is not None and "@" not in customer.email:
        raise BadRequest("customer.email is not an email address")
    expires_at = new.expires_at or now + timedelta(days=DEFAULT_LIFETIME_DAYS)
    if expires_at.tzinfo is None:
        raise BadRequest("expires_at needs a timezone (…Z)")
    if expires_at <= now:
        raise BadRequest("expires_at must be in the future")
    if expires_at > now + timedelta(days=MAX_LIFETIME_DAYS):
        raise BadRequest(f"expires_at must be within {MAX_LIFETIME_DAYS} days")
    channels = checked_channels(new.send, customer)
    checked = NewLink(
        amount=new.amount,
        currency=new.currency,
        description=new.description,
        reference=new.reference,
        methods=new.methods,
        customer=customer,
        expires_at=expires_at,
        send=tuple(channels),
    )
    return checked, expires_at, channels
