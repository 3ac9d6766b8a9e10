"""Payouts: `/api/v1/payouts` (created with an Idempotency-Key like payments), read, cancelled."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from hazina.api.dependencies import ContainerDep, IdempotencyKeyHeader, MerchantDep
from hazina.api.responses import json_body, stored_response
from hazina.api.schemas import PageLimit, PageOffset, PayoutCreate, PayoutScheduleSet, Text
from hazina.services.idempotency import idempotency_request
from hazina.services.payouts import creation, schedules

router = APIRouter(prefix="/api/v1/payouts")


@router.post("", status_code=201)
async def create_payout(
    body: PayoutCreate,
    container: ContainerDep,
    merchant: MerchantDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    new = body.to_new_payout()
    request = idempotency_request(idempotency_key, "POST /api/v1/payouts", new.fingerprint_body())
    stored = await creation.create_payout(
        container.db,
        container.payouts,
        merchant.id,
        merchant.livemode,
        new,
        request,
        container.settings.idempotency_ttl,
    )
    return stored_response(stored)


@router.get("")
async def list_payouts(
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
    account_id: Annotated[Text | None, Query(max_length=64)] = None,
    status: Annotated[Text | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    page = await creation.list_payouts(
        container.db, merchant.id, limit, offset, account_id=account_id, status=status
    )
    return page.body()


@router.get("/{payout_id}")
async def get_payout(payout_id: Text, container: ContainerDep, merchant: MerchantDep) -> Response:
    return json_body(await creation.get_payout(container.db, merchant.id, payout_id))


@router.post("/{payout_id}/cancel")
async def cancel_payout(
    payout_id: Text, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    """Only while it is still pending (not yet sent to its provider)."""
    return await creation.cancel_payout(container.db, merchant.id, payout_id)


@router.put("/schedules/{account_id}")
async def set_schedule(
    account_id: Text, body: PayoutScheduleSet, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    """How the account is paid out automatically: `manual`, `daily`, or `weekly` on a weekday,
    of its available balance once it reaches `minimum`, to `destination`."""
    return await schedules.set_schedule(
        container.db, merchant.id, account_id, body.to_new_schedule()
    )


@router.get("/schedules/{account_id}")
async def get_schedule(
    account_id: Text, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await schedules.get_schedule(container.db, merchant.id, account_id)
