"""The retry schedule, Retry-After bounds, event filters and URL rules, as pure data."""

from datetime import UTC, datetime, timedelta

import pytest

from hazina.config import WEBHOOK_PRODUCTION_SCHEDULE, WEBHOOK_TEST_SCHEDULE, Settings
from hazina.domain.errors import BadRequest
from hazina.domain.webhooks import (
    RetryPolicy,
    parse_retry_after,
    subscribes,
    validate_event_types,
    validate_webhook_url,
)

POLICY = RetryPolicy(
    schedule=WEBHOOK_PRODUCTION_SCHEDULE,
    retry_after_cap=timedelta(hours=24),
)


def test_contract_schedule_waits_after_each_failure_then_gives_up() -> None:
    waits = [POLICY.wait_after(attempts) for attempts in range(1, 6)]
    assert waits == [
        timedelta(seconds=60),
        timedelta(seconds=300),
        timedelta(seconds=1800),
        timedelta(seconds=7200),
        None,
    ]
    assert POLICY.max_attempts == 5


def test_settings_pick_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().webhook_retry_schedule == (0, 60, 300, 1800, 7200)
    test = Settings.model_validate({"WEBHOOK_RETRY_INTERVALS_TEST": "true"})
    assert test.webhook_retry_schedule == WEBHOOK_TEST_SCHEDULE == (0, 5, 10, 15, 20)
    monkeypatch.setenv("HAZINA_WEBHOOK_RETRY_SCHEDULE", "[0, 0.5, 1]")
    assert Settings().webhook_retry_schedule == (0, 0.5, 1)
    monkeypatch.setenv("HAZINA_WEBHOOK_TIMEOUT_SECONDS", "0.5")
    assert Settings().webhook_timeout_seconds == 0.5


def test_retry_after_lengthens_within_bounds_but_never_shortens() -> None:
    assert POLICY.wait_after(1, timedelta(seconds=10)) == timedelta(seconds=60)
    assert POLICY.wait_after(1, timedelta(seconds=600)) == timedelta(seconds=600)
    assert POLICY.wait_after(1, timedelta(days=30)) == timedelta(hours=24)
    assert POLICY.wait_after(5, timedelta(seconds=1)) is None


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert parse_retry_after("120", now) == timedelta(seconds=120)
    assert parse_retry_after("Mon, 15 Jan 2024 10:35:00 GMT", now) == timedelta(minutes=5)
    assert parse_retry_after("Mon, 15 Jan 2024 10:00:00 GMT", now) == timedelta(0)
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_event_filters() -> None:
    assert subscribes(None, "payment.success")
    assert subscribes(["payment.success"], "payment.success")
    assert not subscribes(["refund.processed"], "payment.success")
    assert validate_event_types(["refund.processed", "payment.success", "payment.success"]) == [
        "payment.success",
        "refund.processed",
    ]
    with pytest.raises(BadRequest, match=r"unknown event types: payment\.nope"):
        validate_event_types(["payment.nope"])


@pytest.mark.parametrize(
    ("url", "production", "ok"),
    [
        ("http://localhost:4000/webhook", False, True),
        ("https://hooks.example.com/in", True, True),
        ("http://hooks.example.com/in", True, False),
        ("https://localhost/in", True, False),
        ("https://127.0.0.1/in", True, False),
        ("https://10.0.0.8/in", True, False),
        ("https://[::1]/in", True, False),
        ("https://[64:ff9b::a00:1]/in", True, False),
        ("https://[fec0::1]/in", True, False),
        ("ftp://example.com/", False, False),
        ("not a url", False, False),
    ],
)
def test_webhook_url_rules(url: str, production: bool, ok: bool) -> None:
    if ok:
        assert validate_webhook_url(url, production=production) == url
    else:
        with pytest.raises(BadRequest):
            validate_webhook_url(url, production=production)
