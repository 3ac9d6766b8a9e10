"""API throughput: idempotent payment creates and replays against the no-op baseline.

For each database (PostgreSQL, SQLite) this starts a real `hazina serve --no-worker` on a fresh
database, warms it up, and drives three phases from separate client processes over keep-alive
connections, each for a fixed duration:

- `noop`:   GET /livez, which touches nothing: the baseline of the same server process;
- `create`: POST /api/v1/payments (UPI) with a fresh Idempotency-Key, one pre-created order each;
- `replay`: the same POSTs again, same keys and bodies: each must answer the stored 201.

The timed phases take turns in `--rounds` rounds (default 2), so load from elsewhere on the machine
hits each alike. Each phase also prints the CPU it cost (clients, server, PostgreSQL backends,
whole machine) and the server's CPU per request, which stays meaningful when the machine is busy.

Every response is checked while measuring (creates: 201 with a new payment id; replays: 201,
`Idempotent-Replayed: true` and the original bytes; no-op: 200). The last line of output is one
JSON object with the figures; the ratios are create/no-op and replay/no-op from the same run.

    .venv/bin/python bench/api.py [--duration 10] [--concurrency 32] [--clients 2]
                                  [--rounds 2] [--databases postgres,sqlite]
"""

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import asyncpg
import httpx
from sqlalchemy.engine import make_url

AUTH = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
NOOP_BODY = b'{"status":"alive"}'
ORDER_AMOUNT = 50_000
VPA = "bench@upi"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO = Path(__file__).resolve().parent.parent

Kind = Literal["orders", "noop", "create", "replay"]


# ---------------------------------------------------------------------------------------------
# Client processes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase for one client process: `duration` seconds, or `count` requests when None."""

    kind: Kind
    base_url: str
    concurrency: int
    duration: float | None = None
    count: int = 0


@dataclass(slots=True)
class PhaseResult:
    completed: int = 0  # checked requests that finished inside the window
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, of the completed ones
    elapsed: float = 0.0
    cpu_seconds: float = 0.0
    payment_ids: list[str] = field(default_factory=list)
    reused_orders: int = 0


@dataclass(slots=True)
class _Created:
    key: str
    body: bytes
    response: bytes


@dataclass(slots=True)
class ClientState:
    """What one client process remembers between phases on the same server."""

    fresh_orders: deque[str] = field(default_factory=deque)
    used_orders: list[str] = field(default_factory=list)
    created: list[_Created] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)


class _Failed(Exception):
    """A response that is not what the contract promises."""


