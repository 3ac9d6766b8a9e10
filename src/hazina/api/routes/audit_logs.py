"""`/api/v1/audit-logs`: the merchant's credential and key changes, newest first."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hazina.api.dependencies import ContainerDep, MerchantDep
from hazina.services import audit

router = APIRouter(prefix="/api/v1/audit-logs")


@router.get("")
async def list_audit_logs(
    container: ContainerDep,
    merchant: MerchantDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    page = await audit.list_audit_logs(container.db, merchant.id, limit, offset)
    return page.body()
