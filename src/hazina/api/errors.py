"""Every error leaves as the contract's envelope `{"error": {"code", "description"}}`."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hazina.domain.errors import HazinaError, RateLimited
from hazina.services.throttle import QuotaExceeded

log = logging.getLogger("hazina.api")

_CODES_BY_STATUS = {
    400: "BAD_REQUEST_ERROR",
    401: "AUTHENTICATION_ERROR",
    404: "NOT_FOUND_ERROR",
    405: "BAD_REQUEST_ERROR",
    409: "CONFLICT_ERROR",
    413: "BAD_REQUEST_ERROR",
    415: "BAD_REQUEST_ERROR",
    429: "RATE_LIMIT_ERROR",
}


def envelope(
    status: int, code: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "description": description}}
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation(exc: RequestValidationError) -> str:
    """`amount: Input should be a valid integer` — the first problem, named by its field."""
    errors = exc.errors()
    if not errors:
        return "Invalid request"
    first = errors[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    message = str(first.get("msg", "is invalid"))
    if first.get("type") == "json_invalid":
        return "Request body is not valid JSON"
    if first.get("type") == "model_attributes_type" and not location:
        return "Request body must be a JSON object (send Content-Type: application/json)"
    return f"{'.'.join(location)}: {message}" if location else message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HazinaError)
    async def _hazina(_: Request, exc: HazinaError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        if isinstance(exc, QuotaExceeded) and headers is not None:
            headers |= exc.quota.headers()
        return envelope(exc.status, exc.code, exc.description, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return envelope(400, "BAD_REQUEST_ERROR", describe_validation(exc))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _CODES_BY_STATUS.get(exc.status_code, "SERVER_ERROR")
        description = "Not found" if exc.status_code == 404 else str(exc.detail)
        return envelope(exc.status_code, code, description)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return envelope(500, "SERVER_ERROR", "Internal server error")
