"""What route handlers receive: the container and the authenticated merchant."""

from typing import Annotated

from fastapi import Depends, Header, Request

from hazina.bootstrap import Container
from hazina.services.merchants import MerchantIdentity, authenticate


async def get_container(request: Request) -> Container:
    # async: FastAPI would run a plain `def` dependency in its thread pool, on every request.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_merchant(request: Request) -> MerchantIdentity:
    """The key's merchant twin. The headers are read from the request, not declared as header
    parameters, which FastAPI would validate on every call (api.openapi documents them)."""
    container: Container = request.app.state.container
    headers = request.headers
    return await authenticate(
        container.db, headers.get("x-api-key"), headers.get("x-api-secret"), container.credentials
    )


MerchantDep = Annotated[MerchantIdentity, Depends(get_merchant)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]