class _Runner:
    def __init__(self, phase: Phase, state: ClientState, client: httpx.AsyncClient) -> None:
        self.phase = phase
        self.state = state
        self.client = client
        self.result = PhaseResult()
        self.deadline = math.inf
        self.remaining = phase.count
        self.replay_cursor = 0

    def _take(self) -> bool:
        """Whether another request should start."""
        if self.phase.duration is not None:
            return time.monotonic() < self.deadline
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    async def _noop(self) -> None:
        response = await self.client.get("/livez")
        if response.status_code != 200 or response.content != NOOP_BODY:
            raise _Failed(f"livez {response.status_code} {response.content[:200]!r}")

    async def _order(self) -> None:
        body = {"amount": ORDER_AMOUNT, "currency": "INR", "receipt": "bench"}
        response = await self.client.post("/api/v1/orders", json=body)
        if response.status_code != 201:
            raise _Failed(f"order {response.status_code} {response.content[:200]!r}")
        order_id = response.json()["id"]
        if not str(order_id).startswith("order_"):
            raise _Failed(f"order id {order_id!r}")
        self.state.fresh_orders.append(order_id)

    def _next_order(self) -> str:
        state = self.state
        if state.fresh_orders:
            order_id = state.fresh_orders.popleft()
            state.used_orders.append(order_id)
            return order_id
        # Ran out of pre-created orders: pay an already attempted one again (reported).
        self.result.reused_orders += 1
        return state.used_orders[self.result.reused_orders % len(state.used_orders)]

    async def _create(self) -> None:
        order_id = self._next_order()
        key = "bench-" + secrets.token_hex(12)
        body = json.dumps({"order_id": order_id, "method": "upi", "vpa": VPA}).encode()
        headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
        response = await self.client.post("/api/v1/payments", content=body, headers=headers)
        if response.status_code != 201:
            raise _Failed(f"create {response.status_code} {response.content[:200]!r}")
        if "idempotent-replayed" in response.headers:
            raise _Failed(f"fresh key {key} answered as a replay")
        payment = response.json()
        payment_id = str(payment.get("id"))
        if not payment_id.startswith("pay_") or payment_id in self.state.seen_ids:
            raise _Failed(f"create answered a reused or malformed id {payment_id!r}")
        if (payment.get("order_id"), payment.get("status"), payment.get("vpa")) != (
            order_id,
            "pending",
            VPA,
        ):
            raise _Failed(f"create answered {payment!r} for order {order_id}")
        self.state.seen_ids.add(payment_id)
        self.result.payment_ids.append(payment_id)
        self.state.created.append(_Created(key, body, response.content))

    async def _replay(self) -> None:
        created = self.state.created
        original = created[self.replay_cursor % len(created)]
        self.replay_cursor += 1
        headers = {"Idempotency-Key": original.key, "Content-Type": "application/json"}
        response = await self.client.post(
            "/api/v1/payments", content=original.body, headers=headers
        )
        if response.status_code != 201:
            raise _Failed(f"replay {response.status_code} {response.content[:200]!r}")
        if response.headers.get("idempotent-replayed") != "true":
            raise _Failed(f"replay of {original.key} not marked Idempotent-Replayed")
        if response.content != original.response:
            raise _Failed(f"replay of {original.key} differs: {response.content[:200]!r}")

    async def _loop(self) -> None:
        request = {
            "orders": self._order,
            "noop": self._noop,
            "create": self._create,
            "replay": self._replay,
        }[self.phase.kind]
        result = self.result
        while self._take():
            started = time.perf_counter()
            try:
                await request()
            except (_Failed, httpx.HTTPError, ValueError, KeyError) as exc:
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}")
                continue
            if time.monotonic() <= self.deadline:
                result.completed += 1
                result.latencies.append(time.perf_counter() - started)

    async def run(self, start: Connection) -> PhaseResult:
        if self.phase.kind == "replay" and not self.state.created:
            raise RuntimeError("replay phase before any create")
        # Open every keep-alive connection before the window, then start with the others.
        await asyncio.gather(*(self.client.get("/livez") for _ in range(self.phase.concurrency)))
        start.send("ready")
        start_at: float = start.recv()
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        cpu_before, began = time.process_time(), time.monotonic()
        if self.phase.duration is not None:
            self.deadline = began + self.phase.duration
        await asyncio.gather(*(self._loop() for _ in range(self.phase.concurrency)))
        self.result.elapsed = time.monotonic() - began
        self.result.cpu_seconds = time.process_time() - cpu_before
        return self.result


async def _run_phase(phase: Phase, state: ClientState, start: Connection) -> PhaseResult:
    limits = httpx.Limits(
        max_connections=phase.concurrency, max_keepalive_connections=phase.concurrency
    )
    async with httpx.AsyncClient(
        base_url=phase.base_url, headers=AUTH, limits=limits, timeout=60.0
    ) as client:
        return await _Runner(phase, state, client).run(start)


