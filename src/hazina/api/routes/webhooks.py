"""Webhooks: the primary endpoint's config, the delivery logs, manual retry and recovery."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, Field

from hazina.api.dependencies import ContainerDep, MerchantDep
from hazina.api.schemas import Body, PageLimit, PageOffset, Text
from hazina.services import webhook_endpoints, webhooks

router = APIRouter(prefix="/api/v1/webhooks")


class WebhookConfig(Body):
    webhook_url: Annotated[Text | None, Field(max_length=2048)] = None


class RecoverRequest(Body):
    since: AwareDatetime | datetime
    endpoint_id: Annotated[Text | None, Field(max_length=64)] = None


@router.get("/config")
async def get_config(container: ContainerDep, merchant: MerchantDep) -> dict[str, Any]:
    return await webhook_endpoints.get_config(container.db, container.providers.vault, merchant.id)


@router.put("/config")
async def set_config(
    body: WebhookConfig, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await webhook_endpoints.set_config(
        container.db,
        container.providers.vault,
        merchant.id,
        body.webhook_url,
        production=container.settings.is_production,
    )


@router.post("/regenerate-secret")
async def regenerate_secret(container: ContainerDep, merchant: MerchantDep) -> dict[str, Any]:
    return await webhook_endpoints.regenerate_primary_secret(
        container.db, container.providers.vault, merchant.id
    )


@router.post("/test")
async def send_test(container: ContainerDep, merchant: MerchantDep) -> dict[str, Any]:
    return await webhook_endpoints.send_test_event(container.db, merchant.id)


@router.post("/recover")
async def recover(
    body: RecoverRequest, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    # A timestamp without an offset is read as UTC, like every time Hazina shows.
    since = body.since if body.since.tzinfo else body.since.replace(tzinfo=UTC)
    try:
        since = since.astimezone(UTC)
    except OverflowError:  # before year 1 in UTC (0001-01-01T00:00+01:00): before every delivery
        since = datetime.min.replace(tzinfo=UTC)
    return await webhooks.recover_deliveries(container.db, merchant.id, since, body.endpoint_id)


@router.get("")
async def list_webhooks(
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
    status: Annotated[str | None, Query(max_length=20)] = None,
    event: Annotated[str | None, Query(max_length=50)] = None,
    endpoint_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    where = webhooks.DeliveryFilter(status=status, event=event, endpoint_id=endpoint_id)
    page = await webhooks.list_deliveries(container.db, merchant.id, where, limit, offset)
    return page.body()


@router.get("/{webhook_id}")
async def get_webhook(
    webhook_id: str, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await webhooks.get_delivery(container.db, merchant.id, webhook_id)


@router.post("/{webhook_id}/retry")
async def retry_webhook(
    webhook_id: str, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await webhooks.retry_delivery(container.db, merchant.id, webhook_id)
