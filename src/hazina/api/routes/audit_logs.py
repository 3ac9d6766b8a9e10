"""`/api/v1/audit-logs`: the merchant's credential and key changes, newest first."""

from typing import Any

from fastapi import APIRouter

from hazina.api.dependencies import ContainerDep, MerchantDep
from hazina.api.schemas import PageLimit, PageOffset
from hazina.services import audit

router = APIRouter(prefix="/api/v1/audit-logs")


@router.get("")
async def list_audit_logs(
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    page = await audit.list_audit_logs(container.db, merchant.id, limit, offset)
    return page.body()
