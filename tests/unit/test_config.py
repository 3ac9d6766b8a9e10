"""Settings from the environment: the contract's variable names and Hazina's own."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from hazina.config import Environment, Settings, normalise_database_url

VARIABLES = (
    "HAZINA_DATABASE_URL",
    "DATABASE_URL",
    "HAZINA_ENV",
    "HAZINA_HOST",
    "HAZINA_PORT",
    "PORT",
    "TEST_MODE",
    "TEST_PROCESSING_DELAY",
    "TEST_PAYMENT_SUCCESS",
    "UPI_SUCCESS_RATE",
    "CARD_SUCCESS_RATE",
    "PROCESSING_DELAY_MIN",
    "PROCESSING_DELAY_MAX",
    "TEST_MERCHANT_EMAIL",
    "TEST_API_KEY",
    "TEST_API_SECRET",
    "HAZINA_IDEMPOTENCY_TTL_HOURS",
    "HAZINA_WORKER_HEARTBEAT_SECONDS",
    "HAZINA_SESSION_SECRET",
    "TEST_MERCHANT_PASSWORD",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def load() -> Settings:
    return Settings(_env_file=None)


def test_defaults() -> None:
    settings = load()
    assert settings.database_url == "sqlite+aiosqlite:///./hazina.db"
    assert settings.is_sqlite
    assert settings.env is Environment.DEVELOPMENT
    assert not settings.is_production
    assert settings.port == 8000
    assert settings.test_mode is False
    assert settings.test_processing_delay_ms == 1000
    assert settings.test_payment_success is True
    assert (settings.upi_success_rate, settings.card_success_rate) == (0.90, 0.95)
    assert (settings.processing_delay_min_ms, settings.processing_delay_max_ms) == (5000, 10000)
    assert settings.test_merchant_email == "test@example.com"
    assert settings.test_api_key == "key_test_abc123"
    assert settings.test_api_secret == "secret_test_xyz789"
    assert settings.idempotency_ttl == timedelta(hours=24)


def test_contract_database_url_gets_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql://gateway_user:gateway_pass@postgres:5432/payment_gateway"
    )
    settings = load()
    assert settings.database_url == (
        "postgresql+asyncpg://gateway_user:gateway_pass@postgres:5432/payment_gateway"
    )
    assert not settings.is_sqlite


def test_hazina_database_url_wins_over_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://a@contract:5432/one")
    monkeypatch.setenv("HAZINA_DATABASE_URL", "postgresql://b@hazina:5432/two")
    assert load().database_url == "postgresql+asyncpg://b@hazina:5432/two"


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u:p@h/d", "postgresql+asyncpg://u:p@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("sqlite+aiosqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_normalise_database_url(url: str, normalised: str) -> None:
    assert normalise_database_url(url) == normalised


def test_port_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    assert load().port == 9123


def test_hazina_port_wins_over_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("HAZINA_PORT", "7000")
    assert load().port == 7000


def test_contract_simulation_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MODE", "true")
    monkeypatch.setenv("TEST_PROCESSING_DELAY", "250")
    monkeypatch.setenv("TEST_PAYMENT_SUCCESS", "false")
    monkeypatch.setenv("UPI_SUCCESS_RATE", "0.5")
    monkeypatch.setenv("TEST_API_KEY", "key_other")
    settings = load()
    assert settings.test_mode is True
    assert settings.test_processing_delay_ms == 250
    assert settings.test_payment_success is False
    assert settings.upi_success_rate == 0.5
    assert settings.test_api_key == "key_other"


def test_production_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZINA_ENV", "production")
    monkeypatch.setenv("HAZINA_SESSION_SECRET", "s" * 32)
    settings = load()
    assert settings.env is Environment.PRODUCTION
    assert settings.is_production
    assert settings.session_secret == "s" * 32


def test_production_refuses_to_start_without_a_session_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HAZINA_ENV", "production")
    with pytest.raises(ValidationError, match="HAZINA_SESSION_SECRET is required"):
        load()


def test_a_short_session_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZINA_SESSION_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        load()


def test_development_generates_a_session_secret_per_process() -> None:
    first, second = load(), load()
    assert first.session_secret is not None
    assert len(first.session_secret) >= 32
    assert first.session_secret != second.session_secret


def test_worker_is_stale_after_three_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZINA_WORKER_HEARTBEAT_SECONDS", "2")
    assert load().worker_stale_after == timedelta(seconds=6)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("UPI_SUCCESS_RATE", "1.5", "less than or equal to 1"),
        ("PORT", "eighty", "valid integer"),
        ("HAZINA_ENV", "staging", "'development' or 'production'"),
        ("TEST_PROCESSING_DELAY", "-1", "greater than or equal to 0"),
    ],
)
def test_invalid_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=problem):
        load()
