"""Ledger accounts: `/api/v1/accounts` (creator and customer sub-accounts, and the merchant's
system accounts) with their balances and entries, and a creator's contact (whom notifications
about its earnings and payouts go to)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from hazina.api.dependencies import ContainerDep, IdempotencyKeyHeader, MerchantDep
from hazina.api.responses import json_body, stored_response
from hazina.api.schemas import AccountCreate, Body, PageLimit, PageOffset, Text
from hazina.services.idempotency import idempotency_request
from hazina.services.ledger import accounts, queries
from hazina.services.notifications import contacts

router = APIRouter(prefix="/api/v1/accounts")

ShortText = Annotated[Text, Field(max_length=255)]


class ContactIn(Body):
    """A phone (E.164, or with its country code) or an email, or both."""

    name: ShortText | None = None
    email: ShortText | None = None
    phone: Annotated[Text | None, Field(max_length=32)] = None

    def to_contact(self) -> contacts.Contact:
        return contacts.Contact(self.name, self.email, self.phone)


@router.post("", status_code=201)
async def create_account(
    body: AccountCreate,
    container: ContainerDep,
    merchant: MerchantDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    new = body.to_new_account()
    request = idempotency_request(idempotency_key, "POST /api/v1/accounts", new.fingerprint_body())
    stored = await accounts.create_account(
        container.db,
        merchant.id,
        new,
        request,
        container.settings.idempotency_ttl,
        livemode=merchant.livemode,
    )
    return stored_response(stored)


@router.get("")
async def list_accounts(
    container: ContainerDep,
    merchant: MerchantDep,
    kind: Annotated[Text | None, Query(max_length=30)] = None,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    page = await accounts.list_accounts(container.db, merchant.id, kind, limit, offset)
    return page.body()


@router.get("/{account_id}")
async def get_account(account_id: Text, container: ContainerDep, merchant: MerchantDep) -> Response:
    return json_body(await accounts.get_account(container.db, merchant.id, account_id))


@router.get("/{account_id}/entries")
async def list_entries(
    account_id: Text,
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    page = await queries.list_entries(container.db, merchant.id, account_id, limit, offset)
    return page.body()


@router.put("/{account_id}/contact")
async def save_contact(
    account_id: Text, body: ContactIn, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await contacts.save_contact(container.db, merchant.id, account_id, body.to_contact())


@router.get("/{account_id}/contact")
async def get_contact(
    account_id: Text, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await contacts.get_contact(container.db, merchant.id, account_id)


@router.delete("/{account_id}/contact", status_code=204)
async def delete_contact(account_id: Text, container: ContainerDep, merchant: MerchantDep) -> None:
    await contacts.delete_contact(container.db, merchant.id, account_id)
