"""Events: what happened, as delivered to webhooks (`/api/v1/events`)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hazina.api.dependencies import ContainerDep, MerchantDep
from hazina.api.schemas import PageLimit, PageOffset
from hazina.services import events

router = APIRouter(prefix="/api/v1/events")


@router.get("")
async def list_events(
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
    type: Annotated[str | None, Query(max_length=50)] = None,
) -> dict[str, Any]:
    page = await events.list_events(container.db, merchant.id, type, limit, offset)
    return page.body()


@router.get("/{event_id}")
async def get_event(
    event_id: str, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await events.get_event(container.db, merchant.id, event_id)