def _client_main(connection: Connection) -> None:
    """A client process: runs the phases it is sent until it receives None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        loop_factory = None
    states: dict[str, ClientState] = {}
    while True:
        phase: Phase | None = connection.recv()
        if phase is None:
            return
        state = states.setdefault(phase.base_url, ClientState())
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result = runner.run(_run_phase(phase, state, connection))
        connection.send(result)


PhaseT = TypeVar("PhaseT")
ResultT = TypeVar("ResultT")


class Clients(Generic[PhaseT, ResultT]):
    """N client processes, each one asyncio loop with one httpx.AsyncClient, running `main`
    (this benchmark's client loop unless another benchmark brings its own)."""

    def __init__(self, count: int, main: Callable[[Connection], None] = _client_main) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[SpawnProcess] = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=main, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def run(self, phases: list[PhaseT]) -> list[ResultT]:
        for pipe, phase in zip(self.pipes, phases, strict=True):
            pipe.send(phase)
        for pipe in self.pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("client process out of step")
        start_at = time.monotonic() + 0.05
        for pipe in self.pipes:
            pipe.send(start_at)
        return [pipe.recv() for pipe in self.pipes]

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


# ---------------------------------------------------------------------------------------------
# CPU accounting (Linux /proc; absent elsewhere)
# ---------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def _postgres_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database`, by pid."""
    backends: dict[int, float] = {}
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes()
                if not title.startswith(b"postgres:") or f" {database} ".encode() not in title:
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            backends[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return backends


def _machine_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


@dataclass(slots=True)
class CpuSample:
    server: float | None
    postgres: dict[int, float]
    machine: tuple[int, int] | None
    at: float

    @classmethod
    def take(cls, server_pid: int, database: str | None) -> "CpuSample":
        return cls(
            server=_process_cpu(server_pid),
            postgres=_postgres_cpu(database) if database else {},
            machine=_machine_ticks(),
            at=time.monotonic(),
        )

    def usage_since(self, before: "CpuSample") -> dict[str, float]:
        """CPU seconds of the server and of the PostgreSQL backends, and machine jiffies."""
        usage: dict[str, float] = {"wall": self.at - before.at}
        if self.server is not None and before.server is not None:
            usage["server"] = self.server - before.server
        common = self.postgres.keys() & before.postgres.keys()
        if common:
            # Backends that lived through the whole phase; short-lived ones are not seen.
            usage["postgres"] = sum(self.postgres[pid] - before.postgres[pid] for pid in common)
        if self.machine and before.machine and self.machine[1] > before.machine[1]:
            usage["machine_busy"] = self.machine[0] - before.machine[0]
            usage["machine_total"] = self.machine[1] - before.machine[1]
        return usage


# ---------------------------------------------------------------------------------------------
# The server under test
# ---------------------------------------------------------------------------------------------


def _hazina_executable() -> str:
    beside = Path(sys.executable).parent / "hazina"
    if beside.exists():
        return str(beside)
    found = shutil.which("hazina")
    if found is None:
        raise SystemExit("the `hazina` command was not found; install the project first")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HAZINA_DATABASE_URL": database_url, "HAZINA_ENV": "development"})
    return env


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def running_server(database_url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """`hazina serve --no-worker` on a free port; yields (base URL, pid) once /health answers."""
    port = _free_port()
    log_path = workdir / f"server-{port}.log"
    command = [
        _hazina_executable(),
        "--log-level",
        "WARNING",
        "serve",
        "--no-worker",
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, env=_server_env(database_url), cwd=workdir, stdout=log, stderr=log
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"server exited with {server.returncode}:\n{_tail(log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy within 60 s:\n{_tail(log_path)}")
            time.sleep(0.1)
        yield base_url, server.pid
        if server.poll() is not None:
            raise RuntimeError(f"server died during the run:\n{_tail(log_path)}")
        errors = [line for line in _tail(log_path, 200).splitlines() if "ERROR" in line]
        if errors:
            print(f"  server logged errors, e.g. {errors[0]}")
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_sessions(admin_url: str, database: str | None) -> int:
    """Sessions ever opened on `database` (pg_stat_database, flushed within about a second)."""
    if database is None:
        return 0

    async def count() -> int:
        connection = await asyncpg.connect(_libpq(admin_url), timeout=10)
        try:
            sessions = await connection.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = $1", database
            )
        finally:
            await connection.close()
        return int(sessions or 0)

    return asyncio.run(count())


@contextlib.contextmanager
def postgres_database(admin_url: str, workdir: Path) -> Iterator[str]:
    """A fresh `hazina_bench_<random>` database, migrated; dropped afterwards."""
    name = f"hazina_bench_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(_libpq(admin_url), timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(_libpq(admin_url)).set(database=name).render_as_string(hide_password=False)
        migrated = subprocess.run(
            [_hazina_executable(), "--log-level", "WARNING", "migrate"],
            env=_server_env(url),
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"hazina migrate failed:\n{migrated.stdout}{migrated.stderr}")
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---------------------------------------------------------------------------------------------
# Orchestration and reporting
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Figures:
    rate: float
    p50_ms: float
    p99_ms: float
    completed: int
    errors: int


@dataclass(slots=True)
class Measured:
    """One run of one phase on every client."""

    results: list[PhaseResult]
    window: float
    usage: dict[str, float]
    sessions: int


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _percentile(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class DatabaseBench:
    def __init__(
        self,
        label: str,
        clients: Clients[Phase, PhaseResult],
        concurrency: int,
        args: argparse.Namespace,
        postgres_database: str | None = None,
    ) -> None:
        self.label = label
        self.postgres_database = postgres_database
        self.clients = clients
        self.per_client = _split(concurrency, len(clients.pipes))
        self.args = args
        self.errors = 0
        self.payment_ids: set[str] = set()

    def phase(
        self,
        base_url: str,
        server_pid: int,
        kind: Kind,
        *,
        duration: float | None = None,
        count: int = 0,
    ) -> Measured:
        counts = _split(count, len(self.per_client))
        phases = [
            Phase(kind, base_url, conc, duration, share)
            for conc, share in zip(self.per_client, counts, strict=True)
        ]
        database = self.postgres_database
        sessions_before = _postgres_sessions(self.args.postgres_url, database)
        before = CpuSample.take(server_pid, database)
        results = self.clients.run(phases)
        usage = CpuSample.take(server_pid, database).usage_since(before)
        sessions = _postgres_sessions(self.args.postgres_url, database) - sessions_before
        window = duration if duration is not None else max(r.elapsed for r in results)
        return Measured(results, window, usage, sessions)

    def figures(self, kind: Kind, runs: list[Measured], *, report: bool = True) -> Figures:
        """Check and sum the runs of one phase; print one line unless it was a warm-up."""
        results = [r for run in runs for r in run.results]
        window = sum(run.window for run in runs)
        completed = sum(r.completed for r in results)
        errors = sum(r.errors for r in results)
        for result in results:
            for payment_id in result.payment_ids:
                if payment_id in self.payment_ids:
                    errors += 1  # the same id answered to two different creates
                self.payment_ids.add(payment_id)
        latencies = sorted(v for r in results for v in r.latencies)
        figures = Figures(
            rate=completed / window if window > 0 else 0.0,
            p50_ms=1000 * _percentile(latencies, 50),
            p99_ms=1000 * _percentile(latencies, 99),
            completed=completed,
            errors=errors,
        )
        self.errors += errors
        for sample in [s for r in results for s in r.error_samples][:3]:
            print(f"    error ({kind}): {sample}", flush=True)
        if not report:
            return figures

        def total(name: str) -> float | None:
            values = [run.usage[name] for run in runs if name in run.usage]
            return sum(values) if len(values) == len(runs) else None

        wall = total("wall") or window
        cpu = [f"clients {100 * sum(r.cpu_seconds for r in results) / wall:.0f}%"]
        server = total("server")
        if server is not None:
            cpu.append(f"server {100 * server / wall:.0f}%")
        postgres = total("postgres")
        if postgres is not None:
            cpu.append(f"postgres backends {100 * postgres / wall:.0f}%")
        busy, ticks = total("machine_busy"), total("machine_total")
        if busy is not None and ticks:
            cpu.append(f"whole machine {100 * busy / ticks:.0f}% of {os.cpu_count()} CPUs")
        per_request = (
            f"  server CPU {1000 * server / completed:.2f} ms/req"
            if server is not None and completed
            else ""
        )
        reused = sum(r.reused_orders for r in results)
        sessions = sum(run.sessions for run in runs)
        print(
            f"  {self.label:<8} {kind:<6} {figures.rate:8.1f} req/s"
            f"  p50 {figures.p50_ms:7.2f} ms  p99 {figures.p99_ms:7.2f} ms"
            f"  n={completed} errors={errors}{per_request}"
            + (f" reused-orders={reused}" if reused else "")
            + f"\n{'':11}CPU (100% = one core): {', '.join(cpu)}"
            + (f"; ~{sessions} PostgreSQL sessions opened" if self.postgres_database else ""),
            flush=True,
        )
        return figures

    def run(self, database_url: str, workdir: Path) -> dict[str, float]:
        args = self.args
        with running_server(database_url, workdir) as (base_url, pid):
            print(f"  {self.label}: server pid {pid} at {base_url}", flush=True)
            # Warm-up: connections, statement caches, every code path; checked, not reported.
            warmup = args.warmup
            self.figures("noop", [self.phase(base_url, pid, "noop", duration=warmup)], report=False)
            count = args.warmup_orders
            self.figures("orders", [self.phase(base_url, pid, "orders", count=count)], report=False)
            warm = self.figures(
                "create", [self.phase(base_url, pid, "create", count=count)], report=False
            )
            replayed = self.phase(base_url, pid, "replay", duration=warmup)
            self.figures("replay", [replayed], report=False)

            # One fresh order per timed create, with room to spare.
            needed = math.ceil(warm.rate * args.duration * 2) + 500
            started = time.monotonic()
            made = self.figures(
                "orders", [self.phase(base_url, pid, "orders", count=needed)], report=False
            )
            print(
                f"  {self.label}: pre-created {made.completed} orders in"
                f" {time.monotonic() - started:.1f} s (warm-up create rate {warm.rate:.0f}/s);"
                f" timed phases interleaved in {args.rounds} round(s)",
                flush=True,
            )

            # The phases take turns, so load from elsewhere on the machine hits each alike.
            share = args.duration / args.rounds
            runs: dict[Kind, list[Measured]] = {"noop": [], "create": [], "replay": []}
            for _ in range(args.rounds):
                for kind in ("noop", "create", "replay"):
                    runs[kind].append(self.phase(base_url, pid, kind, duration=share))
            noop = self.figures("noop", runs["noop"])
            create = self.figures("create", runs["create"])
            replay = self.figures("replay", runs["replay"])
        return {
            "noop_per_s": round(noop.rate, 1),
            "create_per_s": round(create.rate, 1),
            "replay_per_s": round(replay.rate, 1),
            "create_p99_ms": round(create.p99_ms, 2),
            "replay_p99_ms": round(replay.p99_ms, 2),
        }


def _ratio(figures: dict[str, float] | None, name: str) -> float | None:
    if not figures or not figures["noop_per_s"]:
        return None
    return round(figures[name] / figures["noop_per_s"], 3)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per timed phase")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent requests in total (all clients)"
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--databases", default="postgres,sqlite", help="comma-separated: postgres, sqlite"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="split each phase's duration into this many interleaved rounds",
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per phase")
    parser.add_argument(
        "--warmup-orders", type=int, default=400, help="payments created during warm-up"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HAZINA_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="an administrative connection (database `postgres`) to create the bench database",
    )
    args = parser.parse_args()
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = set(args.databases) - {"postgres", "sqlite"}
    if unknown or not args.databases:
        parser.error(f"--databases takes postgres and/or sqlite, not {sorted(unknown)}")
    if args.rounds < 1 or args.duration <= 0:
        parser.error("--rounds must be at least 1 and --duration positive")
    if args.clients < 1 or args.concurrency < args.clients:
        parser.error("need at least one client and one connection per client")
    return args


def main() -> int:
    args = _parse_args()
    per_client = _split(args.concurrency, args.clients)
    print(
        f"bench api: {args.duration:g} s per phase, {args.concurrency} concurrent requests;"
        f" client: {args.clients} process(es) (multiprocessing, spawn) x {per_client} tasks,"
        " each process one httpx.AsyncClient on uvloop with that many keep-alive HTTP/1.1"
        " connections, on this same host;"
        f" server: `hazina serve --no-worker` (one uvicorn process); {os.cpu_count()} CPUs",
        flush=True,
    )
    results: dict[str, dict[str, float] | None] = {"postgres": None, "sqlite": None}
    failed = False
    clients = Clients[Phase, PhaseResult](args.clients)
    try:
        for label in args.databases:
            bench = DatabaseBench(label, clients, args.concurrency, args)
            try:
                with tempfile.TemporaryDirectory(prefix=f"hazina-bench-{label}-") as tmp:
                    workdir = Path(tmp)
                    if label == "postgres":
                        with postgres_database(args.postgres_url, workdir) as url:
                            bench.postgres_database = make_url(url).database
                            results[label] = bench.run(url, workdir)
                    else:
                        url = f"sqlite+aiosqlite:///{workdir / 'hazina.db'}"
                        results[label] = bench.run(url, workdir)
            except Exception:
                failed = True
                print(f"  {label}: FAILED", file=sys.stderr)
                traceback.print_exc()
                # A failed phase leaves the client processes out of step: start afresh.
                clients.close()
                clients = Clients[Phase, PhaseResult](args.clients)
                continue
            figures = results[label]
            if bench.errors:
                failed = True
            print(
                f"  {label}: create/noop {_ratio(figures, 'create_per_s')},"
                f" replay/noop {_ratio(figures, 'replay_per_s')},"
                f" correctness errors {bench.errors}",
                flush=True,
            )
    finally:
        clients.close()

    summary: dict[str, Any] = {
        "bench": "api",
        "postgres": results["postgres"],
        "sqlite": results["sqlite"],
        "ratio_create": _ratio(results["postgres"], "create_per_s"),
        "ratio_replay": _ratio(results["postgres"], "replay_per_s"),
        "sqlite_ratio_create": _ratio(results["sqlite"], "create_per_s"),
        "sqlite_ratio_replay": _ratio(results["sqlite"], "replay_per_s"),
    }
    print(json.dumps(summary), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
