"""Provider notifications: `/hooks/{provider}/{provider_account_id}` for a merchant's own
account, `/hooks/{provider}` for the deployment's default account.

The body is read raw: signatures are checked on the exact bytes, never on re-serialised JSON.
"""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from hazina.api.dependencies import ContainerDep
from hazina.api.schemas import Text
from hazina.observability.metrics import count_inbound
from hazina.services import inbound

router = APIRouter(prefix="/hooks")


async def _receive(
    container: ContainerDep, request: Request, provider: str, account_id: str | None
) -> Response:
    providers = container.providers
    receipt = await inbound.receive(
        container.db,
        providers.vault,
        providers.registry,
        provider,
        account_id,
        await request.body(),
        request.headers,
        # The socket's address, or X-Forwarded-For from the proxies uvicorn trusts.
        request.client.host if request.client else "unknown",
        container.rejected_hook_samples,
    )
    count_inbound(provider, receipt.status)
    body = {"received": True, "id": receipt.inbound_event_id, "status": receipt.status}
    return JSONResponse(body, status_code=receipt.status_code)


@router.post("/{provider}")
async def receive_default(provider: Text, container: ContainerDep, request: Request) -> Response:
    return await _receive(container, request, provider, None)


@router.post("/{provider}/{account_id}")
async def receive_for_account(
    provider: Text, account_id: Text, container: ContainerDep, request: Request
) -> Response:
    return await _receive(container, request, provider, account_id)
