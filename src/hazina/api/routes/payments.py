"""Payments: `/api/v1/payments`, authenticated and public (checkout) variants."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from hazina.api.dependencies import ContainerDep, IdempotencyKeyHeader, MerchantDep
from hazina.api.lean_route import LeanRoute
from hazina.api.responses import json_body, stored_response
from hazina.api.schemas import (
    CaptureRequest,
    PageLimit,
    PageOffset,
    PaymentCreate,
    ReviewRequest,
    Text,
)
from hazina.bootstrap import Container
from hazina.domain.errors import BadRequest
from hazina.domain.ledger import CREDIT
from hazina.services import captures, payments, reviews
from hazina.services.idempotency import idempotency_request
from hazina.services.reporting.filters import PaymentFilter

router = APIRouter(prefix="/api/v1/payments")
# What a checkout calls on every sale and polls while it waits: served lean, matched first.
busiest = APIRouter(prefix="/api/v1/payments", route_class=LeanRoute)


async def _create(
    container: Container,
    merchant_id: uuid.UUID,
    livemode: bool,
    body: PaymentCreate,
    idempotency_key: str | None,
    *,
    public: bool,
) -> Response:
    new = body.to_new_payment()
    route = "POST /api/v1/payments/public" if public else "POST /api/v1/payments"
    request = idempotency_request(idempotency_key, route, new.fingerprint_body(), public=public)
    settings = container.settings
    stored = await payments.create_payment(
        container.db,
        container.providers,
        merchant_id,
        livemode,
        new,
        request,
        settings.idempotency_ttl,
        settings.job_max_attempts,
    )
    return stored_response(stored)


@busiest.post("", status_code=201)
async def create_payment(
    body: PaymentCreate,
    container: ContainerDep,
    merchant: MerchantDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    return await _create(
        container, merchant.id, merchant.livemode, body, idempotency_key, public=False
    )


@busiest.post("/public", status_code=201)
async def create_public_payment(
    body: PaymentCreate,
    request: Request,
    container: ContainerDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """The checkout's call: no credentials, the order names its merchant.

    Rate-limited per order and per client address before anything touches the database. The
    address is the socket's (uvicorn substitutes X-Forwarded-For only from FORWARDED_ALLOW_IPS).
    """
    if not body.capture:
        # Only the merchant may hold money without taking it: an order paid by an
        # authorisation nobody captures would read paid while no money moves.
        raise BadRequest('"capture": false is the merchant\'s choice: use POST /api/v1/payments')
    if body.method == CREDIT:
        # A customer's credit is spent on the merchant's word (its API key), never by whoever
        # holds an order id and a wallet id.
        raise BadRequest("Method credit is the merchant's to use: POST /api/v1/payments")
    address = request.client.host if request.client else "unknown"
    await container.public_payment_throttle.admit(body.order_id, address)
    owner = await payments.find_order_owner(container.db, body.order_id)
    return await _create(
        container, owner.merchant_id, owner.livemode, body, idempotency_key, public=True
    )


@router.get("")
async def list_payments(
    container: ContainerDep,
    merchant: MerchantDep,
    filters: Annotated[PaymentFilter, Query()],
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    """Newest first; filtered as the dashboard's Transactions page and its CSV export are."""
    page = await payments.list_payments(container.db, merchant.id, filters, limit, offset)
    return page.body()


@busiest.get("/public/{payment_id}")
@busiest.get("/{payment_id}/public")
async def get_public_payment(payment_id: Text, container: ContainerDep) -> Response:
    """Checkout polling; the contract names neither path, implementations use both."""
    return json_body(await payments.get_public_payment(container.db, payment_id))


@busiest.get("/{payment_id}")
async def get_payment(payment_id: Text, container: ContainerDep, merchant: MerchantDep) -> Response:
    return json_body(await payments.get_payment(container.db, merchant.id, payment_id))


@router.post("/{payment_id}/capture")
async def capture_payment(
    payment_id: Text, body: CaptureRequest, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    providers = container.providers
    return await captures.capture_payment(
        container.db, providers.registry, providers.vault, merchant.id, payment_id, body.amount
    )


@router.post("/{payment_id}/review")
async def resolve_review(
    payment_id: Text, body: ReviewRequest, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    """Resolve a payment held in `review`: `accept` keeps the money, `refund` returns it."""
    return await reviews.resolve_review(
        container.db,
        container.providers.registry,
        merchant.id,
        payment_id,
        body.action,
        actor=f"api_key:{merchant.api_key}",
    )
