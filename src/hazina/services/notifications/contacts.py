"""Creator contacts (`/api/v1/accounts/{account_id}/contact`): whom Hazina tells what a creator
account earned and that a payout of its money ended. A creator is a ledger account of kind
`creator`, so its contact hangs on the account's id; nothing is sent to an account without one.
Stored as given (the phone in E.164), like every notification recipient, and shown masked."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.database import Database
from hazina.db.models import CreatorContact
from hazina.db.statements import upsert_where
from hazina.domain.clock import iso_z, utc_now
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.ledger import AccountKind
from hazina.domain.notifications import mask_recipient
from hazina.services.ledger.accounts import load_account
from hazina.services.links.requests import checked_phone


@dataclass(frozen=True, slots=True)
class Contact:
    name: str | None = None
    email: str | None = None
    phone: str | None = None


def checked_contact(wanted: Contact) -> Contact:
    """The contact with its phone in E.164 and blanks dropped, or a 400 naming the field."""
    phone = checked_phone(wanted.phone, "phone")
    email = (wanted.email or "").strip() or None
    if email is not None and "@" not in email:
        raise BadRequest("email: is not an email address")
    if phone is None and email is None:
        raise BadRequest("a contact needs a phone or an email")
    return Contact((wanted.name or "").strip() or None, email, phone)


def contact_view(contact: CreatorContact) -> dict[str, Any]:
    return {
        "object": "creator_contact",
        "account_id": contact.account_id,
        "name": contact.name,
        "email": None if contact.email is None else mask_recipient(contact.email),
        "phone": None if contact.phone is None else mask_recipient(contact.phone),
        "created_at": iso_z(contact.created_at),
        "updated_at": iso_z(contact.updated_at),
    }


async def _load_creator(session: AsyncSession, merchant_id: uuid.UUID, account_id: str) -> None:
    account = await load_account(session, merchant_id, account_id)
    if account.kind != AccountKind.CREATOR:
        raise BadRequest(
            f"Account {account_id} is a {account.kind} account: contacts are for creator accounts"
        )


async def _read(session: AsyncSession, merchant_id: uuid.UUID, account_id: str) -> CreatorContact:
    contact = await session.scalar(
        select(CreatorContact)
        .where(CreatorContact.account_id == account_id, CreatorContact.merchant_id == merchant_id)
        .execution_options(populate_existing=True)
    )
    if contact is None:
        raise NotFound("Contact not found")
    return contact


async def save_contact(
    db: Database, merchant_id: uuid.UUID, account_id: str, wanted: Contact
) -> dict[str, Any]:
    """Validated whole first (a 400 names the field and changes nothing), then written in one
    upsert, so two concurrent saves leave one row: the later one."""
    contact = checked_contact(wanted)
    now = utc_now()
    async with db.transaction() as session:
        await _load_creator(session, merchant_id, account_id)
        changes = {"name": contact.name, "email": contact.email, "phone": contact.phone}
        values = {"account_id": account_id, "merchant_id": merchant_id, "created_at": now}
        await upsert_where(
            session,
            CreatorContact,
            values | changes | {"updated_at": now},
            changes | {"updated_at": now},
            true(),
        )
        return contact_view(await _read(session, merchant_id, account_id))


async def get_contact(db: Database, merchant_id: uuid.UUID, account_id: str) -> dict[str, Any]:
    async with db.read() as session:
        await _load_creator(session, merchant_id, account_id)
        return contact_view(await _read(session, merchant_id, account_id))


async def delete_contact(db: Database, merchant_id: uuid.UUID, account_id: str) -> None:
    """The creator is told nothing from now on; messages already queued still go."""
    async with db.transaction() as session:
        await _load_creator(session, merchant_id, account_id)
        removed = await session.execute(
            delete(CreatorContact).where(
                CreatorContact.account_id == account_id, CreatorContact.merchant_id == merchant_id
            )
        )
        if not removed.rowcount:  # type: ignore[attr-defined]
            raise NotFound("Contact not found")
