"""Outbound webhooks as data: delivery statuses, the retry schedule, URL rules, attempt outcomes."""

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit

from hazina.domain.destinations import Reach, address_reach
from hazina.domain.errors import BadRequest
from hazina.domain.events import EventType

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
# After a regeneration the old secret keeps signing beside the new one this long, so receivers
# can switch over without dropping a delivery.
SECRET_OVERLAP = timedelta(hours=24)
RESPONSE_BODY_LIMIT = 2048
GONE = 410
# Statuses whose Retry-After header we honour (within the schedule and a cap).
THROTTLED = frozenset({429, 503})


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


def generate_secret() -> str:
    """`whsec_` + base64 of 32 random bytes: valid for both the contract's hex HMAC (keyed by the
    whole string) and Standard Webhooks (keyed by the decoded bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def mask_secret(secret: str) -> str:
    return f"{SECRET_PREFIX}…{secret[-4:]}"


def subscribes(event_types: Sequence[str] | None, event_type: str) -> bool:
    """NULL filter: every event."""
    return event_types is None or event_type in event_types


def validate_event_types(event_types: Sequence[str] | None) -> list[str] | None:
    if event_types is None:
        return None
    known = {member.value for member in EventType}
    unknown = sorted(set(event_types) - known)
    if unknown:
        raise BadRequest(f"unknown event types: {', '.join(unknown)}")
    return sorted(set(event_types))


def validate_webhook_url(url: str, *, production: bool) -> str:
    """The shape check at configuration time. The SSRF guard re-checks every address at connect
    time, since a name can resolve elsewhere later; this only refuses what is wrong outright."""
    url = url.strip()
    parts = urlsplit(url)
    allowed = ("https",) if production else ("http", "https")
    if parts.scheme not in allowed or not parts.hostname:
        raise BadRequest(f"webhook_url must be an absolute {' or '.join(allowed)} URL")
    if len(url) > 2048:
        raise BadRequest("webhook_url must be at most 2048 characters")
    if production and not is_public_host_literal(parts.hostname):
        raise BadRequest("webhook_url must point to a public address")
    return url


def is_public_host_literal(host: str) -> bool:
    """False for `localhost` and non-public IP literals; names are judged when resolved."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return False
    try:
        return address_reach(host.strip("[]")) is Reach.PUBLIC
    except ValueError:
        return True


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`schedule[n]` is the wait before attempt n+1; its length is the number of attempts."""

    schedule: tuple[float, ...]
    retry_after_cap: timedelta

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)

    def wait_after(self, attempts: int, retry_after: timedelta | None = None) -> timedelta | None:
        """The wait after `attempts` failed attempts, or None when there are none left.

        A receiver's Retry-After can lengthen the wait but never shorten it below the schedule,
        and never past the cap.
        """
        if attempts >= self.max_attempts:
            return None
        wait = timedelta(seconds=self.schedule[attempts])
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_cap))
        return wait


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(moment - now, timedelta(0))


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """One attempt to send: the exact body bytes and every secret currently valid (newest first)."""

    delivery_id: str
    url: str
    body: bytes
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one HTTP attempt gave. `status_code` None: no response (timeout, refused, guard)."""

    status_code: int | None
    response_body: str | None
    duration_ms: int
    error: str | None = None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
