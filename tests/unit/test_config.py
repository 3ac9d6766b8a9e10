"""Settings from the environment: the contract's variable names and Hazina's own."""

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from hazina.cli import main
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
    "HAZINA_PUBLIC_URL",
    "HAZINA_MASTER_KEYS",
    "HAZINA_API_DOCS",
    "HAZINA_TEST_ENDPOINTS",
    "HAZINA_WEBHOOK_ALLOW_PRIVATE",
    "HAZINA_WEBHOOK_PORTS",
)
PRODUCTION = {
    "HAZINA_ENV": "production",
    "HAZINA_SESSION_SECRET": "s" * 32,
    "HAZINA_MASTER_KEYS": "k1:" + "A" * 43 + "=",
    "HAZINA_PUBLIC_URL": "https://pay.example.com",
}


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
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    settings = load()
    assert settings.env is Environment.PRODUCTION
    assert settings.is_production
    assert settings.session_secret == "s" * 32
    # Served on every interface, behind its public address.
    monkeypatch.setenv("HAZINA_HOST", "0.0.0.0")  # noqa: S104
    assert load().base_url == "https://pay.example.com"


@pytest.mark.parametrize(
    "missing", ["HAZINA_SESSION_SECRET", "HAZINA_MASTER_KEYS", "HAZINA_PUBLIC_URL"]
)
def test_production_refuses_to_start_without_each_requirement(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    for name, value in PRODUCTION.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=f"{missing} is required in production"):
        load()


def test_production_names_everything_it_misses_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAZINA_ENV", "production")
    monkeypatch.setenv("HAZINA_MASTER_KEYS", "")
    with pytest.raises(ValidationError) as refused:
        load()
    message = str(refused.value)
    for name in ("HAZINA_SESSION_SECRET", "HAZINA_MASTER_KEYS", "HAZINA_PUBLIC_URL"):
        assert f"{name} is required in production" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_development_serves_on_loopback(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("HAZINA_HOST", host)
    assert load().host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "hazina.example.com", ""])  # noqa: S104
def test_development_refuses_any_other_interface(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("HAZINA_HOST", host)
    with pytest.raises(
        ValidationError,
        match=r"development serves only on a loopback address.*HAZINA_ENV=production",
    ):
        load()


@pytest.mark.parametrize(
    ("arguments", "environment"),
    [(["--host", "0.0.0.0"], {}), ([], {"HAZINA_HOST": "0.0.0.0"})],  # noqa: S104
)
def test_hazina_serve_says_how_to_serve_beyond_loopback(
    arguments: list[str],
    environment: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Refused while reading its configuration, before anything is opened or bound. Were it not,
    # start-up would fail fast on this database, in a scratch directory, rather than serve.
    monkeypatch.chdir(tmp_path)
    environment |= {"HAZINA_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    refused = CliRunner().invoke(main, ["serve", "--port", "1", *arguments], env=environment)
    assert refused.exit_code == 1
    assert (
        "invalid configuration: development serves only on a loopback address, not '0.0.0.0': "
        "use HAZINA_HOST=127.0.0.1, or set HAZINA_ENV=production (with HAZINA_PUBLIC_URL, "
        "HAZINA_MASTER_KEYS and HAZINA_SESSION_SECRET) to serve on other interfaces"
    ) in " ".join(refused.output.split())


def test_development_defaults_open_what_it_needs_on_this_machine() -> None:
    settings = load()
    assert settings.serves_api_docs
    assert settings.serves_test_endpoints
    destinations = settings.webhook_destinations
    assert not destinations.https_only
    assert destinations.allow_private
    assert destinations.allows_port(4000)


def test_production_defaults_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    settings = load()
    assert not settings.serves_api_docs
    assert not settings.serves_test_endpoints
    destinations = settings.webhook_destinations
    assert destinations.https_only
    assert not destinations.allow_private
    assert [
        port for port in (80, 443, 4000, 6379, 8080, 8443) if destinations.allows_port(port)
    ] == [
        80,
        443,
        8080,
        8443,
    ]


def test_each_fail_closed_default_has_an_explicit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HAZINA_API_DOCS", "true")
    monkeypatch.setenv("HAZINA_TEST_ENDPOINTS", "true")
    monkeypatch.setenv("HAZINA_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("HAZINA_WEBHOOK_PORTS", "443,9000-9009")
    settings = load()
    assert settings.serves_api_docs
    assert settings.serves_test_endpoints
    assert settings.webhook_destinations.allow_private
    assert settings.webhook_destinations.allows_port(9005)
    assert not settings.webhook_destinations.allows_port(80)
    monkeypatch.setenv("HAZINA_ENV", "development")
    monkeypatch.setenv("HAZINA_WEBHOOK_ALLOW_PRIVATE", "false")
    assert not load().webhook_destinations.allow_private


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
        ("HAZINA_WEBHOOK_PORTS", "80,https", "not a port or a port range: 'https'"),
    ],
)
def test_invalid_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=problem):
        load()
