"""API throughput and latency under `wrk`, each call beside the no-op endpoint of the same run.

For each database (PostgreSQL, SQLite) this starts a real `hazina serve --no-worker` (one
process) on a fresh database and drives it with `wrk` (compiled, so the client is not the
bottleneck; bench/api.lua builds the requests and checks the answers), every phase with the
same connections and duration:

- `noop`:   GET /livez, which touches nothing: the baseline every ratio divides by;
- `get`:    GET /api/v1/payments/{id}, authenticated;
- `public`: GET /api/v1/payments/{id}/public, the checkout's polling;
- `orders`: POST /api/v1/orders (the orders it creates feed `create`);
- `replay`: POST /api/v1/payments with one Idempotency-Key and body every time: the stored 201;
- `create`: POST /api/v1/payments with a fresh Idempotency-Key and a fresh order each.

A short warm-up runs every phase first, unreported. A phase fails on any non-2xx answer, socket
error or answer that breaks the contract (a replay that is not byte-identical and marked
`Idempotent-Replayed`, a create without a new payment id). Afterwards the database must hold
exactly one payment for the replayed key's order, and one payment per create answered, each on
the order it was sent for. Beside req/s, p50 and p99 each phase reports the server's CPU per
request (from /proc, counted whole on a busy machine) and the PostgreSQL backends'.

The last line of output is one JSON object; bench/run.py puts it in the table of `make bench`.

    .venv/bin/python bench/api.py [--duration 10] [--connections 32] [--threads 2]
                                  [--warmup 1] [--databases postgres,sqlite]
"""

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make `bench` (the repository root) importable for the shared helpers.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import json
import math
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import traceback
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.common import (
    AUTH,
    DEFAULT_POSTGRES_URL,
    CpuSample,
    libpq,
    postgres_database,
    running_server,
)

SCRIPT = Path(__file__).resolve().with_name("api.lua")
PHASES = ("noop", "get", "public", "orders", "replay", "create")
# Issue 11's targets on PostgreSQL, one API process: phase -> least share of the no-op rate.
RATIO_TARGETS = {"get": 0.45, "orders": 0.30, "replay": 0.45}
P99_OVER_P50_TARGET = 3.0
# Orders pre-created for `create`: this many times what the order rate says it needs.
ORDER_MARGIN = 1.5


@dataclass(slots=True)
class Figures:
    """One wrk run of one phase."""

    phase: str
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int  # non-2xx, socket errors, timeouts and contract breaks
    reused_orders: int
    server_cpu_ms: float | None  # server CPU per request
    postgres_cpu_ms: float | None  # PostgreSQL backends' CPU per request
    sample: str  # the first failing answer, if any


class PhaseFailed(Exception):
    """A phase answered something the contract does not allow."""


def wrk_executable() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk not found: apt-get install wrk (make bench installs it)")
    return found


def _per_request_ms(seconds: float | None, requests: int) -> float | None:
    if seconds is None or not requests:
        return None
    return round(1000 * seconds / requests, 3)


class Server:
    """One `hazina serve` under test and how to drive it with wrk."""

    def __init__(self, args: argparse.Namespace, base_url: str, pid: int) -> None:
        self.args = args
        self.base_url = base_url
        self.pid = pid
        self.postgres_database: str | None = None
        self.env: dict[str, str] = {
            "BENCH_API_KEY": AUTH["X-Api-Key"],
            "BENCH_API_SECRET": AUTH["X-Api-Secret"],
            "BENCH_THREADS": str(args.threads),
        }

    def wrk(self, phase: str, seconds: int, **env: str) -> Figures:
        """Run one phase for `seconds`; its figures (raises PhaseFailed on any bad answer)."""
        command = [wrk_executable(), f"-t{self.args.threads}", f"-c{self.args.connections}"]
        command += [f"-d{seconds}s", "--timeout", "10s", "-s", str(SCRIPT), self.base_url]
        run_env = os.environ | self.env | {"BENCH_PHASE": phase, "BENCH_NONCE": _nonce()} | env
        before = CpuSample.take(self.pid, self.postgres_database)
        finished = subprocess.run(
            command, env=run_env, capture_output=True, text=True, check=False, timeout=seconds + 60
        )
        usage = CpuSample.take(self.pid, self.postgres_database).usage_since(before)
        lines = [ln for ln in finished.stdout.splitlines() if ln.startswith("WRK_JSON ")]
        if finished.returncode != 0 or not lines:
            raise PhaseFailed(f"wrk {phase}: exit {finished.returncode}\n{finished.stderr}")
        summary: dict[str, Any] = json.loads(lines[-1].removeprefix("WRK_JSON "))
        figures = _figures(phase, summary, usage)
        if figures.failures:
            raise PhaseFailed(
                f"{phase}: {figures.failures} of {figures.requests} answers failed,"
                f" e.g. {figures.sample!r}"
            )
        return figures


def _nonce() -> str:
    return secrets.token_hex(6)


