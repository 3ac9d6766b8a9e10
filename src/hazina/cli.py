"""`hazina serve | worker | migrate | merchant … | keys … | inbound replay | reconcile | fake …`."""

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import click
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from tqdm import tqdm
from uvicorn.loops.auto import auto_loop_factory

from hazina.api.app import create_app
from hazina.bootstrap import Container, SchemaOutdated, VaultUnavailable, build, start
from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.schema import migrate as migrate_schema
from hazina.domain.errors import BadRequest, Conflict, HazinaError, NotFound
from hazina.domain.providers import ProviderFailure
from hazina.observability import logs, metrics
from hazina.services import inbound as inbound_events
from hazina.services import janitor, key_rotation, merchants, provider_payments
from hazina.services.ledger import check as ledger_check
from hazina.services.payouts import progress as payout_progress
from hazina.services.provider_accounts import CredentialsUnreadable
from hazina.services.webhook_secrets import WebhookSecretUnreadable
from hazina.testing.clickpesa_fake import serve_clickpesa_fake
from hazina.testing.ecocash_fake import serve_ecocash_fake
from hazina.testing.generic_fake import serve_generic_fake
from hazina.testing.paynow_fake import parse_integration, serve_paynow_fake
from hazina.testing.paypal_fake import serve_paypal_fake
from hazina.testing.stripe_fake import run_stripe_fake, webhook_endpoint
from hazina.testing.whatsapp_fake import FakeAccount, serve_whatsapp_fake
from hazina.vault.keyring import KeyRingError, generate_key_entry
from hazina.worker import Worker, janitor_retention

