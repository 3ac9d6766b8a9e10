"""Provider notifications as received: list them and replay one whose handling failed."""

from typing import Any

from fastapi import APIRouter

from hazina.api.dependencies import ContainerDep, MerchantDep
from hazina.api.schemas import PageLimit, PageOffset, Text
from hazina.services import inbound

router = APIRouter(prefix="/api/v1/inbound-events")


@router.get("")
async def list_inbound_events(
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    page = await inbound.list_inbound_events(container.db, merchant.id, limit, offset)
    return page.body()


@router.post("/{inbound_event_id}/replay")
async def replay_inbound_event(
    inbound_event_id: Text, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await inbound.replay(
        container.db, container.providers.registry, inbound_event_id, merchant.id
    )
