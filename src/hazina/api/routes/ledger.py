"""The ledger's transfers (`/api/v1/ledger/transfers`, filterable by payment), its settings
(`/api/v1/ledger/settings`) and the merchant's own balance (`/api/v1/balance`)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hazina.api.dependencies import ContainerDep, MerchantDep
from hazina.api.schemas import LedgerSettingsUpdate, PageLimit, PageOffset, Text
from hazina.services.ledger import accounts, queries, settings

router = APIRouter(prefix="/api/v1")


@router.get("/ledger/transfers")
async def list_transfers(
    container: ContainerDep,
    merchant: MerchantDep,
    payment_id: Annotated[Text | None, Query(max_length=64)] = None,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    page = await queries.list_transfers(container.db, merchant.id, payment_id, limit, offset)
    return page.body()


@router.get("/balance")
async def get_balance(container: ContainerDep, merchant: MerchantDep) -> dict[str, Any]:
    return await accounts.get_balance(container.db, merchant.id, livemode=merchant.livemode)


@router.get("/ledger/settings")
async def get_settings(container: ContainerDep, merchant: MerchantDep) -> dict[str, Any]:
    return await settings.get_settings(container.db, merchant.id)


@router.put("/ledger/settings")
async def update_settings(
    body: LedgerSettingsUpdate, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await settings.update_settings(
        container.db,
        merchant.id,
        keep_fees_on_refunds=body.keep_fees_on_refunds,
        actor=f"api_key:{merchant.api_key}",
    )
