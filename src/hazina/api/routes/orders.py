"""Orders: `/api/v1/orders`."""

from fastapi import APIRouter, Response

from hazina.api.dependencies import ContainerDep, IdempotencyKeyHeader, MerchantDep
from hazina.api.lean_route import LeanRoute
from hazina.api.responses import json_body, stored_response
from hazina.api.schemas import OrderCreate, Text
from hazina.services import orders
from hazina.services.idempotency import idempotency_request

# Every call on orders is one a checkout or a merchant makes per sale: all served lean.
router = APIRouter(prefix="/api/v1/orders", route_class=LeanRoute)


@router.post("", status_code=201)
async def create_order(
    body: OrderCreate,
    container: ContainerDep,
    merchant: MerchantDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    request = idempotency_request(idempotency_key, "POST /api/v1/orders", body.fingerprint_body())
    stored = await orders.create_order(
        container.db,
        merchant.id,
        body.to_new_order(),
        request,
        container.settings.idempotency_ttl,
        livemode=merchant.livemode,
    )
    return stored_response(stored)


@router.get("/{order_id}")
async def get_order(order_id: Text, container: ContainerDep, merchant: MerchantDep) -> Response:
    return json_body(await orders.get_order(container.db, merchant.id, order_id))


@router.get("/{order_id}/public")
async def get_public_order(order_id: Text, container: ContainerDep) -> Response:
    return json_body(await orders.get_public_order(container.db, order_id))
