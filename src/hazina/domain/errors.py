"""Errors of the gateway contract: each carries its wire code, HTTP status and description."""

from typing import ClassVar


class HazinaError(Exception):
    """A failure the client caused or must know about, rendered as the contract's error envelope."""

    code: ClassVar[str] = "SERVER_ERROR"
    status: ClassVar[int] = 500

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class BadRequest(HazinaError):
    code = "BAD_REQUEST_ERROR"
    status = 400


class InvalidVpa(BadRequest):
    code = "INVALID_VPA"


class InvalidCard(BadRequest):
    code = "INVALID_CARD"


class ExpiredCard(BadRequest):
    code = "EXPIRED_CARD"


class AuthenticationFailed(HazinaError):
    code = "AUTHENTICATION_ERROR"
    status = 401


class NotFound(HazinaError):
    code = "NOT_FOUND_ERROR"
    status = 404


class Conflict(HazinaError):
    code = "CONFLICT_ERROR"
    status = 409


class RateLimited(HazinaError):
    """Too many requests: the client may try again after `retry_after` seconds."""

    code = "RATE_LIMIT_ERROR"
    status = 429

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class ProviderError(HazinaError):
    """The payment provider refused the request or could not be reached."""

    code = "PROVIDER_ERROR"
    status = 502