def _figures(phase: str, summary: dict[str, Any], usage: dict[str, float]) -> Figures:
    requests = int(summary["requests"])
    failures = sum(int(summary[k]) for k in ("socket_errors", "timeouts", "non2xx", "bad"))
    return Figures(
        phase=phase,
        rate=requests / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        requests=requests,
        failures=failures,
        reused_orders=int(summary["reused"]),
        server_cpu_ms=_per_request_ms(usage.get("server"), requests),
        postgres_cpu_ms=_per_request_ms(usage.get("postgres"), requests),
        sample=str(summary["sample"]),
    )


# ---------------------------------------------------------------------------------------------
# What the phases need, and what the database must say afterwards
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replayed:
    """The payment every `replay` request asks for again (and `get`/`public` read)."""

    key: str
    body: str
    response: str
    payment_id: str
    order_id: str


def create_replayed(base_url: str) -> Replayed:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as client:
        order = client.post(
            "/api/v1/orders", json={"amount": 50_000, "currency": "INR", "receipt": "bench"}
        )
        order.raise_for_status()
        order_id = str(order.json()["id"])
        key = "bench-replay-" + secrets.token_hex(8)
        body = json.dumps({"order_id": order_id, "method": "upi", "vpa": "bench@upi"})
        headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
        created = client.post("/api/v1/payments", content=body, headers=headers)
    if created.status_code != 201:
        raise PhaseFailed(f"payment create {created.status_code}: {created.text[:300]}")
    return Replayed(key, body, created.text, str(created.json()["id"]), order_id)


def _lines(directory: Path) -> list[str]:
    return [ln for f in sorted(directory.glob("*.txt")) for ln in f.read_text().splitlines()]


async def _postgres_payments(url: str) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(libpq(url), timeout=10)
    try:
        rows = await connection.fetch("SELECT id, order_id FROM payments")
    finally:
        await connection.close()
    return [(str(r["id"]), str(r["order_id"])) for r in rows]


def stored_payments(database_url: str) -> list[tuple[str, str]]:
    """(payment id, order id) of every payment in the database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return asyncio.run(_postgres_payments(database_url))
    with sqlite3.connect(str(url.database)) as connection:
        return [
            (str(a), str(b)) for a, b in connection.execute("SELECT id, order_id FROM payments")
        ]


def verify(database_url: str, replayed: Replayed, created: list[str], stock: set[str]) -> None:
    """The replayed key made one payment; every create answered is stored, on its own order."""
    stored = dict(stored_payments(database_url))
    on_replayed = [p for p, order in stored.items() if order == replayed.order_id]
    if on_replayed != [replayed.payment_id]:
        raise PhaseFailed(f"the replayed order has payments {on_replayed}")
    pairs = [tuple(line.split()) for line in created]
    payments = {p for p, _ in pairs}
    if len(payments) != len(pairs):
        raise PhaseFailed(f"{len(pairs) - len(payments)} creates answered a payment id twice")
    wrong = [(p, o) for p, o in pairs if stored.get(p) != o or o not in stock]
    if wrong:
        raise PhaseFailed(f"{len(wrong)} created payments not stored as answered, e.g. {wrong[0]}")
    print(
        f"    verified: 1 payment for the replayed key; {len(pairs)} creates stored, each on"
        f" the pre-created order it was sent for",
        flush=True,
    )


# ---------------------------------------------------------------------------------------------
# One database
# ---------------------------------------------------------------------------------------------


class DatabaseBench:
    def __init__(self, server: Server, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir
        self.runs = 0

    def _out(self) -> Path:
        """A fresh directory for one run's per-thread output files."""
        self.runs += 1
        directory = self.workdir / f"run-{self.runs}"
        directory.mkdir()
        return directory

    def orders(self, seconds: int) -> tuple[Figures, list[str]]:
        out = self._out()
        figures = self.server.wrk("orders", seconds, BENCH_OUT=str(out))
        return figures, _lines(out)

    def create(self, seconds: int, orders: list[str]) -> tuple[Figures, list[str]]:
        stock = self.workdir / f"orders-{self.runs}.txt"
        stock.write_text("".join(f"{order}\n" for order in orders))
        out = self._out()
        figures = self.server.wrk("create", seconds, BENCH_OUT=str(out), BENCH_ORDERS=str(stock))
        return figures, _lines(out)

    def top_up(self, stock: list[str], orders_rate: float, seconds: int) -> list[str]:
        """Enough fresh orders for `seconds` of creates: creates are guessed no faster than
        ORDER_MARGIN times order creates, so more are made (untimed) when the stock is short."""
        needed = math.ceil(orders_rate * seconds * ORDER_MARGIN) + 100
        if len(stock) < needed and orders_rate > 0:
            extra = math.ceil((needed - len(stock)) / orders_rate) + 1
            stock = stock + self.orders(extra)[1]
        return stock

    def warm_up(self, replayed: Replayed, seconds: int) -> None:
        """Every phase once, checked but not reported: connections, caches, every code path."""
        fixed = self._fixed_env(replayed)
        for phase in ("noop", "get", "public", "replay"):
            self.server.wrk(phase, seconds, **fixed)
        _, orders = self.orders(seconds)
        self.create(seconds, orders)

    @staticmethod
    def _fixed_env(replayed: Replayed) -> dict[str, str]:
        return {
            "BENCH_PAYMENT_ID": replayed.payment_id,
            "BENCH_REPLAY_KEY": replayed.key,
            "BENCH_REPLAY_BODY": replayed.body,
            "BENCH_REPLAY_RESPONSE": replayed.response,
        }

    def run(self, database_url: str, duration: int, warmup: int) -> dict[str, Figures]:
        replayed = create_replayed(self.server.base_url)
        if warmup:
            self.warm_up(replayed, warmup)
        fixed = self._fixed_env(replayed)
        measured: dict[str, Figures] = {}
        for phase in ("noop", "get", "public", "replay"):
            measured[phase] = self.server.wrk(phase, duration, **fixed)
        measured["orders"], stock = self.orders(duration)
        stock = self.top_up(stock, measured["orders"].rate, duration)
        measured["create"], created = self.create(duration, stock)
        verify(database_url, replayed, created, set(stock))
        return {phase: measured[phase] for phase in PHASES}


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------


