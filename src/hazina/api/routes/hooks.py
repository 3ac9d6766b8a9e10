"""Provider notifications: `/hooks/{provider}/{provider_account_id}` for a merchant's own
account, `/hooks/{provider}` for the deployment's default account.

The body is read raw: signatures are checked on the exact bytes, never on re-serialised JSON.
"""

import json

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from hazina.api.dependencies import ContainerDep
from hazina.api.errors import envelope
from hazina.api.schemas import Text
from hazina.domain.errors import BadRequest, NotFound
from hazina.domain.gateways import GENERIC, SIGNATURE_HEADER
from hazina.observability.metrics import count_inbound
from hazina.services import inbound

router = APIRouter(prefix="/hooks")


async def _take(
    container: ContainerDep, request: Request, provider: str, account_id: str | None, body: bytes
) -> inbound.Receipt:
    providers = container.providers
    receipt = await inbound.receive(
        container.db,
        providers.vault,
        providers.registry,
        provider,
        account_id,
        body,
        request.headers,
        # The socket's address, or X-Forwarded-For from the proxies uvicorn trusts.
        request.client.host if request.client else "unknown",
        container.rejected_hook_samples,
    )
    count_inbound(provider, receipt.status)
    return receipt


async def _receive(
    container: ContainerDep, request: Request, provider: str, account_id: str | None
) -> Response:
    receipt = await _take(container, request, provider, account_id, await request.body())
    body = {"received": True, "id": receipt.inbound_event_id, "status": receipt.status}
    return JSONResponse(body, status_code=receipt.status_code)


@router.post("/generic/{account_id}")
async def receive_gateway(account_id: Text, container: ContainerDep, request: Request) -> Response:
    """A generic gateway's notification, answered in seed 004's shape: 200 with both ids, 404
    for a payment Hazina does not know, 400 for a bad signature or body (both in the error
    envelope, naming the stored inbound event)."""
    raw = await request.body()
    receipt = await _take(container, request, GENERIC, account_id, raw)
    stored = f"(inbound event {receipt.inbound_event_id})"
    if receipt.status_code == 400:
        return envelope(
            400, BadRequest.code, f"Refused: bad {SIGNATURE_HEADER} or payload {stored}"
        )
    if receipt.unknown_payment:
        return envelope(404, NotFound.code, f"Payment not found {stored}")
    if receipt.status_code != 200:
        return envelope(500, "SERVER_ERROR", f"Not applied; send it again {stored}")
    # Verified and applied, so the payload is the gateway's JSON object.
    payload = json.loads(raw)
    completed = payload.get("status") == "completed"
    return JSONResponse(
        {
            "status": "success",
            "message": "Payment confirmed" if completed else "Payment failure recorded",
            "payment_id": payload.get("payment_id"),
            "transaction_id": payload.get("transaction_id"),
        }
    )


@router.post("/{provider}")
async def receive_default(provider: Text, container: ContainerDep, request: Request) -> Response:
    return await _receive(container, request, provider, None)


@router.post("/{provider}/{account_id}")
async def receive_for_account(
    provider: Text, account_id: Text, container: ContainerDep, request: Request
) -> Response:
    return await _receive(container, request, provider, account_id)
