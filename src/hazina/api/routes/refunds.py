"""Refunds: created and listed under their payment, read by their own id."""

from typing import Any

from fastapi import APIRouter, Response

from hazina.api.dependencies import ContainerDep, IdempotencyKeyHeader, MerchantDep
from hazina.api.responses import json_body, stored_response
from hazina.api.schemas import PageLimit, PageOffset, RefundCreate
from hazina.services import refunds
from hazina.services.idempotency import idempotency_request

router = APIRouter(prefix="/api/v1")


@router.post("/payments/{payment_id}/refunds", status_code=201)
async def create_refund(
    payment_id: str,
    body: RefundCreate,
    container: ContainerDep,
    merchant: MerchantDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    new = body.to_new_refund()
    # The payment id is part of the route fingerprint: one key reused on another payment is a
    # different request (409), never a replay of the first payment's refund.
    request = idempotency_request(
        idempotency_key, f"POST /api/v1/payments/{payment_id}/refunds", new.fingerprint_body()
    )
    settings = container.settings
    stored = await refunds.create_refund(
        container.db,
        container.providers.registry,
        merchant.id,
        payment_id,
        new,
        request,
        settings.idempotency_ttl,
        settings.job_max_attempts,
    )
    return stored_response(stored)


@router.get("/payments/{payment_id}/refunds")
async def list_refunds(
    payment_id: str,
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    page = await refunds.list_refunds(container.db, merchant.id, payment_id, limit, offset)
    return page.body()


@router.get("/refunds/{refund_id}")
async def get_refund(refund_id: str, container: ContainerDep, merchant: MerchantDep) -> Response:
    return json_body(await refunds.get_refund(container.db, merchant.id, refund_id))
