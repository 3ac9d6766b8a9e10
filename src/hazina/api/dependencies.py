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


async def get_merchant(
    container: ContainerDep,
    x_api_key: Annotated[str | None, Header()] = None,
    x_api_secret: Annotated[str | None, Header()] = None,
) -> MerchantIdentity:
    return await authenticate(container.db, x_api_key, x_api_secret, container.credentials)


MerchantDep = Annotated[MerchantIdentity, Depends(get_merchant)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]
