"""Settings: one object read from the environment (and `.env`) at start-up, never at import."""

import ipaddress
import secrets
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

import limits
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hazina.domain.destinations import DestinationPolicy, parse_ports
from hazina.domain.redaction import redact_url


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


# Waits in seconds before webhook attempts 1-5 (the contract's PRODUCTION/TEST_RETRY_INTERVALS).
WEBHOOK_PRODUCTION_SCHEDULE = (0.0, 60.0, 300.0, 1800.0, 7200.0)
WEBHOOK_TEST_SCHEDULE = (0.0, 5.0, 10.0, 15.0, 20.0)

# Ports a webhook may reach in production unless HAZINA_WEBHOOK_PORTS says otherwise.
PRODUCTION_WEBHOOK_PORTS = "80,443,8080,8443"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_database_url(url: str) -> str:
    """Accept the contract's `postgresql://…` and pick the async driver Hazina runs on."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url.removeprefix(plain)
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: Annotated[
        str, Field(validation_alias=_env("HAZINA_DATABASE_URL", "DATABASE_URL"))
    ] = "sqlite+aiosqlite:///./hazina.db"
    env: Annotated[Environment, Field(validation_alias=_env("HAZINA_ENV"))] = (
        Environment.DEVELOPMENT
    )
    # Development serves only on a loopback address; any other needs HAZINA_ENV=production.
    host: Annotated[str, Field(validation_alias=_env("HAZINA_HOST"))] = "127.0.0.1"
    port: Annotated[int, Field(validation_alias=_env("HAZINA_PORT", "PORT"))] = 8000
    db_pool_size: Annotated[int, Field(validation_alias=_env("HAZINA_DB_POOL_SIZE"), ge=1)] = 10

    # /docs, /redoc and /openapi.json; unset: served outside production only.
    api_docs: Annotated[bool | None, Field(validation_alias=_env("HAZINA_API_DOCS"))] = None
    # The contract's test-support endpoints (/api/v1/test/…); unset: outside production only.
    test_endpoints: Annotated[
        bool | None, Field(validation_alias=_env("HAZINA_TEST_ENDPOINTS"))
    ] = None
    # `/metrics` asks for `Authorization: Bearer <token>` when this is set; production without
    # one does not serve it at all (404): the figures map traffic and merchants' activity.
    metrics_token: Annotated[
        str | None, Field(validation_alias=_env("HAZINA_METRICS_TOKEN"), repr=False, min_length=16)
    ] = None
    # `json` (one object per line, for a log shipper) or `text`; unset: json in production.
    log_format: Annotated[
        Literal["json", "text"] | None, Field(validation_alias=_env("HAZINA_LOG_FORMAT"))
    ] = None

    # The contract's simulation variables, verbatim.
    test_mode: Annotated[bool, Field(validation_alias=_env("TEST_MODE"))] = False
    test_processing_delay_ms: Annotated[
        int, Field(validation_alias=_env("TEST_PROCESSING_DELAY"), ge=0)
    ] = 1000
    test_payment_success: Annotated[bool, Field(validation_alias=_env("TEST_PAYMENT_SUCCESS"))] = (
        True
    )
    upi_success_rate: Annotated[
        float, Field(validation_alias=_env("UPI_SUCCESS_RATE"), ge=0, le=1)
    ] = 0.90
    card_success_rate: Annotated[
        float, Field(validation_alias=_env("CARD_SUCCESS_RATE"), ge=0, le=1)
    ] = 0.95
    processing_delay_min_ms: Annotated[
        int, Field(validation_alias=_env("PROCESSING_DELAY_MIN"), ge=0)
    ] = 5000
    processing_delay_max_ms: Annotated[
        int, Field(validation_alias=_env("PROCESSING_DELAY_MAX"), ge=0)
    ] = 10000
    test_merchant_email: Annotated[str, Field(validation_alias=_env("TEST_MERCHANT_EMAIL"))] = (
        "test@example.com"
    )
    test_api_key: Annotated[str, Field(validation_alias=_env("TEST_API_KEY"))] = "key_test_abc123"
    # The contract's published test credential; the test merchant is never seeded in production.
    test_api_secret: Annotated[str, Field(validation_alias=_env("TEST_API_SECRET"))] = (
        "secret_test_xyz789"  # noqa: S105
    )

    # The test merchant's dashboard login (test@example.com); development only, like the merchant.
    test_merchant_password: Annotated[
        str, Field(validation_alias=_env("TEST_MERCHANT_PASSWORD"), min_length=8)
    ] = "test_password_xyz789"  # noqa: S105

    # Signs the dashboard's session cookie. Production refuses to start without one; development
    # generates one per process (sessions then end when the server restarts).
    session_secret: Annotated[
        str | None, Field(validation_alias=_env("HAZINA_SESSION_SECRET"), repr=False)
    ] = None
    session_max_age_seconds: Annotated[
        int, Field(validation_alias=_env("HAZINA_SESSION_MAX_AGE_SECONDS"), ge=60)
    ] = 12 * 3600
    # Dashboard login attempts allowed per email and client address (a right password clears
    # that count), and per client address whatever the email, within a moving window; counted by
    # the rate limiter (services/throttle.py), so in Redis when HAZINA_REDIS_URL is set.
    login_max_failures: Annotated[
        int, Field(validation_alias=_env("HAZINA_LOGIN_MAX_FAILURES"), ge=1)
    ] = 5
    login_max_failures_per_address: Annotated[
        int, Field(validation_alias=_env("HAZINA_LOGIN_MAX_FAILURES_PER_ADDRESS"), ge=1)
    ] = 20
    login_window_seconds: Annotated[
        int, Field(validation_alias=_env("HAZINA_LOGIN_WINDOW_SECONDS"), ge=1)
    ] = 900
    # argon2 hashes and checks running at once in one process; each holds 64 MiB while it runs.
    password_check_concurrency: Annotated[
        int, Field(validation_alias=_env("HAZINA_PASSWORD_CHECK_CONCURRENCY"), ge=1)
    ] = 4
    # Redis (`redis://host:6379/0`) for the rate limits (logins included) of every process;
    # unset: each process counts alone (see rate_limit_storage).
    redis_url: Annotated[
        str | None, Field(validation_alias=_env("HAZINA_REDIS_URL"), repr=False)
    ] = None

    # Anonymous payment creation (the checkout's `POST /api/v1/payments/public`), in moving
    # windows: `limits` notation, e.g. "10/minute" or "10/minute;50/hour". The client address is
    # the socket's, or X-Forwarded-For from the proxies uvicorn trusts (FORWARDED_ALLOW_IPS).
    public_payment_limit_per_order: Annotated[
        str, Field(validation_alias=_env("HAZINA_PUBLIC_PAYMENT_LIMIT_PER_ORDER"))
    ] = "10/minute"
    public_payment_limit_per_address: Annotated[
        str, Field(validation_alias=_env("HAZINA_PUBLIC_PAYMENT_LIMIT_PER_ADDRESS"))
    ] = "30/minute"
    # Provider-hook bodies rejected (bad signature, malformed) stored per source address, in the
    # same notation: the rest are counted, not stored. Each sample is cut to its first 4 KiB.
    rejected_hook_samples_per_address: Annotated[
        str, Field(validation_alias=_env("HAZINA_REJECTED_HOOK_SAMPLES_PER_ADDRESS"))
    ] = "10/minute"
    # Where the counts live: `memory://` (this process) or a shared `limits` storage such as
    # `redis://host:6379` (every process then counts together).
    rate_limit_storage: Annotated[
        str, Field(validation_alias=_env("HAZINA_RATE_LIMIT_STORAGE"))
    ] = "memory://"

    # #16 payment links and notifications. Links a merchant twin may create, in the notation above.
    payment_link_limit: Annotated[
        str, Field(validation_alias=_env("HAZINA_PAYMENT_LINK_LIMIT"))
    ] = "10/minute"
    # Email notifications: the SMTP server (unset: email is not offered) and its sender.
    smtp_host: Annotated[str | None, Field(validation_alias=_env("HAZINA_SMTP_HOST"))] = None
    smtp_port: Annotated[int, Field(validation_alias=_env("HAZINA_SMTP_PORT"), ge=1)] = 587
    smtp_username: Annotated[str | None, Field(validation_alias=_env("HAZINA_SMTP_USERNAME"))] = (
        None
    )
    smtp_password: Annotated[
        str | None, Field(validation_alias=_env("HAZINA_SMTP_PASSWORD"), repr=False)
    ] = None
    # `starttls` (port 587), `tls` (implicit, port 465) or `none` (a local relay, tests).
    smtp_security: Annotated[
        Literal["starttls", "tls", "none"], Field(validation_alias=_env("HAZINA_SMTP_SECURITY"))
    ] = "starttls"
    smtp_from: Annotated[str, Field(validation_alias=_env("HAZINA_SMTP_FROM"))] = (
        "Hazina <no-reply@localhost>"
    )
    # WhatsApp Cloud API (Meta Graph): host and version (tests point it at `hazina fake whatsapp`).
    whatsapp_api_base: Annotated[str, Field(validation_alias=_env("HAZINA_WHATSAPP_API_BASE"))] = (
        "https://graph.facebook.com"
    )
    whatsapp_graph_version: Annotated[
        str, Field(validation_alias=_env("HAZINA_WHATSAPP_GRAPH_VERSION"))
    ] = "v21.0"

    # The job queue and its workers.
    worker_concurrency: Annotated[
        int, Field(validation_alias=_env("HAZINA_WORKER_CONCURRENCY"), ge=1)
    ] = 32
    job_lease_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_JOB_LEASE_SECONDS"), gt=0)
    ] = 30.0
    job_max_attempts: Annotated[
        int, Field(validation_alias=_env("HAZINA_JOB_MAX_ATTEMPTS"), ge=1)
    ] = 5
    job_retry_base_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_JOB_RETRY_BASE_SECONDS"), ge=0)
    ] = 10.0
    job_retry_cap_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_JOB_RETRY_CAP_SECONDS"), ge=0)
    ] = 3600.0
    worker_poll_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_WORKER_POLL_SECONDS"), gt=0)
    ] = 1.0
    worker_heartbeat_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_WORKER_HEARTBEAT_SECONDS"), gt=0)
    ] = 5.0

    # How long a verified API credential is trusted without a query (0: always query).
    auth_cache_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_AUTH_CACHE_SECONDS"), ge=0)
    ] = 10.0

    idempotency_ttl_hours: Annotated[
        float, Field(validation_alias=_env("HAZINA_IDEMPOTENCY_TTL_HOURS"), gt=0)
    ] = 24.0

    # Outbound webhooks. The contract's schedule: waits before attempts 1-5, in seconds.
    webhook_retry_intervals_test: Annotated[
        bool, Field(validation_alias=_env("WEBHOOK_RETRY_INTERVALS_TEST"))
    ] = False
    # An explicit schedule (JSON list of seconds) overrides both of the contract's.
    webhook_retry_schedule_override: Annotated[
        list[float] | None, Field(validation_alias=_env("HAZINA_WEBHOOK_RETRY_SCHEDULE"))
    ] = None
    webhook_timeout_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_WEBHOOK_TIMEOUT_SECONDS"), gt=0)
    ] = 5.0
    webhook_retry_after_max_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_WEBHOOK_RETRY_AFTER_MAX_SECONDS"), ge=0)
    ] = 86400.0
    # The SSRF guard, on in every mode. Private and loopback targets (this machine, RFC 1918,
    # unique-local IPv6…) only when allowed; unset: allowed in development, which serves on
    # loopback only, refused in production.
    webhook_allow_private: Annotated[
        bool | None, Field(validation_alias=_env("HAZINA_WEBHOOK_ALLOW_PRIVATE"))
    ] = None
    # Ports a webhook URL may use: `80,443,8000-8999`; unset: any in development,
    # PRODUCTION_WEBHOOK_PORTS in production.
    webhook_ports: Annotated[str | None, Field(validation_alias=_env("HAZINA_WEBHOOK_PORTS"))] = (
        None
    )
    # Webhook endpoints one merchant may have (the primary included): each multiplies every
    # event's deliveries, so an unbounded number would let one merchant flood the workers.
    max_webhook_endpoints: Annotated[
        int, Field(validation_alias=_env("HAZINA_MAX_WEBHOOK_ENDPOINTS"), ge=1)
    ] = 16

    # The janitor (`janitor` job, `hazina janitor`): how often it runs, how many rows one
    # transaction deletes, and how long finished work is kept. Nothing a merchant can still ask
    # for (payments, orders, refunds, events, deliveries, audit rows) is ever purged.
    janitor_interval_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_JANITOR_INTERVAL_SECONDS"), gt=0)
    ] = 3600.0
    janitor_batch_size: Annotated[
        int, Field(validation_alias=_env("HAZINA_JANITOR_BATCH_SIZE"), ge=1)
    ] = 1000
    retain_finished_jobs_days: Annotated[
        float, Field(validation_alias=_env("HAZINA_RETAIN_FINISHED_JOBS_DAYS"), gt=0)
    ] = 7.0
    retain_webhook_attempts_days: Annotated[
        float, Field(validation_alias=_env("HAZINA_RETAIN_WEBHOOK_ATTEMPTS_DAYS"), gt=0)
    ] = 30.0
    retain_rejected_inbound_days: Annotated[
        float, Field(validation_alias=_env("HAZINA_RETAIN_REJECTED_INBOUND_DAYS"), gt=0)
    ] = 7.0

    # #14 ledger: seconds after a payment succeeds before its money (and each share of it) moves
    # from pending to available, per provider (HAZINA_SETTLEMENT_DELAY_{PROVIDER}); a provider
    # without its own setting waits the default. Credit payments never wait.
    settlement_delay_sandbox: Annotated[
        float, Field(validation_alias=_env("HAZINA_SETTLEMENT_DELAY_SANDBOX"), ge=0)
    ] = 0.0
    settlement_delay_stripe: Annotated[
        float, Field(validation_alias=_env("HAZINA_SETTLEMENT_DELAY_STRIPE"), ge=0)
    ] = 172800.0
    settlement_delay_clickpesa: Annotated[
        float, Field(validation_alias=_env("HAZINA_SETTLEMENT_DELAY_CLICKPESA"), ge=0)
    ] = 86400.0
    settlement_delay_default: Annotated[
        float, Field(validation_alias=_env("HAZINA_SETTLEMENT_DELAY_DEFAULT"), ge=0)
    ] = 86400.0
    # How often the janitor runs `hazina ledger check` (nightly by default).
    ledger_check_interval_hours: Annotated[
        float, Field(validation_alias=_env("HAZINA_LEDGER_CHECK_INTERVAL_HOURS"), gt=0)
    ] = 24.0

    # The contract's D2 seed value for the test merchant's webhook secret.
    test_webhook_secret: Annotated[str, Field(validation_alias=_env("TEST_WEBHOOK_SECRET"))] = (
        "whsec_test_abc123"  # noqa: S105
    )

    # Where customers and providers reach this server: hook URLs shown to merchants and the
    # hosted checkout pages a provider redirects back to. Default: http://{host}:{port}.
    public_url: Annotated[str | None, Field(validation_alias=_env("HAZINA_PUBLIC_URL"))] = None

    # The credentials vault: `kid:base64(32 bytes)` entries, comma-separated, newest last.
    master_keys: Annotated[
        str | None, Field(validation_alias=_env("HAZINA_MASTER_KEYS"), repr=False)
    ] = None
    # Development only: where the generated key ring lives when HAZINA_MASTER_KEYS is unset.
    master_key_file: Annotated[str, Field(validation_alias=_env("HAZINA_MASTER_KEY_FILE"))] = (
        "hazina.keys"
    )

    # Providers. Base URLs point the adapters at the real APIs or at `hazina fake …`.
    stripe_api_base: Annotated[str, Field(validation_alias=_env("HAZINA_STRIPE_API_BASE"))] = (
        "https://api.stripe.com"
    )
    clickpesa_api_base: Annotated[
        str, Field(validation_alias=_env("HAZINA_CLICKPESA_API_BASE", "CLICKPESA_API_URL"))
    ] = "https://api.clickpesa.com/third-parties"
    # Unset: each PayPal account's mode picks PayPal's sandbox or live API host.
    paypal_api_base: Annotated[
        str | None, Field(validation_alias=_env("HAZINA_PAYPAL_API_BASE"))
    ] = None
    # Hosts (and their subdomains) PayPal webhook signing certificates may be fetched from,
    # comma-separated; a test adds `hazina fake paypal`'s 127.0.0.1.
    paypal_cert_hosts: Annotated[
        str, Field(validation_alias=_env("HAZINA_PAYPAL_CERT_HOSTS"), min_length=1)
    ] = "paypal.com"
    # `offline` (the signature checked with PayPal's certificate) or `postback` (PayPal's
    # verify-webhook-signature API asked about each notification: a call per webhook).
    paypal_webhook_verification: Annotated[
        Literal["offline", "postback"],
        Field(validation_alias=_env("HAZINA_PAYPAL_WEBHOOK_VERIFICATION")),
    ] = "offline"
    # #12 Paynow (web and express) and EcoCash direct (providers.md sections 4 and 5).
    paynow_api_base: Annotated[str, Field(validation_alias=_env("HAZINA_PAYNOW_API_BASE"))] = (
        "https://www.paynow.co.zw"
    )
    ecocash_api_base: Annotated[str, Field(validation_alias=_env("HAZINA_ECOCASH_API_BASE"))] = (
        "https://developers.ecocash.co.zw/api/ecocash_pay"
    )
    provider_timeout_seconds: Annotated[
        float, Field(validation_alias=_env("HAZINA_PROVIDER_TIMEOUT_SECONDS"), gt=0)
    ] = 15.0
    # Seconds after a provider payment starts at which reconciliation asks for its status.
    reconcile_schedule: Annotated[
        list[float], Field(validation_alias=_env("HAZINA_RECONCILE_SCHEDULE"))
    ] = [300.0, 1800.0, 7200.0, 43200.0, 86400.0]
    # Seconds after a payout starts at which its provider is asked again while it is moving;
    # the last interval then repeats until it is final (#15).
    payout_check_schedule: Annotated[
        list[float], Field(validation_alias=_env("HAZINA_PAYOUT_CHECK_SCHEDULE"))
    ] = [60.0, 300.0, 1800.0, 7200.0, 43200.0, 86400.0]

    # A single-tenant deployment's default accounts, used by merchants without their own.
    stripe_secret_key: Annotated[
        str | None, Field(validation_alias=_env("STRIPE_SECRET_KEY"), repr=False)
    ] = None
    stripe_webhook_secret: Annotated[
        str | None, Field(validation_alias=_env("STRIPE_WEBHOOK_SECRET"), repr=False)
    ] = None
    stripe_publishable_key: Annotated[
        str | None, Field(validation_alias=_env("STRIPE_PUBLISHABLE_KEY"))
    ] = None
    clickpesa_client_id: Annotated[
        str | None, Field(validation_alias=_env("CLICKPESA_CLIENT_ID"))
    ] = None
    clickpesa_api_key: Annotated[
        str | None, Field(validation_alias=_env("CLICKPESA_API_KEY"), repr=False)
    ] = None
    clickpesa_checksum_key: Annotated[
        str | None,
        Field(
            validation_alias=_env("CLICKPESA_WEBHOOK_SIGNING_KEY", "CLICKPESA_CHECKSUM_KEY"),
            repr=False,
        ),
    ] = None

    # #12 Paynow's and EcoCash's default accounts (test mode unless HAZINA_ENV=production).
    paynow_integration_id: Annotated[
        str | None, Field(validation_alias=_env("PAYNOW_INTEGRATION_ID"))
    ] = None
    paynow_integration_key: Annotated[
        str | None, Field(validation_alias=_env("PAYNOW_INTEGRATION_KEY"), repr=False)
    ] = None
    # The Paynow login email express checkout sends as `authemail`.
    paynow_auth_email: Annotated[str | None, Field(validation_alias=_env("PAYNOW_AUTH_EMAIL"))] = (
        None
    )
    ecocash_merchant_code: Annotated[
        str | None, Field(validation_alias=_env("ECOCASH_MERCHANT_CODE"))
    ] = None
    ecocash_api_key: Annotated[
        str | None, Field(validation_alias=_env("ECOCASH_API_KEY"), repr=False)
    ] = None

    paypal_client_id: Annotated[str | None, Field(validation_alias=_env("PAYPAL_CLIENT_ID"))] = None
    paypal_client_secret: Annotated[
        str | None, Field(validation_alias=_env("PAYPAL_CLIENT_SECRET"), repr=False)
    ] = None
    paypal_webhook_id: Annotated[str | None, Field(validation_alias=_env("PAYPAL_WEBHOOK_ID"))] = (
        None
    )

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        """The database URL without its password: reprs end up in logs and tracebacks. (The
        session secret, master keys and provider secrets are `repr=False`.)"""
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "database_url" else value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator(
        "public_payment_limit_per_order",
        "public_payment_limit_per_address",
        "rejected_hook_samples_per_address",
        "payment_link_limit",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            items = limits.parse_many(value)
        except ValueError:
            raise ValueError(f"not a rate limit: {value!r} (try '10/minute')") from None
        if any(item.amount < 1 for item in items):
            raise ValueError(f"a rate limit allows at least one request: {value!r}")
        return value

    @field_validator("webhook_ports")
    @classmethod
    def _check_ports(cls, value: str | None) -> str | None:
        if value is not None:
            parse_ports(value)
        return value

    @model_validator(mode="after")
    def _fail_closed(self) -> Self:
        """Production must be configured; development stays on this machine."""
        if self.is_production:
            missing = [
                message
                for value, message in (
                    (self.session_secret, "HAZINA_SESSION_SECRET is required in production"),
                    (
                        self.master_keys,
                        "HAZINA_MASTER_KEYS is required in production: create one with "
                        "`hazina keys generate`",
                    ),
                    (
                        self.public_url,
                        "HAZINA_PUBLIC_URL is required in production: the https address "
                        "customers and providers reach this server at",
                    ),
                )
                if not value
            ]
            if missing:
                raise ValueError("; ".join(missing))
        elif not is_loopback_host(self.host):
            raise ValueError(
                f"development serves only on a loopback address, not {self.host!r}: use "
                "HAZINA_HOST=127.0.0.1, or set HAZINA_ENV=production (with HAZINA_PUBLIC_URL, "
                "HAZINA_MASTER_KEYS and HAZINA_SESSION_SECRET) to serve on other interfaces"
            )
        if self.session_secret is None:
            self.session_secret = secrets.token_urlsafe(32)
        elif len(self.session_secret) < 32:
            raise ValueError("HAZINA_SESSION_SECRET must be at least 32 characters")
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def serves_api_docs(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" if self.log_format is not None else self.is_production

    @property
    def serves_test_endpoints(self) -> bool:
        return self.test_endpoints if self.test_endpoints is not None else not self.is_production

    @property
    def webhook_destinations(self) -> DestinationPolicy:
        allow_private = self.webhook_allow_private
        if allow_private is None:
            allow_private = not self.is_production
        ports = self.webhook_ports
        if ports is None:
            ports = PRODUCTION_WEBHOOK_PORTS if self.is_production else "1-65535"
        return DestinationPolicy(
            https_only=self.is_production, allow_private=allow_private, ports=parse_ports(ports)
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def job_lease(self) -> timedelta:
        return timedelta(seconds=self.job_lease_seconds)

    def settlement_delay(self, provider: str | None) -> timedelta:
        """How long a payment of `provider` keeps its money pending (#14 ledger)."""
        seconds = {
            "sandbox": self.settlement_delay_sandbox,
            "stripe": self.settlement_delay_stripe,
            "clickpesa": self.settlement_delay_clickpesa,
            "credit": 0.0,
        }.get(provider or "", self.settlement_delay_default)
        return timedelta(seconds=seconds)

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(hours=self.idempotency_ttl_hours)

    @property
    def webhook_retry_schedule(self) -> tuple[float, ...]:
        if self.webhook_retry_schedule_override:
            return tuple(self.webhook_retry_schedule_override)
        if self.webhook_retry_intervals_test:
            return WEBHOOK_TEST_SCHEDULE
        return WEBHOOK_PRODUCTION_SCHEDULE

    @property
    def worker_stale_after(self) -> timedelta:
        """A worker whose heartbeat is older than three beats is considered gone."""
        return timedelta(seconds=3 * self.worker_heartbeat_seconds)