log = logging.getLogger("hazina")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` stops the server and the worker together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _on_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _freeze_startup_heap() -> None:
    """What start-up built (modules, the app, SQLAlchemy's mappers, compiled statements) lives
    as long as the process: moved out of the collector's sight, a full collection scans only
    what requests allocate, and a request that triggers one no longer waits for a sweep of the
    whole heap (hundreds of milliseconds with 200,000 objects). CPython's docs advise gc.freeze
    for exactly this, in long-running servers."""
    gc.collect()
    gc.freeze()


async def _started(settings: Settings) -> Container:
    try:
        return await start(settings)
    except (SchemaOutdated, VaultUnavailable) as exc:
        raise click.ClickException(str(exc)) from None


async def _serve(settings: Settings, with_worker: bool) -> None:
    container = await _started(settings)
    stop = asyncio.Event()
    _on_stop_signals(stop)
    config = uvicorn.Config(
        create_app(container),
        host=settings.host,
        port=settings.port,
        lifespan="off",
        log_config=None,
        access_log=False,
    )
    server = _Server(config)
    _freeze_startup_heap()
    tasks = [asyncio.create_task(server.serve())]
    if with_worker:
        tasks.append(asyncio.create_task(Worker.from_container(container).run(stop)))
    for task in tasks:
        # The server and the embedded worker live and die together: if either ends, both stop.
        task.add_done_callback(lambda _: stop.set())
    log.info("Hazina serving on http://%s:%d (%s)", settings.host, settings.port, settings.env)
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await container.close()
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        log.error("stopped after a failure", exc_info=failures[0])
        raise click.ClickException(f"stopped after a failure: {failures[0]!r}")


# `serve --processes N`: uvicorn's own supervisor forks N API processes (spawned, so each imports
# the app factory anew and reads its settings from the environment the parent leaves it).
_LOG_LEVEL_ENV = "HAZINA_LOG_LEVEL"


async def _prepare_once(settings: Settings) -> None:
    """What must happen once, before any API process starts: migrate SQLite (or check PostgreSQL
    is migrated), seal unsealed webhook secrets, seed outside production, create the development
    key file. The API processes then only build their container."""
    container = await _started(settings)
    await container.close()


def _serve_processes(settings: Settings, with_worker: bool, processes: int) -> None:
    asyncio.run(_prepare_once(settings))
    # The children read Settings from the environment: the command line's options go there, and
    # so does a development session secret, which is otherwise made up per process (a dashboard
    # session signed by one process would be refused by the others).
    os.environ["HAZINA_HOST"] = settings.host
    os.environ["HAZINA_PORT"] = str(settings.port)
    if settings.session_secret is not None:
        os.environ.setdefault("HAZINA_SESSION_SECRET", settings.session_secret)
    os.environ[_LOG_LEVEL_ENV] = logging.getLevelName(logging.getLogger().level)
    factory = "hazina.cli:api_with_worker" if with_worker else "hazina.cli:api_process"
    log.info(
        "Hazina serving on http://%s:%d (%s) with %d processes%s",
        settings.host,
        settings.port,
        settings.env,
        processes,
        ", each with a worker" if with_worker else "",
    )
    # Before the children are spawned: each imports prometheus_client anew and must find
    # PROMETHEUS_MULTIPROC_DIR then, so that a scrape of any one sums them all.
    with metrics.processes_sharing_metrics():
        uvicorn.run(
            factory,
            factory=True,
            workers=processes,
            host=settings.host,
            port=settings.port,
            lifespan="on",
            log_config=None,
            access_log=False,
            # A child answers the supervisor's health pings only once it has imported
            # everything; uvicorn's 5 s default kills it before then on a busy machine, and
            # again, forever.
            timeout_worker_healthcheck=60,
        )


def _api(with_worker: bool) -> FastAPI:
    """One API process of `serve --processes N`: its own container (pools, clients) and, with
    `with_worker`, an embedded worker, both closed when uvicorn shuts the process down."""
    settings = Settings()
    logs.configure(json_lines=settings.json_logs, level=os.environ.get(_LOG_LEVEL_ENV, "INFO"))
    container = build(settings)
    app = create_app(container)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _freeze_startup_heap()
        stop = asyncio.Event()
        task = None
        if with_worker:
            task = asyncio.create_task(Worker.from_container(container).run(stop))
            # The process and its worker live and die together: a worker that ends on its own
            # stops the process, and uvicorn's supervisor starts a new one.
            task.add_done_callback(
                lambda _: None if stop.is_set() else os.kill(os.getpid(), signal.SIGTERM)
            )
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                failure = (await asyncio.gather(task, return_exceptions=True))[0]
                if isinstance(failure, BaseException):
                    log.error("the embedded worker failed", exc_info=failure)
            await container.close()

    app.router.lifespan_context = lifespan
    return app


def api_process() -> FastAPI:
    """uvicorn's app factory for `serve --processes N --no-worker`."""
    return _api(with_worker=False)


def api_with_worker() -> FastAPI:
    """uvicorn's app factory for `serve --processes N` (each process embeds a worker)."""
    return _api(with_worker=True)


async def _work(settings: Settings, concurrency: int | None) -> None:
    container = await _started(settings)
    _freeze_startup_heap()
    stop = asyncio.Event()
    _on_stop_signals(stop)
    try:
        await Worker.from_container(container, concurrency).run(stop)
    finally:
        await container.close()


def _settings(**overrides: object) -> Settings:
    """The environment's settings, with the command line's options over them; both validated
    together, so `--host 0.0.0.0` meets the same rules as HAZINA_HOST=0.0.0.0."""
    updates: dict[str, Any] = {
        name: value for name, value in overrides.items() if value is not None
    }
    try:
        settings = Settings(**updates)
    except ValidationError as exc:
        # A configuration mistake, said in one line per problem rather than as a traceback.
        problems = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise click.ClickException(f"invalid configuration: {problems}") from None
    # JSON lines in production (HAZINA_LOG_FORMAT), at the level --log-level set.
    logs.configure(json_lines=settings.json_logs, level=logging.getLogger().level)
    return settings


@click.group()
@click.option("--log-level", default="INFO", show_default=True)
def main(log_level: str) -> None:
    """Hazina, the payments hub."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.command()
@click.option("--host", default=None, help="Interface to bind (HAZINA_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (HAZINA_PORT or PORT, default 8000).")
@click.option(
    "--worker/--no-worker",
    default=True,
    show_default=True,
    help="Run an embedded worker (one in each process).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="API processes sharing the port (uvicorn's supervisor restarts any that dies).",
)
def serve(host: str | None, port: int | None, worker: bool, processes: int) -> None:
    """Serve the API and pages; SQLite is migrated on start."""
    settings = _settings(host=host, port=port)
    if processes > 1:
        _serve_processes(settings, worker, processes)
        return
    # The event loop uvicorn.run would pick itself ("auto": uvloop when installed).
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        runner.run(_serve(settings, worker))


@main.command()
@click.option(
    "--concurrency", type=int, default=None, help="Jobs run at once (HAZINA_WORKER_CONCURRENCY)."
)
def worker(concurrency: int | None) -> None:
    """Run a standalone worker; run many of them against one PostgreSQL."""
    # uvloop as for `serve`: a delivery's CPU is mostly event-loop and HTTP-client work.
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        runner.run(_work(_settings(), concurrency))


@main.command()
def migrate() -> None:
    """Apply database migrations up to the newest."""

    async def run() -> None:
        # Only the database: migrating needs no key ring, sender or sandbox.
        db = Database(_settings().database_url)
        try:
            await migrate_schema(db)
        finally:
            await db.dispose()

    asyncio.run(run())
    click.echo("database migrated")


@main.group()
def merchant() -> None:
    """Manage merchants."""


@merchant.command("create")
@click.option("--name", required=True)
@click.option("--email", required=True, help="Also the owner's dashboard login.")
@click.option(
    "--prompt-password",
    is_flag=True,
    help="Ask for the owner's dashboard password instead of generating one.",
)
def merchant_create(name: str, email: str, prompt_password: bool) -> None:
    """Create a merchant (a test twin and a live twin) with its owner's dashboard login; print
    both API key pairs (and a generated password): secrets are shown only now."""
    # Never a command-line value: it would be left in the shell history and the process list.
    password = (
        click.prompt("Dashboard password", hide_input=True, confirmation_prompt=True)
        if prompt_password
        else secrets.token_urlsafe(12)
    )

    async def run() -> merchants.NewCredentials:
        container = await _started(_settings())
        try:
            return await merchants.create_merchant(
                container.db,
                container.providers.vault,
                name=name,
                email=email,
                actor="cli",
                owner_password=password,
            )
        finally:
            await container.db.dispose()

    try:
        created = asyncio.run(run())
    except (Conflict, BadRequest) as exc:
        raise click.ClickException(exc.description) from None
    click.echo(f"account id:       {created.merchant.account_id}")
    click.echo(f"test merchant id: {created.merchant.id}")
    click.echo(f"test api key:     {created.merchant.api_key}")
    click.echo(f"test api secret:  {created.api_secret}")
    click.echo(f"live merchant id: {created.live_merchant.id}")
    click.echo(f"live api key:     {created.live_merchant.api_key}")
    click.echo(f"live api secret:  {created.live_api_secret}")
    click.echo(f"dashboard:        {email.strip().lower()}")
    if not prompt_password:
        click.echo(f"password:         {password}")
    click.echo("Store the secrets now: Hazina keeps only their hashes and cannot show them again.")


@merchant.command("roll-secret")
@click.option("--email", required=True, help="The merchant's email.")
@click.option("--live", is_flag=True, help="Roll the live key's secret (default: the test key's).")
def merchant_roll_secret(email: str, live: bool) -> None:
    """Replace one mode's API secret and print the new one (shown only now). Merchants that
    existed before modes get a live twin whose secret nobody knows until it is rolled."""

    async def run() -> tuple[str, str]:
        container = await _started(_settings())
        try:
            twin = await merchants.find_merchant_by_email(container.db, email, livemode=live)
            if twin is None:
                raise NotFound(f"No merchant with email {email}")
            secret = await merchants.roll_api_secret(
                container.db, twin.id, actor="cli", cache=container.credentials
            )
            return twin.api_key, secret
        finally:
            await container.db.dispose()

    try:
        api_key, secret = asyncio.run(run())
    except NotFound as exc:
        raise click.ClickException(exc.description) from None
    click.echo(f"api key:    {api_key}")
    click.echo(f"api secret: {secret}")


@merchant.command("list")
def merchant_list() -> None:
    """List merchants (never their secrets)."""

    async def run() -> list[merchants.MerchantIdentity]:
        container = await _started(_settings())
        try:
            return await merchants.list_merchants(container.db)
        finally:
            await container.db.dispose()

    for item in asyncio.run(run()):
        click.echo(f"{item.id}  {item.mode}  {item.api_key}  {item.email}  {item.name}")


@main.group()
def inbound() -> None:
    """Provider notifications as received."""


@inbound.command("replay")
@click.argument("inbound_event_ids", nargs=-1)
@click.option("--failed", is_flag=True, help="Replay every notification whose handling failed.")
def inbound_replay(inbound_event_ids: tuple[str, ...], failed: bool) -> None:
    """Apply stored notifications again; what was applied before is a duplicate now."""
    if not inbound_event_ids and not failed:
        raise click.UsageError("name inbound event ids, or pass --failed")

    async def run() -> None:
        container = await _started(_settings())
        try:
            targets = list(inbound_event_ids)
            if failed:
                targets += await inbound_events.failed_inbound_event_ids(container.db)
            for inbound_event_id in targets:
                try:
                    result = await inbound_events.replay(
                        container.db, container.providers.registry, inbound_event_id, None
                    )
                except HazinaError as exc:
                    click.echo(f"{inbound_event_id}  {exc.description}", err=True)
                    continue
                error = f"  {result['error']}" if result["status"] == "failed" else ""
                click.echo(f"{inbound_event_id}  {result['status']}{error}")
        finally:
            await container.close()

    asyncio.run(run())


def _duration(value: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(value) < 2 or value[-1] not in units or not value[:-1].isdigit():
        raise click.BadParameter("use a number and a unit: 90s, 30m, 2h, 7d")
    return timedelta(seconds=int(value[:-1]) * units[value[-1]])


@main.command()
@click.option("--since", default="24h", show_default=True, help="How far back: 30m, 2h, 7d.")
def reconcile(since: str) -> None:
    """Ask providers about every payment still pending that started within --since."""
    window = _duration(since)

    async def run() -> dict[str, int]:
        container = await _started(_settings())
        counts: dict[str, int] = {}
        try:
            payment_ids = await provider_payments.pending_provider_payments(container.db, window)
            for payment_id in tqdm(payment_ids, desc="reconciling", unit="payment"):
                try:
                    outcome = await provider_payments.reconcile_payment(
                        container.db, container.providers, payment_id
                    )
                except (HazinaError, ProviderFailure) as exc:
                    outcome = "error"
                    tqdm.write(f"{payment_id}: {getattr(exc, 'description', exc)}")
                counts[outcome] = counts.get(outcome, 0) + 1
        finally:
            await container.close()
        return counts

    counts = asyncio.run(run())
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    click.echo(f"reconciled: {summary or 'nothing pending'}")


@main.command("janitor")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def janitor_command(dry_run: bool) -> None:
    """Purge expired idempotency keys, finished jobs, old delivery attempts and old rejected
    inbound samples (retentions: HAZINA_RETAIN_*), in batches of HAZINA_JANITOR_BATCH_SIZE."""
    settings = _settings()

    async def run() -> dict[str, int]:
        container = await _started(settings)
        retention = janitor_retention(settings)
        try:
            if dry_run:
                return await janitor.count_purgeable(container.db, retention)
            return await janitor.purge(container.db, retention, settings.janitor_batch_size)
        finally:
            await container.close()

    counts = asyncio.run(run())
    verb = "would delete" if dry_run else "deleted"
    for table, count in counts.items():
        click.echo(f"{table}: {verb} {count}")


@main.group()
def ledger() -> None:
    """The double-entry ledger (#14)."""


@ledger.command("check")
def ledger_check_command() -> None:
    """Recompute every balance from its entries and every transfer's sum; exit 1 naming the
    first broken account (or transfer). The outcome is stored for /health."""
    settings = _settings()

    async def run() -> ledger_check.CheckResult:
        container = await _started(settings)
        try:
            return await ledger_check.record_check(container.db)
        finally:
            await container.close()

    result = asyncio.run(run())
    counted = f"{result.accounts} accounts, {result.transfers} transfers"
    if not result.ok:
        click.echo(f"ledger check FAILED ({counted}): {result.problem}", err=True)
        raise SystemExit(1)
    click.echo(f"ledger check passed: {counted}")


@main.group()
def fake() -> None:
    """Run a fake provider API (the real wire format, in memory) for demos and benchmarks."""


@fake.command("stripe")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=12111, show_default=True)
@click.option("--api-key", default=None, help="Secret key (sk_test_…) whose events are sent.")
@click.option("--webhook-url", default=None, help="Where that key's events go.")
@click.option("--webhook-secret", default=None, help="The whsec_… secret they are signed with.")
def fake_stripe(
    host: str,
    port: int,
    api_key: str | None,
    webhook_url: str | None,
    webhook_secret: str | None,
) -> None:
    """Serve a fake Stripe: set HAZINA_STRIPE_API_BASE=http://HOST:PORT for Hazina.

    Sessions' checkout pages are served here too (/c/pay/…). --api-key, --webhook-url and
    --webhook-secret (all three or none) register the webhook endpoint up front."""
    try:
        webhook_endpoint(api_key, webhook_url, webhook_secret)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    run_stripe_fake(
        host, port, api_key=api_key, webhook_url=webhook_url, webhook_secret=webhook_secret
    )


@fake.command("generic")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8768, show_default=True)
def fake_generic(host: str, port: int) -> None:
    """Serve a generic payment website: register a gateway whose redirect URL template is
    http://HOST:PORT/pay?ref={payment_id}&amount={amount}&currency={currency}&return={return_url},
    then POST /_control/gateway {"webhook_url", "signing_secret"} with what Hazina answered."""
    serve_generic_fake(host, port)


@fake.command("clickpesa")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--token-lifetime", type=float, default=3600.0, show_default=True)
def fake_clickpesa(host: str, port: int, token_lifetime: float) -> None:
    """Serve a fake ClickPesa: set HAZINA_CLICKPESA_API_BASE=http://HOST:PORT for Hazina."""
    serve_clickpesa_fake(host, port, token_lifetime)


@fake.command("whatsapp")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8767, show_default=True)
@click.option("--phone-number-id", default="106540352242922", show_default=True)
@click.option("--access-token", default="EAAGfaketoken", show_default=True)
@click.option("--app-secret", default="fake-app-secret", show_default=True)
@click.option("--webhook-url", default=None, help="Hazina's /hooks/whatsapp/{account id}.")
def fake_whatsapp(
    host: str,
    port: int,
    phone_number_id: str,
    access_token: str,
    app_secret: str,
    webhook_url: str | None,
) -> None:
    """Serve a fake WhatsApp Cloud API: set HAZINA_WHATSAPP_API_BASE=http://HOST:PORT for
    Hazina, and connect a whatsapp account with the same id, token and app secret."""
    account = FakeAccount(phone_number_id, access_token, app_secret, webhook_url)
    serve_whatsapp_fake(host, port, account)


@fake.command("paynow")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8767, show_default=True)
@click.option(
    "--integration",
    "integrations",
    multiple=True,
    metavar="ID:KEY:EMAIL",
    help="An integration to accept (its id, key and login email); repeatable.",
)
@click.option(
    "--time-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiplies the test numbers' delays (5 s and 30 s); 0 settles them at once.",
)
def fake_paynow(host: str, port: int, integrations: tuple[str, ...], time_scale: float) -> None:
    """Serve a fake Paynow: set HAZINA_PAYNOW_API_BASE=http://HOST:PORT for Hazina."""
    try:
        accepted = tuple(parse_integration(text) for text in integrations)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    serve_paynow_fake(host, port, accepted, time_scale)


@fake.command("ecocash")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8768, show_default=True)
@click.option("--api-key", "api_keys", multiple=True, help="An API key to accept; repeatable.")
@click.option(
    "--pay-after",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds after which 263771111111's payment is paid.",
)
def fake_ecocash(host: str, port: int, api_keys: tuple[str, ...], pay_after: float) -> None:
    """Serve a fake EcoCash: set HAZINA_ECOCASH_API_BASE=http://HOST:PORT for Hazina."""
    serve_ecocash_fake(host, port, api_keys, pay_after)


@fake.command("paypal")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8766, show_default=True)
@click.option("--token-lifetime", type=int, default=32400, show_default=True)
def fake_paypal(host: str, port: int, token_lifetime: int) -> None:
    """Serve a fake PayPal: set HAZINA_PAYPAL_API_BASE=http://HOST:PORT and add HOST to
    HAZINA_PAYPAL_CERT_HOSTS for Hazina. Register a client at POST /_control/clients."""
    serve_paypal_fake(host, port, token_lifetime)


@main.group()
def keys() -> None:
    """Manage the master keys that encrypt provider credentials."""


@keys.command("generate")
@click.option("--kid", default=None, help="Key id (default: k + today's date + 4 hex digits).")
def keys_generate(kid: str | None) -> None:
    """Print a new master key entry (kid:base64) to append to HAZINA_MASTER_KEYS."""
    try:
        entry = generate_key_entry(kid)
    except KeyRingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(entry)
    click.echo(
        "Append it to HAZINA_MASTER_KEYS, newest last (HAZINA_MASTER_KEYS=<old entries>,<this>),"
        " restart every process, then run `hazina keys rotate`. Keep old keys until it finishes.",
        err=True,
    )


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every provider and webhook secret under the newest key; resumable, safe to
    repeat."""

    async def run() -> key_rotation.RotationResult:
        container = await _started(_settings())
        try:
            with tqdm(desc="accounts", unit="account") as bar:

                def advance(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                return await key_rotation.rotate_secrets(
                    container.db, container.providers.vault, advance
                )
        finally:
            await container.close()

    try:
        result = asyncio.run(run())
    except (CredentialsUnreadable, WebhookSecretUnreadable) as exc:
        raise click.ClickException(f"rotation stopped: {exc}") from None
    click.echo(
        f"{result.accounts} accounts examined, {result.accounts_rotated} re-encrypted "
        f"({result.secrets_rotated} secrets); {result.endpoints} webhook endpoints examined, "
        f"{result.endpoints_rotated} re-encrypted"
    )


@main.group()
def payouts() -> None:
    """Money leaving ledger accounts for phones and banks."""


@payouts.command("reconcile")
def payouts_reconcile() -> None:
    """Ask the providers about every payout still moving (pending or processing) now, and
    apply their answers; a payout the provider never heard of is sent (once)."""

    async def run() -> dict[str, int]:
        container = await _started(_settings())
        counts: dict[str, int] = {}
        try:
            payout_ids = await payout_progress.moving_payouts(container.db)
            for payout_id in tqdm(payout_ids, desc="reconciling", unit="payout"):
                try:
                    outcome = await payout_progress.process_payout(
                        container.db, container.payouts, payout_id, None
                    )
                except (HazinaError, ProviderFailure) as exc:
                    outcome = "error"
                    tqdm.write(f"{payout_id}: {getattr(exc, 'description', exc)}")
                counts[outcome] = counts.get(outcome, 0) + 1
        finally:
            await container.close()
        return counts

    counts = asyncio.run(run())
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    click.echo(f"payouts: {summary or 'none moving'}")
