"""`GET /hooks/whatsapp/{account_id}`: Meta's verification handshake. Its notifications are
POSTed to the same URL and take the common inbound path (`hooks.py`)."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from hazina.api.dependencies import ContainerDep
from hazina.api.schemas import Text
from hazina.services.notifications.handshake import accepts_subscription

router = APIRouter(prefix="/hooks/whatsapp")


@router.get("/{account_id}", response_class=PlainTextResponse)
async def verify_subscription(
    account_id: Text,
    container: ContainerDep,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=32)] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token", max_length=512)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=512)] = None,
) -> PlainTextResponse:
    """200 with the raw challenge when the mode is `subscribe` and the token matches; else 403."""
    providers = container.providers
    if await accepts_subscription(container.db, providers.vault, account_id, mode, token):
        return PlainTextResponse(challenge or "")
    return PlainTextResponse("Forbidden", status_code=403)
