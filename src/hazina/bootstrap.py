"""The composition root: builds the database and adapters from Settings, prepares storage."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis

from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.schema import is_current, migrate
from hazina.delivery.sender import HttpWebhookSender
from hazina.domain.providers import ProviderAccess
from hazina.domain.webhooks import RetryPolicy
from hazina.providers.clickpesa import ClickPesaProvider
from hazina.providers.clickpesa_payouts import ClickPesaPayouts
from hazina.providers.ecocash import EARLY_CHECKS, EcoCashProvider
from hazina.providers.generic import GenericGatewayProvider
from hazina.providers.paynow import PaynowProvider
from hazina.providers.paypal import PayPalProvider
from hazina.providers.paypal_signatures import CertificateStore
from hazina.providers.sandbox import SandboxProcessor, SandboxSimulation
from hazina.providers.sandbox_payouts import SandboxPayouts
from hazina.providers.smtp import SmtpSender
from hazina.providers.stripe import StripeProvider
from hazina.providers.whatsapp import WhatsAppProvider
from hazina.services.dashboard_users import seed_dashboard_user
from hazina.services.login_limits import LoginLimits
from hazina.services.merchants import (
    CredentialCache,
    deactivate_published_test_merchant,
    find_merchant_by_email,
    seed_test_merchant,
)
from hazina.services.notifications.sending import Channels
from hazina.services.passwords import PasswordChecks
from hazina.services.payouts.context import PayoutContext
from hazina.services.ports import PaymentProvider, PayoutProvider, WebhookSender
from hazina.services.provider_payments import ProviderContext
from hazina.services.registry import ProviderRegistry
from hazina.services.throttle import (
    KeyedLimit,
    Limiter,
    PaymentThrottle,
    SampleThrottle,
    async_storage,
    storage_uri,
)
from hazina.services.webhook_secrets import seal_endpoints
from hazina.vault.keyfile import load_or_create_key_file
from hazina.vault.keyring import KeyRing, KeyRingError

log = logging.getLogger("hazina")


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    db: Database
    sandbox: SandboxProcessor
    webhook_sender: WebhookSender
    webhook_policy: RetryPolicy
    credentials: CredentialCache
    providers: ProviderContext
    public_payment_throttle: PaymentThrottle
    rejected_hook_samples: SampleThrottle
    passwords: PasswordChecks
    login_limits: LoginLimits
    redis: Redis | None  # HAZINA_REDIS_URL, for /health to ping (the limiter has its own client)
    # Every rate limit counts through this one limiter (shared storage, or this process).
    limiter: Limiter
    payment_link_limit: KeyedLimit
    notification_channels: Channels

    @property
    def payouts(self) -> PayoutContext:
        """Built on demand (two small objects) from the providers the payments use."""
        return payout_context(self.settings, self.providers)

    async def close(self) -> None:
        await self.providers.registry.aclose()
        await self.webhook_sender.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()


def build(settings: Settings) -> Container:
    # First: a refused key ring must not leave a connection pool or HTTP client behind.
    key_ring = vault(settings)
    limiter = Limiter(async_storage(storage_uri(settings.rate_limit_storage, settings.redis_url)))
    throttle = PaymentThrottle(
        limiter,
        per_order=settings.public_payment_limit_per_order,
        per_address=settings.public_payment_limit_per_address,
    )
    simulation = SandboxSimulation(
        test_mode=settings.test_mode,
        test_delay_ms=settings.test_processing_delay_ms,
        test_success=settings.test_payment_success,
        success_rates={"upi": settings.upi_success_rate, "card": settings.card_success_rate},
        delay_min_ms=settings.processing_delay_min_ms,
        delay_max_ms=settings.processing_delay_max_ms,
    )
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    whatsapp = WhatsAppProvider(
        settings.whatsapp_api_base,
        settings.whatsapp_graph_version,
        settings.provider_timeout_seconds,
    )
    redis = None if settings.redis_url is None else Redis.from_url(settings.redis_url)
    return Container(
        settings=settings,
        db=db,
        sandbox=SandboxProcessor(simulation),
        credentials=CredentialCache(settings.auth_cache_seconds),
        webhook_sender=HttpWebhookSender(
            timeout_seconds=settings.webhook_timeout_seconds,
            policy=settings.webhook_destinations,
            max_connections=max(settings.worker_concurrency, 10),
        ),
        webhook_policy=webhook_policy(settings),
        providers=ProviderContext(
            registry=ProviderRegistry(
                adapters=provider_adapters(settings, whatsapp),
                defaults=default_accounts(settings),
            ),
            vault=key_ring,
            base_url=settings.base_url,
            reconcile_schedule=tuple(settings.reconcile_schedule),
            # Stripe's SDK may try a call twice; a minute of slack for clocks and queues.
            start_grace_seconds=2 * settings.provider_timeout_seconds + 60,
            early_checks={"ecocash": EARLY_CHECKS},
        ),
        public_payment_throttle=throttle,
        rejected_hook_samples=SampleThrottle(limiter, settings.rejected_hook_samples_per_address),
        passwords=PasswordChecks(settings.password_check_concurrency),
        login_limits=LoginLimits(
            limiter,
            per_pair=settings.login_max_failures,
            per_address=settings.login_max_failures_per_address,
            window_seconds=settings.login_window_seconds,
        ),
        redis=redis,
        limiter=limiter,
        payment_link_limit=KeyedLimit(
            limiter, "payment_link", settings.payment_link_limit, "Too many payment links"
        ),
        notification_channels=Channels(whatsapp=whatsapp, email=email_sender(settings)),
    )


def email_sender(settings: Settings) -> SmtpSender | None:
    if settings.smtp_host is None:
        return None
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        security=settings.smtp_security,
        sender=settings.smtp_from,
    )


def provider_adapters(settings: Settings, whatsapp: WhatsAppProvider) -> dict[str, PaymentProvider]:
    timeout = settings.provider_timeout_seconds
    adapters: list[PaymentProvider] = [
        StripeProvider(settings.stripe_api_base, timeout),
        GenericGatewayProvider(),
        ClickPesaProvider(settings.clickpesa_api_base, timeout),
        PayPalProvider(
            settings.paypal_api_base,
            timeout,
            CertificateStore(settings.paypal_cert_hosts.split(","), timeout),
            postback=settings.paypal_webhook_verification == "postback",
        ),
        PaynowProvider(settings.paynow_api_base, timeout),
        EcoCashProvider(settings.ecocash_api_base, timeout),
        # Collects nothing: registered so it is connected, sealed and notified like a provider.
        whatsapp,
    ]
    return {adapter.name: adapter for adapter in adapters}


def payout_context(settings: Settings, providers: ProviderContext) -> PayoutContext:
    """The payout adapters: the sandbox's, and ClickPesa's on the collections adapter's client
    and token cache."""
    clickpesa = providers.registry.get("clickpesa")
    assert isinstance(clickpesa, ClickPesaProvider)
    adapters: list[PayoutProvider] = [SandboxPayouts(), ClickPesaPayouts(clickpesa)]
    return PayoutContext(
        adapters={adapter.name: adapter for adapter in adapters},
        providers=providers,
        check_schedule=tuple(settings.payout_check_schedule),
    )


def default_accounts(settings: Settings) -> dict[str, ProviderAccess]:
    """A single-tenant deployment's accounts, from the environment (the onboarding server's
    variables): used by every merchant without an account of its own for that provider."""
    accounts: dict[str, ProviderAccess] = {}
    if settings.stripe_secret_key and settings.stripe_webhook_secret:
        secrets = {
            "secret_key": settings.stripe_secret_key,
            "webhook_secret": settings.stripe_webhook_secret,
        }
        if settings.stripe_publishable_key:
            secrets["publishable_key"] = settings.stripe_publishable_key
        live = settings.stripe_secret_key.startswith(("sk_live_", "rk_live_"))
        mode = "live" if live else "test"
        accounts["stripe"] = ProviderAccess("stripe", None, mode, secrets)
    if settings.clickpesa_client_id and settings.clickpesa_api_key:
        secrets = {"client_id": settings.clickpesa_client_id, "api_key": settings.clickpesa_api_key}
        if settings.clickpesa_checksum_key:
            secrets["checksum_key"] = settings.clickpesa_checksum_key
        mode = "live" if settings.is_production else "test"
        accounts["clickpesa"] = ProviderAccess("clickpesa", None, mode, secrets)
    if settings.paynow_integration_id and settings.paynow_integration_key:
        secrets = {
            "integration_id": settings.paynow_integration_id,
            "integration_key": settings.paynow_integration_key,
        }
        if settings.paynow_auth_email:
            secrets["auth_email"] = settings.paynow_auth_email
        mode = "live" if settings.is_production else "test"
        accounts["paynow"] = ProviderAccess("paynow", None, mode, secrets)
    if settings.ecocash_merchant_code and settings.ecocash_api_key:
        secrets = {
            "merchant_code": settings.ecocash_merchant_code,
            "api_key": settings.ecocash_api_key,
        }
        mode = "live" if settings.is_production else "test"
        accounts["ecocash"] = ProviderAccess("ecocash", None, mode, secrets)
    if settings.paypal_client_id and settings.paypal_client_secret and settings.paypal_webhook_id:
        secrets = {
            "client_id": settings.paypal_client_id,
            "client_secret": settings.paypal_client_secret,
            "webhook_id": settings.paypal_webhook_id,
        }
        mode = "live" if settings.is_production else "test"
        accounts["paypal"] = ProviderAccess("paypal", None, mode, secrets)
    return accounts


def webhook_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        schedule=settings.webhook_retry_schedule,
        retry_after_cap=timedelta(seconds=settings.webhook_retry_after_max_seconds),
    )


class VaultUnavailable(RuntimeError):
    """No usable key ring: the master keys or the key file are malformed."""


def vault(settings: Settings) -> KeyRing:
    """HAZINA_MASTER_KEYS; outside production, without it, a key file made on first run.

    Production never invents a key (Settings refuses production without HAZINA_MASTER_KEYS):
    credentials sealed with one nobody backed up are lost.
    """
    try:
        if settings.master_keys:
            return KeyRing.parse(settings.master_keys)
        ring, created = load_or_create_key_file(settings.master_key_file)
    except KeyRingError as exc:
        source = "HAZINA_MASTER_KEYS" if settings.master_keys else settings.master_key_file
        raise VaultUnavailable(f"{source}: {exc}") from None
    if created:
        log.warning(
            "created a development key ring at %s: back it up, or provider credentials "
            "saved with it cannot be read again",
            settings.master_key_file,
        )
    return ring


async def _seed_test_login(db: Database, settings: Settings) -> None:
    """The test merchant's dashboard login, `TEST_MERCHANT_EMAIL` + `TEST_MERCHANT_PASSWORD`."""
    merchant = await find_merchant_by_email(db, settings.test_merchant_email)
    if merchant is None:
        return
    email, password = settings.test_merchant_email, settings.test_merchant_password
    if await seed_dashboard_user(db, merchant.id, email, password):
        log.info("seeded the dashboard login %s (development only)", email)


