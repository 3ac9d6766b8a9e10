"""What every benchmark shares: the server under test, fresh databases, CPU accounting.

The benchmarks start real `hazina` processes on databases made for the run and dropped after
it, and compare each figure with a baseline measured in the same run on the same server.
"""

import asyncio
import contextlib
import math
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Generic, TypeVar

import asyncpg
import httpx
from sqlalchemy.engine import make_url

# The contract's test merchant, seeded by `hazina serve` outside production.
AUTH = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
NOOP_BODY = b'{"status":"alive"}'
DEFAULT_POSTGRES_URL = os.environ.get(
    "HAZINA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def split(total: int, parts: int) -> list[int]:
    """`total` shared out as evenly as whole numbers allow."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def percentile(sorted_values: list[float], percent: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when there are none)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# ---------------------------------------------------------------------------------------------
# CPU accounting (Linux /proc; absent elsewhere). CPU seconds per request stay meaningful on a
# busy machine, where requests per second do not.
# ---------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        # The command name (field 2) may hold spaces and parentheses: split after its last ")".
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds of `pid` and its descendants, so a multi-process server is counted whole."""
    own = _stat_fields(pid)
    if own is None:
        return None
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {pid: _cpu_seconds(own)}
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            fields = _stat_fields(entry.name) if entry.name.isdigit() else None
            if fields is not None:
                parents[int(entry.name)] = int(fields[1])  # field 4, ppid
                cpu[int(entry.name)] = _cpu_seconds(fields)
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(cpu[member] for member in tree if member in cpu)


def postgres_backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database`, by pid."""
    backends: dict[int, float] = {}
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if not title.startswith(b"postgres:") or f" {database} ".encode() not in title:
                continue
            fields = _stat_fields(entry.name)
            if fields is not None:
                backends[int(entry.name)] = _cpu_seconds(fields)
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
            server=process_tree_cpu(server_pid),
            postgres=postgres_backends_cpu(database) if database else {},
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


def hazina_executable() -> str:
    beside = Path(sys.executable).parent / "hazina"
    if beside.exists():
        return str(beside)
    found = shutil.which("hazina")
    if found is None:
        raise SystemExit("the `hazina` command was not found; install the project first")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HAZINA_DATABASE_URL": database_url, "HAZINA_ENV": "development"})
    return env


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_healthy(server: "subprocess.Popen[bytes]", base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}:\n{tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not healthy within 60 s:\n{tail(log_path)}")
        time.sleep(0.1)


def _stop(process: "subprocess.Popen[bytes]", grace: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_server(database_url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """`hazina serve --no-worker` on a free port; yields (base URL, pid) once /health answers."""
    port = free_port()
    log_path = workdir / f"server-{port}.log"
    command = [hazina_executable(), "--log-level", "WARNING", "serve", "--no-worker"]
    command += ["--port", str(port)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, env=server_env(database_url), cwd=workdir, stdout=log, stderr=log
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(server, base_url, log_path)
        yield base_url, server.pid
        if server.poll() is not None:
            raise RuntimeError(f"server died during the run:\n{tail(log_path)}")
        errors = [line for line in tail(log_path, 200).splitlines() if "ERROR" in line]
        if errors:
            print(f"  server logged errors, e.g. {errors[0]}")
    finally:
        _stop(server, grace=15)


# ---------------------------------------------------------------------------------------------
# Fresh databases
# ---------------------------------------------------------------------------------------------


def libpq(url: str) -> str:
    """The URL as asyncpg and libpq take it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(libpq(admin_url), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def postgres_database(admin_url: str, workdir: Path) -> Iterator[str]:
    """A fresh `hazina_bench_<random>` database, migrated; dropped afterwards."""
    name = f"hazina_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(libpq(admin_url)).set(database=name).render_as_string(hide_password=False)
        migrated = subprocess.run(
            [hazina_executable(), "--log-level", "WARNING", "migrate"],
            env=server_env(url),
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"hazina migrate failed:\n{migrated.stdout}{migrated.stderr}")
        yield url
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---------------------------------------------------------------------------------------------
# Python client processes (bench/ingest.py's load, which signs every webhook as it sends it)
# ---------------------------------------------------------------------------------------------

PhaseT = TypeVar("PhaseT")
ResultT = TypeVar("ResultT")


class Clients(Generic[PhaseT, ResultT]):
    """N client processes, each running `main`: it receives a phase, answers "ready", waits for
    the common start time, runs, and sends its result; None ends it."""

    def __init__(self, count: int, main: Callable[[Connection], None]) -> None:
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
