"""Health, liveness and the contract's test-support endpoints (`test_router`, mounted only where
Settings.serves_test_endpoints)."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hazina.api.dependencies import ContainerDep
from hazina.domain.errors import NotFound
from hazina.services import status
from hazina.services.merchants import find_merchant_by_email

router = APIRouter()
test_router = APIRouter(prefix="/api/v1/test")


@router.get("/health")
async def health(container: ContainerDep) -> JSONResponse:
    healthy, body = await status.health(
        container.db, container.settings.worker_stale_after, container.redis
    )
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/livez")
async def livez() -> dict[str, str]:
    """The process answers: touches nothing, for liveness probes (and the benchmarks' baseline)."""
    return {"status": "alive"}


@test_router.get("/merchant")
async def test_merchant(container: ContainerDep) -> dict[str, Any]:
    settings = container.settings
    merchant = None
    if not settings.is_production:
        merchant = await find_merchant_by_email(container.db, settings.test_merchant_email)
    if merchant is None:
        raise NotFound("Test merchant not found")
    return {
        "id": str(merchant.id),
        "email": merchant.email,
        "api_key": merchant.api_key,
        "seeded": True,
    }


@test_router.get("/jobs/status")
async def job_status(container: ContainerDep) -> dict[str, Any]:
    return await status.job_status(container.db, container.settings.worker_stale_after)