class SchemaOutdated(RuntimeError):
    """PostgreSQL is migrated explicitly, so N processes never race to alter a shared schema."""


async def start(settings: Settings) -> Container:
    """Build, migrate SQLite (or check PostgreSQL is migrated) and seed outside production."""
    container = build(settings)
    db = container.db
    if db.is_sqlite:
        await migrate(db)
    elif not await is_current(db):
        await db.dispose()
        raise SchemaOutdated("the database schema is not current: run `hazina migrate` first")
    # Migration 0009 could not seal what older versions stored in plaintext (it has no key
    # ring): every process seals what is left before it serves. Repeating it is harmless.
    sealing = await seal_endpoints(db, container.providers.vault, unsealed_only=True)
    if sealing.endpoints_sealed:
        log.info("sealed the signing secrets of %d webhook endpoints", sealing.endpoints_sealed)
    if settings.is_production:
        if await deactivate_published_test_merchant(db, settings.test_api_key):
            log.warning("deactivated the development test merchant: production refuses it")
    else:
        seeded = await seed_test_merchant(
            db,
            container.providers.vault,
            email=settings.test_merchant_email,
            api_key=settings.test_api_key,
            api_secret=settings.test_api_secret,
            webhook_secret=settings.test_webhook_secret,
        )
        if seeded:
            log.info("seeded the test merchant %s (development only)", settings.test_merchant_email)
        await _seed_test_login(db, settings)
    return container
