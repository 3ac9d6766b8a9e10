"""`/api/v1/webhook-endpoints`: several endpoints per merchant, each with its own secret."""

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from hazina.api.dependencies import ContainerDep, IdempotencyKeyHeader, MerchantDep
from hazina.api.responses import stored_response
from hazina.api.schemas import Body, PageLimit, PageOffset, Text
from hazina.services import webhook_endpoints
from hazina.services.idempotency import idempotency_request

router = APIRouter(prefix="/api/v1/webhook-endpoints")


class EndpointCreate(Body):
    url: Annotated[Text, Field(max_length=2048)]
    event_types: Annotated[list[Text] | None, Field(max_length=50)] = None
    enabled: bool = True


class EndpointUpdate(Body):
    url: Annotated[Text | None, Field(max_length=2048)] = None
    event_types: Annotated[list[Text] | None, Field(max_length=50)] = None
    enabled: bool | None = None

    def to_changes(self) -> webhook_endpoints.EndpointChanges:
        # Only the fields the request named: `null` event_types means "every event".
        given = {name: getattr(self, name) for name in self.model_fields_set}
        if given.get("enabled", True) is None:
            given.pop("enabled")
        return webhook_endpoints.EndpointChanges(**given)


@router.post("", status_code=201)
async def create_endpoint(
    body: EndpointCreate,
    container: ContainerDep,
    merchant: MerchantDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    new = webhook_endpoints.NewEndpoint(
        url=body.url, event_types=body.event_types, enabled=body.enabled
    )
    request = idempotency_request(
        idempotency_key, "POST /api/v1/webhook-endpoints", body.model_dump()
    )
    stored = await webhook_endpoints.create_endpoint(
        container.db,
        container.providers.vault,
        merchant.id,
        new,
        request,
        container.settings.idempotency_ttl,
        production=container.settings.is_production,
        max_endpoints=container.settings.max_webhook_endpoints,
    )
    return stored_response(stored)


@router.get("")
async def list_endpoints(
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    page = await webhook_endpoints.list_endpoints(
        container.db, container.providers.vault, merchant.id, limit, offset
    )
    return page.body()


@router.get("/{endpoint_id}")
async def get_endpoint(
    endpoint_id: str, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await webhook_endpoints.get_endpoint(
        container.db, container.providers.vault, merchant.id, endpoint_id
    )


@router.patch("/{endpoint_id}")
async def update_endpoint(
    endpoint_id: str, body: EndpointUpdate, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await webhook_endpoints.update_endpoint(
        container.db,
        container.providers.vault,
        merchant.id,
        endpoint_id,
        body.to_changes(),
        production=container.settings.is_production,
    )


@router.post("/{endpoint_id}/regenerate-secret")
async def regenerate_secret(
    endpoint_id: str, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await webhook_endpoints.regenerate_endpoint_secret(
        container.db, container.providers.vault, merchant.id, endpoint_id
    )


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: str, container: ContainerDep, merchant: MerchantDep) -> None:
    await webhook_endpoints.delete_endpoint(container.db, merchant.id, endpoint_id)
