"""`hazina serve | worker | migrate | merchant create | merchant list`."""

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Iterator

import click
import uvicorn
from pydantic import ValidationError
from uvicorn.loops.auto import auto_loop_factory

from hazina.api.app import create_app
from hazina.bootstrap import Container, SchemaOutdated, build, start
from hazina.config import Settings
from hazina.db.schema import migrate as migrate_schema
from hazina.domain.errors import BadRequest, Conflict
from hazina.services import merchants
from hazina.worker import Worker

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


async def _started(settings: Settings) -> Container:
    try:
        return await start(settings)
    except SchemaOutdated as exc:
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


async def _work(settings: Settings, concurrency: int | None) -> None:
    container = await _started(settings)
    stop = asyncio.Event()
    _on_stop_signals(stop)
    try:
        await Worker.from_container(container, concurrency).run(stop)
    finally:
        await container.close()


def _settings(**overrides: object) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        # A configuration mistake, said in one line per problem rather than as a traceback.
        problems = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise click.ClickException(f"invalid configuration: {problems}") from None
    updates = {name: value for name, value in overrides.items() if value is not None}
    return settings.model_copy(update=updates) if updates else settings


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
    "--worker/--no-worker", default=True, show_default=True, help="Run an embedded worker."
)
def serve(host: str | None, port: int | None, worker: bool) -> None:
    """Serve the API and pages; SQLite is migrated on start."""
    # The event loop uvicorn.run would pick itself ("auto": uvloop when installed).
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        runner.run(_serve(_settings(host=host, port=port), worker))


@main.command()
@click.option(
    "--concurrency", type=int, default=None, help="Jobs run at once (HAZINA_WORKER_CONCURRENCY)."
)
def worker(concurrency: int | None) -> None:
    """Run a standalone worker; run many of them against one PostgreSQL."""
    asyncio.run(_work(_settings(), concurrency))


@main.command()
def migrate() -> None:
    """Apply database migrations up to the newest."""

    async def run() -> None:
        container = build(_settings())
        try:
            await migrate_schema(container.db)
        finally:
            await container.db.dispose()

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
    """Create a merchant with its owner's dashboard login; print the API key and secret (and a
    generated password): secrets are shown only now."""
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
                container.db, name=name, email=email, actor="cli", owner_password=password
            )
        finally:
            await container.db.dispose()

    try:
        created = asyncio.run(run())
    except (Conflict, BadRequest) as exc:
        raise click.ClickException(exc.description) from None
    click.echo(f"merchant id: {created.merchant.id}")
    click.echo(f"api key:     {created.merchant.api_key}")
    click.echo(f"api secret:  {created.api_secret}")
    click.echo(f"dashboard:   {email.strip().lower()}")
    if not prompt_password:
        click.echo(f"password:    {password}")
    click.echo("Store the secrets now: Hazina keeps only their hashes and cannot show them again.")


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
        click.echo(f"{item.id}  {item.api_key}  {item.email}  {item.name}")
