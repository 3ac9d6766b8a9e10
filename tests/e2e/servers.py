"""Real `hazina` processes for end-to-end tests: started, watched, and always killed afterwards.

Each process writes stdout and stderr to a log file in the test's directory; whenever one exits
unexpectedly or a wait runs out, the assertion message carries the tail of every log.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hazina.db.database import Database
from tests.conftest import TEST_MASTER_KEYS
from tests.databases import postgres_database, postgres_reachable, require_postgres, sqlite_url

AUTH = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
STARTUP_SECONDS = 30.0
_SCRIPT = Path(sys.executable).with_name("hazina")
HAZINA = _SCRIPT if _SCRIPT.exists() else Path(__file__).parents[2] / ".venv" / "bin" / "hazina"
# Settings the child must not inherit from the developer's shell.
_INHERITED_PREFIXES = ("HAZINA_", "TEST_", "DATABASE_URL", "PORT", "UPI_", "CARD_", "PROCESSING_")
# Fast, deterministic defaults; a test overrides what it is about.
DEFAULT_ENV = {
    "TEST_MODE": "true",
    "TEST_PAYMENT_SUCCESS": "true",
    "TEST_PROCESSING_DELAY": "100",
    "HAZINA_JOB_LEASE_SECONDS": "5",
    "HAZINA_JOB_RETRY_BASE_SECONDS": "0.1",
    "HAZINA_JOB_RETRY_CAP_SECONDS": "1",
    "HAZINA_WORKER_POLL_SECONDS": "0.1",
    "HAZINA_WORKER_HEARTBEAT_SECONDS": "0.5",
    "HAZINA_DB_POOL_SIZE": "5",
    # Webhooks go to a sink on 127.0.0.1 and a random port: allowed explicitly.
    "HAZINA_WEBHOOK_ALLOW_PRIVATE": "true",
    "HAZINA_WEBHOOK_PORTS": "1-65535",
    # The ring the in-process fixtures seal with (tests/conftest.py): every process of a hub, and
    # a test's own container beside it, open one another's sealed secrets; no key file is made.
    "HAZINA_MASTER_KEYS": TEST_MASTER_KEYS,
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class HazinaProcess:
    name: str
    popen: "subprocess.Popen[bytes]"
    log: Path
    url: str | None = None
    stopping: bool = False  # signalled or killed on purpose: its exit is no failure

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self, limit: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-limit:]

    def signal(self, signum: signal.Signals) -> None:
        self.stopping = True
        if self.running():
            self.popen.send_signal(signum)

    async def exit_code(self, within: float) -> int:
        """Wait for the process to exit on its own (after a signal, say) and return its code."""
        deadline = time.monotonic() + within
        while (code := self.popen.poll()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running after {within}s:\n{self.output()}")
            await asyncio.sleep(0.05)
        return code

    def kill(self) -> None:
        """SIGKILL to the process and everything it started (`serve --processes N` forks API
        processes, which would outlive their supervisor)."""
        self.stopping = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)


class Hub:
    """The hazina processes of one test, over one database: `serve`, `worker`, `migrate`."""

    def __init__(self, directory: Path, database_url: str) -> None:
        self.directory = directory
        self.database_url = database_url
        self.is_postgres = database_url.startswith("postgresql")
        self.processes: list[HazinaProcess] = []

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
        env.update(DEFAULT_ENV)
        env["HAZINA_DATABASE_URL"] = self.database_url
        env.update(overrides)
        return env

    def start(self, name: str, *args: str, **env: str) -> HazinaProcess:
        log = self.directory / f"{name}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                [str(HAZINA), *args],
                cwd=self.directory,  # away from the repository's .env
                env=self.env(**env),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, for `kill`
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        process = HazinaProcess(name, popen, log)
        self.processes.append(process)
        return process

    async def run(self, *args: str, within: float = STARTUP_SECONDS, **env: str) -> tuple[int, str]:
        """Run a command to completion: (exit code, output)."""
        process = self.start(f"run-{len(self.processes)}", *args, **env)
        process.stopping = True
        code = await process.exit_code(within)
        return code, process.output()

    async def migrate(self) -> None:
        code, output = await self.run("migrate")
        assert code == 0, f"hazina migrate failed ({code}):\n{output}"

    async def prepare(self) -> None:
        """PostgreSQL is migrated explicitly (serve refuses otherwise); SQLite migrates itself."""
        if self.is_postgres:
            await self.migrate()

    async def serve(self, *, worker: bool = False, **env: str) -> HazinaProcess:
        return await self.serve_with(["--worker" if worker else "--no-worker"], env)

    async def serve_with(self, options: list[str], env: dict[str, str]) -> HazinaProcess:
        """`hazina serve` with these options (`--processes 2`, say) on a free port, once healthy."""
        port = free_port()
        process = self.start(f"serve-{port}", "serve", "--port", str(port), *options, **env)
        process.url = f"http://127.0.0.1:{port}"
        await self.wait_for_health(process)
        return process

    def worker(self, name: str, concurrency: int, **env: str) -> HazinaProcess:
        return self.start(name, "worker", "--concurrency", str(concurrency), **env)

    async def wait_for_health(self, server: HazinaProcess) -> dict[str, Any]:
        assert server.url is not None
        body: dict[str, Any] = {}

        async def healthy() -> bool:
            nonlocal body
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    response = await client.get(f"{server.url}/health")
            except httpx.TransportError:
                return False
            body = response.json()
            return response.status_code == 200 and body.get("status") == "healthy"

        await self.eventually(healthy, within=STARTUP_SECONDS, what=f"{server.name} /health")
        return body

    def report(self) -> str:
        return "\n".join(
            f"--- {p.name} (pid {p.pid}, exit {p.popen.poll()}) ---\n{p.output()}"
            for p in self.processes
        )

    def check_alive(self, *processes: HazinaProcess) -> None:
        for process in processes:
            if not process.running():
                raise AssertionError(
                    f"{process.name} exited with {process.popen.poll()}:\n{self.report()}"
                )

    async def eventually(
        self,
        condition: Callable[[], Awaitable[bool]],
        *,
        within: float,
        what: str,
        interval: float = 0.05,
    ) -> None:
        """Poll `condition` until true; fail early if a long-running process died."""
        deadline = time.monotonic() + within
        while not await condition():
            self.check_alive(*(p for p in self.processes if not p.stopping))
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not reached within {within}s\n{self.report()}")
            await asyncio.sleep(interval)

    def kill_all(self) -> None:
        for process in self.processes:
            process.kill()

    @asynccontextmanager
    async def database(self) -> AsyncIterator[Database]:
        """Direct access to the hub's database, for what the API does not show."""
        db = Database(self.database_url, pool_size=2)
        try:
            yield db
        finally:
            await db.dispose()


@asynccontextmanager
async def open_hub(kind: str, directory: Path) -> AsyncIterator[Hub]:
    """A Hub over a fresh database of `kind`; every process is killed and the database dropped."""
    if kind == "sqlite":
        hub = Hub(directory, sqlite_url(directory))
        try:
            yield hub
        finally:
            hub.kill_all()
        return
    require_postgres(await postgres_reachable())
    async with postgres_database() as url:
        hub = Hub(directory, url)
        try:
            yield hub
        finally:
            hub.kill_all()


@asynccontextmanager
async def api(server: HazinaProcess) -> AsyncIterator[httpx.AsyncClient]:
    assert server.url is not None
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as client:
        yield client


async def create_order(client: httpx.AsyncClient, amount: int = 50000) -> str:
    response = await client.post("/api/v1/orders", json={"amount": amount})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def job_status(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/v1/test/jobs/status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
