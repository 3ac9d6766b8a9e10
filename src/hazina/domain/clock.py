"""Time: timezone-aware UTC everywhere, ISO-8601 with `Z` on the wire."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_z(moment: datetime) -> str:
    """`2024-01-15T10:30:00Z`: second precision, as the contract shows."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