def summarise(label: str, measured: dict[str, Figures]) -> dict[str, Any]:
    """Figures with their ratio to the no-op and, where the issue sets one, the target met."""
    noop = measured["noop"].rate
    phases: dict[str, Any] = {}
    for phase, figures in measured.items():
        entry = asdict(figures)
        del entry["phase"], entry["sample"], entry["failures"]
        for name in ("rate", "p50_ms", "p99_ms"):
            entry[name] = round(entry[name], 2)
        entry["ratio"] = round(figures.rate / noop, 3) if noop else None
        spread = figures.p99_ms / figures.p50_ms if figures.p50_ms else math.inf
        entry["p99_over_p50"] = round(spread, 2)
        if phase in RATIO_TARGETS:
            entry["target_ratio"] = RATIO_TARGETS[phase]
            entry["met"] = (
                entry["ratio"] is not None
                and entry["ratio"] >= RATIO_TARGETS[phase]
                and spread <= P99_OVER_P50_TARGET
            )
        phases[phase] = entry
        print(
            f"  {label:<8} {phase:<7} {figures.rate:8.1f} req/s  p50 {figures.p50_ms:7.2f} ms"
            f"  p99 {figures.p99_ms:7.2f} ms  ratio {entry['ratio']}"
            f"  server CPU {figures.server_cpu_ms} ms/req, postgres {figures.postgres_cpu_ms}"
            + (f"  reused orders {figures.reused_orders}" if figures.reused_orders else ""),
            flush=True,
        )
    return phases


def bench_database(label: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"hazina-bench-{label}-") as tmp:
        workdir = Path(tmp)
        if label == "postgres":
            with postgres_database(args.postgres_url, workdir) as url:
                return _bench_on(label, url, workdir, args, make_url(url).database)
        url = f"sqlite+aiosqlite:///{workdir / 'hazina.db'}"
        return _bench_on(label, url, workdir, args, None)


def _bench_on(
    label: str, url: str, workdir: Path, args: argparse.Namespace, database: str | None
) -> dict[str, Any]:
    with running_server(url, workdir) as (base_url, pid):
        print(f"  {label}: server pid {pid} at {base_url}", flush=True)
        server = Server(args, base_url, pid)
        server.postgres_database = database
        measured = DatabaseBench(server, workdir).run(url, args.duration, args.warmup)
    return summarise(label, measured)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per timed phase")
    parser.add_argument("--connections", type=int, default=32, help="wrk keep-alive connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per phase")
    parser.add_argument(
        "--databases", default="postgres,sqlite", help="comma-separated: postgres, sqlite"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="an administrative connection (database `postgres`) to create the bench database",
    )
    args = parser.parse_args()
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = set(args.databases) - {"postgres", "sqlite"}
    if unknown or not args.databases:
        parser.error(f"--databases takes postgres and/or sqlite, not {sorted(unknown)}")
    if args.duration < 1 or args.warmup < 0 or not 1 <= args.threads <= args.connections:
        parser.error("need --duration >= 1, --warmup >= 0, at least one connection per thread")
    return args


def main() -> int:
    args = _parse_args()
    version = subprocess.run(
        [wrk_executable(), "--version"], capture_output=True, text=True, check=False
    )
    print(
        f"bench api: {version.stdout.splitlines()[0] if version.stdout else 'wrk'};"
        f" {args.threads} threads, {args.connections} connections, {args.duration} s per phase;"
        f" server: `hazina serve --no-worker` (one process); {os.cpu_count()} CPUs",
        flush=True,
    )
    summary: dict[str, Any] = {"bench": "api", "duration_s": args.duration}
    summary["connections"] = args.connections
    failed = False
    for label in args.databases:
        try:
            summary[label] = bench_database(label, args)
        except Exception:
            failed = True
            summary[label] = None
            print(f"  {label}: FAILED", file=sys.stderr)
            traceback.print_exc()
    summary["verified"] = not failed
    print(json.dumps(summary), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
