"""The composition root: builds the database and adapters from Settings, prepares storage."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.schema import is_current, migrate
from hazina.delivery.sender import HttpWebhookSender
from hazina.domain.webhooks import RetryPolicy
from hazina.providers.sandbox import SandboxProcessor, SandboxSimulation
from hazina.services.dashboard_users import seed_dashboard_user
from hazina.services.merchants import (
    CredentialCache,
    deactivate_published_test_merchant,
    find_merchant_by_email,
    seed_test_merchant,
)
from hazina.services.ports import WebhookSender

log = logging.getLogger("hazina")


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    db: Database
    sandbox: SandboxProcessor
    webhook_sender: WebhookSender
    webhook_policy: RetryPolicy
    credentials: CredentialCache

    async def close(self) -> None:
        await self.webhook_sender.aclose()
        await self.db.dispose()


def build(settings: Settings) -> Container:
    simulation = SandboxSimulation(
        test_mode=settings.test_mode,
        test_delay_ms=settings.test_processing_delay_ms,
        test_success=settings.test_payment_success,
        success_rates={"upi": settings.upi_success_rate, "card": settings.card_success_rate},
        delay_min_ms=settings.processing_delay_min_ms,
        delay_max_ms=settings.processing_delay_max_ms,
    )
    return Container(
        settings=settings,
        db=Database(settings.database_url, pool_size=settings.db_pool_size),
        sandbox=SandboxProcessor(simulation),
        credentials=CredentialCache(settings.auth_cache_seconds),
        webhook_sender=HttpWebhookSender(
            timeout_seconds=settings.webhook_timeout_seconds,
            production=settings.is_production,
            max_connections=max(settings.worker_concurrency, 10),
        ),
        webhook_policy=webhook_policy(settings),
    )


def webhook_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        schedule=settings.webhook_retry_schedule,
        retry_after_cap=timedelta(seconds=settings.webhook_retry_after_max_seconds),
    )


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
    if settings.is_production:
        if await deactivate_published_test_merchant(db, settings.test_api_key):
            log.warning("deactivated the development test merchant: production refuses it")
    else:
        seeded = await seed_test_merchant(
            db,
            email=settings.test_merchant_email,
            api_key=settings.test_api_key,
            api_secret=settings.test_api_secret,
            webhook_secret=settings.test_webhook_secret,
        )
        if seeded:
            log.info("seeded the test merchant %s (development only)", settings.test_merchant_email)
        await _seed_test_login(db, settings)
    return container
