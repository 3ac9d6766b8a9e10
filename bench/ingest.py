"""Inbound throughput: signed Stripe `checkout.session.completed` webhooks and Paynow status
updates (IPNs) applied per second.

On a fresh PostgreSQL database this starts `hazina fake stripe` and a real `hazina serve
--no-worker` configured as a single-tenant deployment (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET,
HAZINA_STRIPE_API_BASE pointing at the fake), sets the test merchant's primary webhook endpoint
(no worker runs, so nothing is sent, but every event writes its delivery row), and pre-creates
USD 25.00 orders with Stripe payments through the API; each answers its `cs_test_…` session id.
Likewise `hazina fake paynow` is the default Paynow integration (PAYNOW_*), and USD 25.00 orders
get Paynow web payments, each answering its poll URL.

Two phases then take turns in `--rounds` rounds, each from separate client processes over
keep-alive connections, at the same concurrency on the same server process:

- `noop`:   GET /livez, which touches nothing: the baseline;
- `ingest`: POST /hooks/stripe, one `checkout.session.completed` event per pre-created payment,
            built as Stripe would send it (pretty-printed JSON, unique `evt_…` id) and signed
            with the `stripe` package's own `WebhookSignature.generate_signature_header` just
            before it is sent. Each is a full apply: verify, store the inbound event, receipt,
            payment and order transition, `payment.success` event and its delivery row.
- `paynow`: POST /hooks/paynow, one `status=Paid` update per pre-created Paynow payment, a
            form body in Paynow's field order hashed (SHA-512) by the `paynow` package's own
            hash; the same full apply.
- `splits`: the same Stripe webhooks for orders that share each payment with a creator account
            and take a 10 % platform fee (#14 ledger), so the charge credits three accounts;
            reported beside `ingest` (the same plain orders' charge credits one)

Every response is checked (ingest, paynow: 200 with status "processed"). Afterwards the database
must show every sent webhook's payment `success`, its order `paid`, exactly one `payment.success`
event and one delivery row for it, and one processed inbound event per webhook. The last line of
output is one JSON object: {"bench": "ingest", "per_s", "baseline_per_s", "ratio", "p99_ms",
"paynow_per_s", "paynow_ratio", "paynow_p99_ms", …}.

    .venv/bin/python bench/ingest.py [--duration 10] [--concurrency 32] [--clients 2]
                                     [--rounds 2] [--warmup-payments 300]
"""

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make `bench` (the repository root) importable for the shared helpers.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import subprocess
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal
from urllib.parse import urlencode

import asyncpg
import httpx
import stripe
from paynow import Paynow  # type: ignore[import-untyped]  # ships no type hints
from sqlalchemy.engine import make_url

from bench.common import (
    AUTH,
    DEFAULT_POSTGRES_URL,
    NOOP_BODY,
    Clients,
    CpuSample,
    free_port,
    hazina_executable,
    libpq,
    percentile,
    postgres_database,
    running_server,
    split,
    tail,
)
from hazina.testing.stripe_state import API_VERSION, new_id

ORDER_AMOUNT = 2500  # USD 25.00, minor units
STRIPE_KEY = "sk_test_hazinabench"
PAYNOW_ID = "7878"
# Lowercase: the `paynow` package lowercases the key before hashing.
PAYNOW_KEY = "bench-2f3c1a9e-0d4b-4c55-9a7e-61b0c2d3e4f5"
PAYNOW_EMAIL = "bench@example.co.zw"
# Where the merchant's deliveries would go: never contacted, as no worker runs.
RECEIVER_URL = "http://127.0.0.1:9/hazina-bench-receiver"

Kind = Literal["noop", "prepare", "ingest", "paynow_prepare", "paynow", "splits_prepare", "splits"]
INGESTS: tuple[Kind, ...] = ("ingest", "paynow", "splits")
PREPARES: dict[Kind, Kind] = {
    "ingest": "prepare",
    "paynow": "paynow_prepare",
    "splits": "splits_prepare",
}
# `splits`: the Stripe ingest again, on orders that share each payment with a creator account
# and take a 10 % platform fee (#14 ledger): the charge then credits three accounts, not one.
SPLIT_AMOUNT = 2000
PLATFORM_FEE_BPS = 1000


# ---------------------------------------------------------------------------------------------
# Client processes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase for one client: `duration` seconds, or `count` requests when None. An ingest
    phase (`ingest`, `paynow`) also ends when the client's pre-created payments run out."""

    kind: Kind
    base_url: str
    concurrency: int
    webhook_secret: str
    duration: float | None = None
    count: int = 0
    # The creator account that the `splits` orders share their payments with.
    creator: str = ""


@dataclass(slots=True)
class PhaseResult:
    completed: int = 0  # checked requests that finished inside the window
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, of the completed ones
    elapsed: float = 0.0
    cpu_seconds: float = 0.0
    sent: list[str] = field(default_factory=list)  # payment ids whose webhook went out
    ran_out: bool = False


@dataclass(frozen=True, slots=True)
class Pending:
    payment_id: str
    session_id: str  # Stripe's Checkout Session, or Paynow's poll URL


def paynow_update(pending: Pending) -> bytes:
    """Paynow's status update for a paid web payment: its fields in Paynow's order, hashed by
    the `paynow` package (the key lowercase, the values free of anything it would quote)."""
    fields = {
        "reference": pending.payment_id,
        "paynowreference": pending.payment_id[4:],
        "amount": f"{ORDER_AMOUNT / 100:.2f}",
        "status": "Paid",
        "pollurl": pending.session_id,
    }
    client = Paynow(PAYNOW_ID, PAYNOW_KEY, "", "")
    fields["hash"] = client._Paynow__hash(fields, PAYNOW_KEY)
    return urlencode(fields).encode()


class _Failed(Exception):
    """A response that is not what the contract promises."""


def stripe_event(pending: Pending, now: int) -> str:
    """The `checkout.session.completed` event Stripe would send for a paid session, as Stripe
    sends it: pretty-printed, so a receiver that re-serialises the JSON breaks the signature."""
    session = {
        "id": pending.session_id,
        "object": "checkout.session",
        "amount_subtotal": ORDER_AMOUNT,
        "amount_total": ORDER_AMOUNT,
        "cancel_url": None,
        "client_reference_id": pending.payment_id,
        "created": now - 60,
        "currency": "usd",
        "customer": None,
        "customer_details": {"email": "buyer@example.com"},
        "customer_email": "buyer@example.com",
        "expires_at": now + 86_340,
        "livemode": False,
        "locale": None,
        "metadata": {"hazina_payment_id": pending.payment_id},
        "mode": "payment",
        "payment_intent": new_id("pi_"),
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "status": "complete",
        "success_url": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
    }
    event = {
        "id": new_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": now,
        "data": {"object": session},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    return json.dumps(event, indent=2)


class _Runner:
    def __init__(
        self, phase: Phase, pending: dict[Kind, deque[Pending]], client: httpx.AsyncClient
    ) -> None:
        self.phase = phase
        # The payments this kind of phase takes (ingest, paynow) or makes (their prepares).
        ingest = next((k for k, made in PREPARES.items() if made == phase.kind), phase.kind)
        self.pending = pending.setdefault(ingest, deque())
        self.client = client
        self.result = PhaseResult()
        self.deadline = math.inf
        self.remaining = phase.count

    def _take(self) -> bool:
        """Whether another request should start."""
        if self.phase.kind in INGESTS and not self.pending:
            self.result.ran_out = True
            return False
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

    async def _prepare(self) -> None:
        body: dict[str, Any] = {
            "amount": ORDER_AMOUNT,
            "currency": "USD",
            "receipt": "bench-ingest",
        }
        if self.phase.kind == "splits_prepare":
            body["splits"] = [{"account_id": self.phase.creator, "amount": SPLIT_AMOUNT}]
            body["platform_fee_bps"] = PLATFORM_FEE_BPS
        response = await self.client.post("/api/v1/orders", json=body)
        if response.status_code != 201:
            raise _Failed(f"order {response.status_code} {response.content[:200]!r}")
        order_id = response.json()["id"]
        body = {"order_id": order_id, "method": "stripe", "email": "buyer@example.com"}
        response = await self.client.post("/api/v1/payments", json=body)
        if response.status_code != 201:
            raise _Failed(f"payment {response.status_code} {response.content[:200]!r}")
        payment = response.json()
        session_id = str(payment.get("provider_reference"))
        if payment.get("status") != "pending" or not session_id.startswith("cs_test_"):
            raise _Failed(f"payment answered {payment!r}")
        self.pending.append(Pending(str(payment["id"]), session_id))

    async def _prepare_paynow(self) -> None:
        body = {"amount": ORDER_AMOUNT, "currency": "USD", "receipt": "bench-paynow"}
        response = await self.client.post("/api/v1/orders", json=body)
        if response.status_code != 201:
            raise _Failed(f"order {response.status_code} {response.content[:200]!r}")
        body = {"order_id": response.json()["id"], "method": "paynow"}
        response = await self.client.post("/api/v1/payments", json=body)
        if response.status_code != 201:
            raise _Failed(f"payment {response.status_code} {response.content[:200]!r}")
        payment = response.json()
        poll_url = str(payment.get("provider_reference"))
        if payment.get("status") != "pending" or "/Interface/CheckPayment/" not in poll_url:
            raise _Failed(f"payment answered {payment!r}")
        self.pending.append(Pending(str(payment["id"]), poll_url))

    async def _paynow(self) -> float:
        pending = self.pending.popleft()
        self.result.sent.append(pending.payment_id)
        body = paynow_update(pending)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        started = time.perf_counter()
        response = await self.client.post("/hooks/paynow", content=body, headers=headers)
        took = time.perf_counter() - started
        if response.status_code != 200 or response.json().get("status") != "processed":
            raise _Failed(
                f"IPN for {pending.payment_id}: {response.status_code} {response.content[:200]!r}"
            )
        return took

    async def _ingest(self) -> float:
        pending = self.pending.popleft()
        self.result.sent.append(pending.payment_id)
        now = int(time.time())
        body = stripe_event(pending, now)
        # Signed by the SDK's own scheme right before sending (the server allows 300 s).
        signature = stripe.WebhookSignature.generate_signature_header(
            body, self.phase.webhook_secret, timestamp=now
        )
        headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
        started = time.perf_counter()
        response = await self.client.post("/hooks/stripe", content=body.encode(), headers=headers)
        took = time.perf_counter() - started
        if response.status_code != 200 or response.json().get("status") != "processed":
            raise _Failed(
                f"hook for {pending.payment_id}: {response.status_code} {response.content[:200]!r}"
            )
        return took

    async def _untimed(self) -> None:
        if self.phase.kind == "noop":
            await self._noop()
        elif self.phase.kind in ("prepare", "splits_prepare"):
            await self._prepare()
        else:
            await self._prepare_paynow()

    async def _loop(self) -> None:
        result = self.result
        while self._take():
            started = time.perf_counter()
            try:
                if self.phase.kind in INGESTS:
                    # Only the HTTP exchange is timed, not building and signing the event.
                    stripe_hook = self.phase.kind in ("ingest", "splits")
                    took = await (self._ingest() if stripe_hook else self._paynow())
                else:
                    await self._untimed()
                    took = time.perf_counter() - started
            except (_Failed, httpx.HTTPError, ValueError, KeyError) as exc:
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}")
                continue
            if time.monotonic() <= self.deadline:
                result.completed += 1
                result.latencies.append(took)

    async def run(self, start: Connection) -> PhaseResult:
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


async def _run_phase(
    phase: Phase, pending: dict[Kind, deque[Pending]], start: Connection
) -> PhaseResult:
    limits = httpx.Limits(
        max_connections=phase.concurrency, max_keepalive_connections=phase.concurrency
    )
    async with httpx.AsyncClient(
        base_url=phase.base_url, headers=AUTH, limits=limits, timeout=60.0
    ) as client:
        return await _Runner(phase, pending, client).run(start)


def _client_main(connection: Connection) -> None:
    """A client process: runs the phases it is sent until it receives None. The payments it
    prepares stay here, for its own ingest phases."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        loop_factory = None
    pending: dict[Kind, deque[Pending]] = {}
    while True:
        phase: Phase | None = connection.recv()
        if phase is None:
            return
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result = runner.run(_run_phase(phase, pending, connection))
        connection.send(result)


# ---------------------------------------------------------------------------------------------
# Measuring and reporting
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Measured:
    """One run of one phase on every client."""

    results: list[PhaseResult]
    window: float
    usage: dict[str, float]


@dataclass(slots=True)
class Figures:
    rate: float
    p50_ms: float
    p99_ms: float
    completed: int
    errors: int
    server_ms: float | None  # server CPU per request
    postgres_ms: float | None  # PostgreSQL backends' CPU per request


class Bench:
    def __init__(
        self,
        clients: Clients[Phase, PhaseResult],
        args: argparse.Namespace,
        base_url: str,
        server_pid: int,
    ) -> None:
        self.clients = clients
        self.args = args
        self.base_url = base_url
        self.server_pid = server_pid
        self.database: str | None = None
        self.secret = ""
        self.creator = ""
        self.per_client = split(args.concurrency, len(clients.pipes))
        self.errors = 0
        self.sent: list[str] = []

    def phase(self, kind: Kind, *, duration: float | None = None, count: int = 0) -> Measured:
        counts = split(count, len(self.per_client))
        phases = [
            Phase(kind, self.base_url, conc, self.secret, duration, share, self.creator)
            for conc, share in zip(self.per_client, counts, strict=True)
        ]
        before = CpuSample.take(self.server_pid, self.database)
        results = self.clients.run(phases)
        usage = CpuSample.take(self.server_pid, self.database).usage_since(before)
        longest = max(r.elapsed for r in results)
        # A client that ran out of payments ended its window early: count the time it ran.
        window = min(duration, longest) if duration is not None else longest
        for result in results:
            self.sent.extend(result.sent)
        return Measured(results, window, usage)

    def figures(self, kind: Kind, runs: list[Measured], *, report: bool = True) -> Figures:
        """Sum the runs of one phase; print one line unless it was a warm-up."""
        results = [r for run in runs for r in run.results]
        window = sum(run.window for run in runs)
        completed = sum(r.completed for r in results)
        errors = sum(r.errors for r in results)
        self.errors += errors
        latencies = sorted(v for r in results for v in r.latencies)

        def total(name: str) -> float | None:
            values = [run.usage[name] for run in runs if name in run.usage]
            return sum(values) if len(values) == len(runs) else None

        server, postgres = total("server"), total("postgres")
        figures = Figures(
            rate=completed / window if window > 0 else 0.0,
            p50_ms=1000 * percentile(latencies, 50),
            p99_ms=1000 * percentile(latencies, 99),
            completed=completed,
            errors=errors,
            server_ms=1000 * server / completed if server is not None and completed else None,
            postgres_ms=1000 * postgres / completed if postgres is not None and completed else None,
        )
        for sample in [s for r in results for s in r.error_samples][:3]:
            print(f"    error ({kind}): {sample}", flush=True)
        if any(r.ran_out for r in results) and kind in INGESTS and report:
            print("    note: a client ran out of pre-created payments; window shortened")
        if not report:
            return figures
        wall = total("wall") or window
        cpu = [f"clients {100 * sum(r.cpu_seconds for r in results) / wall:.0f}%"]
        if server is not None:
            cpu.append(f"server {100 * server / wall:.0f}%")
        if postgres is not None:
            cpu.append(f"postgres backends {100 * postgres / wall:.0f}%")
        busy, ticks = total("machine_busy"), total("machine_total")
        if busy is not None and ticks:
            cpu.append(f"whole machine {100 * busy / ticks:.0f}% of {os.cpu_count()} CPUs")
        per_request = ""
        if figures.server_ms is not None:
            per_request += f"  server CPU {figures.server_ms:.2f} ms/req"
        if figures.postgres_ms is not None:
            per_request += f", postgres {figures.postgres_ms:.2f} ms/req"
        print(
            f"  {kind:<6} {figures.rate:8.1f} req/s"
            f"  p50 {figures.p50_ms:7.2f} ms  p99 {figures.p99_ms:7.2f} ms"
            f"  n={completed} errors={errors} window={window:.1f}s{per_request}"
            f"\n{'':9}CPU (100% = one core): {', '.join(cpu)}",
            flush=True,
        )
        return figures


# ---------------------------------------------------------------------------------------------
# Setup and verification
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_provider(workdir: Path, provider: str, *options: str) -> Iterator[str]:
    """`hazina fake PROVIDER` on a free port; yields its base URL once it answers."""
    port = free_port()
    log_path = workdir / f"fake-{provider}-{port}.log"
    command = [hazina_executable(), "fake", provider, "--port", str(port), *options]
    with log_path.open("wb") as log:
        fake = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if fake.poll() is not None:
                raise RuntimeError(
                    f"fake {provider} exited with {fake.returncode}:\n{tail(log_path)}"
                )
            with contextlib.suppress(httpx.TransportError):
                httpx.get(url, timeout=1)  # any answer: it listens
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake {provider} not listening within 30 s:\n{tail(log_path)}")
            time.sleep(0.1)
        yield url
    finally:
        if fake.poll() is None:
            fake.send_signal(signal.SIGTERM)
            try:
                fake.wait(timeout=10)
            except subprocess.TimeoutExpired:
                fake.kill()
                fake.wait()


def create_creator(base_url: str) -> str:
    """The creator account every `splits` order shares its payments with."""
    response = httpx.post(
        f"{base_url}/api/v1/accounts",
        json={"kind": "creator", "currency": "USD", "name": "bench creator"},
        headers=AUTH,
        timeout=30,
    )
    if response.status_code != 201:
        raise RuntimeError(f"creator account {response.status_code}: {response.text[:300]}")
    account_id: str = response.json()["id"]
    return account_id


def configure_receiver(base_url: str) -> None:
    """The merchant's primary endpoint: every applied event then writes its delivery row."""
    response = httpx.put(
        f"{base_url}/api/v1/webhooks/config",
        json={"webhook_url": RECEIVER_URL},
        headers=AUTH,
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"webhook config {response.status_code}: {response.text[:300]}")


async def _verify(database_url: str, sent: list[str]) -> list[str]:
    """What the database says about every payment a webhook was sent for; problems found."""
    connection = await asyncpg.connect(libpq(database_url), timeout=10)
    try:
        statuses = await connection.fetch(
            "SELECT p.status AS payment, o.status AS order_, count(*) AS n FROM payments p"
            " JOIN orders o ON o.id = p.order_id WHERE p.id = ANY($1::text[])"
            " GROUP BY p.status, o.status",
            sent,
        )
        events = await connection.fetch(
            "SELECT e.resource_id, count(DISTINCT e.id) AS events, count(w.id) AS deliveries"
            " FROM events e LEFT JOIN webhook_logs w ON w.event_id = e.id"
            " WHERE e.type = 'payment.success' AND e.resource_id = ANY($1::text[])"
            " GROUP BY e.resource_id",
            sent,
        )
        # Every payment a webhook was sent for is in the ledger once (#14).
        charges = await connection.fetchval(
            "SELECT count(*) FROM ledger_transfers WHERE kind = 'charge'"
            " AND payment_id = ANY($1::text[])",
            sent,
        )
        unbalanced = await connection.fetchval(
            "SELECT count(*) FROM (SELECT transfer_id FROM ledger_entries"
            " GROUP BY transfer_id HAVING sum(amount) <> 0) AS t"
        )
        inbound = await connection.fetch(
            "SELECT status, count(*) AS n FROM inbound_events"
            " WHERE payment_id = ANY($1::text[]) GROUP BY status",
            sent,
        )
    finally:
        await connection.close()
    problems: list[str] = []
    by_status = {(r["payment"], r["order_"]): int(r["n"]) for r in statuses}
    if by_status != {("success", "paid"): len(sent)}:
        problems.append(f"payment/order statuses {by_status}, expected all success/paid")
    once = sum(1 for r in events if r["events"] == 1 and r["deliveries"] == 1)
    if len(events) != len(sent) or once != len(sent):
        problems.append(
            f"{len(events)} payments have payment.success events, {once} exactly one with"
            f" one delivery row; {len(sent)} webhooks sent"
        )
    if charges != len(sent) or unbalanced:
        problems.append(
            f"{charges} ledger charges for {len(sent)} payments, {unbalanced} unbalanced transfers"
        )
    by_inbound = {str(r["status"]): int(r["n"]) for r in inbound}
    if by_inbound != {"processed": len(sent)}:
        problems.append(f"inbound events {by_inbound}, expected {len(sent)} processed")
    print(
        f"  verified in PostgreSQL: {len(sent)} webhooks sent; payments/orders {by_status};"
        f" payments with exactly one payment.success event and one delivery row: {once};"
        f" inbound events {by_inbound}",
        flush=True,
    )
    return problems


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


def run(
    args: argparse.Namespace, clients: Clients[Phase, PhaseResult], workdir: Path
) -> dict[str, Any]:
    secret = "whsec_" + secrets.token_hex(16)
    integration = f"{PAYNOW_ID}:{PAYNOW_KEY}:{PAYNOW_EMAIL}"
    with (
        fake_provider(workdir, "stripe") as fake_url,
        fake_provider(workdir, "paynow", "--integration", integration) as paynow_url,
        postgres_database(args.postgres_url, workdir) as url,
    ):
        # The server's environment is a copy of ours (bench.common.server_env): a single-tenant
        # deployment whose default Stripe account is the fake.
        os.environ.update(
            {
                "STRIPE_SECRET_KEY": STRIPE_KEY,
                "STRIPE_WEBHOOK_SECRET": secret,
                "HAZINA_STRIPE_API_BASE": fake_url,
                "PAYNOW_INTEGRATION_ID": PAYNOW_ID,
                "PAYNOW_INTEGRATION_KEY": PAYNOW_KEY,
                "HAZINA_PAYNOW_API_BASE": paynow_url,
            }
        )
        with running_server(url, workdir) as (base_url, pid):
            print(
                f"  server pid {pid} at {base_url}; fake Stripe at {fake_url},"
                f" fake Paynow at {paynow_url}",
                flush=True,
            )
            configure_receiver(base_url)
            bench = Bench(clients, args, base_url, pid)
            bench.creator = create_creator(base_url)
            bench.database = make_url(url).database
            bench.secret = secret

            # Warm-up: connections, statement caches, every code path; checked, not reported.
            bench.figures("noop", [bench.phase("noop", duration=args.warmup)], report=False)
            count = args.warmup_payments
            best: dict[Kind, float] = {}
            for kind in INGESTS:
                started = time.monotonic()
                made = bench.phase(PREPARES[kind], count=count)
                bench.figures(PREPARES[kind], [made], report=False)
                print(
                    f"  warm-up: pre-created {count} payments for {kind} in"
                    f" {time.monotonic() - started:.1f} s",
                    flush=True,
                )
                warm = bench.figures(kind, [bench.phase(kind, count=count)], report=False)
                best[kind] = warm.rate

            # The phases take turns, so load from elsewhere on the machine hits each alike.
            share = args.duration / args.rounds
            runs: dict[Kind, list[Measured]] = {
                "noop": [],
                "ingest": [],
                "paynow": [],
                "splits": [],
            }
            stock: dict[Kind, int] = dict.fromkeys(INGESTS, 0)
            warmup_sent = len(bench.sent)
            for number in range(1, args.rounds + 1):
                runs["noop"].append(bench.phase("noop", duration=share))
                for kind in INGESTS:
                    # One payment per webhook of the round, with room to spare: the rate so far
                    # is only a guess on a shared machine, so the stock is topped up each round.
                    want = math.ceil(best[kind] * share * args.margin) + 100 * args.clients
                    if stock[kind] < want:
                        started = time.monotonic()
                        made = bench.phase(PREPARES[kind], count=want - stock[kind])
                        added = bench.figures(PREPARES[kind], [made], report=False).completed
                        stock[kind] += added
                        print(
                            f"  round {number}: pre-created {added} payments for {kind} in"
                            f" {time.monotonic() - started:.1f} s"
                            f" ({kind} rate so far {best[kind]:.0f}/s)",
                            flush=True,
                        )
                    measured = bench.phase(kind, duration=share)
                    runs[kind].append(measured)
                    stock[kind] -= sum(len(r.sent) for r in measured.results)
                    completed = sum(r.completed for r in measured.results)
                    rate = completed / measured.window if measured.window else 0.0
                    best[kind] = max(best[kind], rate)
            noop = bench.figures("noop", runs["noop"])
            ingest = bench.figures("ingest", runs["ingest"])
            paynow = bench.figures("paynow", runs["paynow"])
            splits = bench.figures("splits", runs["splits"])
        problems = asyncio.run(_verify(url, bench.sent))
    for problem in problems:
        print(f"  VERIFY FAILED: {problem}", flush=True)
    ratio = ingest.rate / noop.rate if noop.rate else 0.0
    paynow_ratio = paynow.rate / noop.rate if noop.rate else 0.0
    splits_ratio = splits.rate / noop.rate if noop.rate else 0.0
    print(
        f"  ingest/noop {ratio:.3f}, paynow/noop {paynow_ratio:.3f},"
        f" splits/noop {splits_ratio:.3f};"
        f" webhooks sent {len(bench.sent)}"
        f" ({warmup_sent} in warm-up); request errors {bench.errors}",
        flush=True,
    )
    return {
        "bench": "ingest",
        "per_s": round(ingest.rate, 1),
        "baseline_per_s": round(noop.rate, 1),
        "ratio": round(ratio, 3),
        "p99_ms": round(ingest.p99_ms, 2),
        "p50_ms": round(ingest.p50_ms, 2),
        "baseline_p99_ms": round(noop.p99_ms, 2),
        "server_cpu_ms_per_req": _rounded(ingest.server_ms),
        "baseline_server_cpu_ms_per_req": _rounded(noop.server_ms),
        "postgres_cpu_ms_per_req": _rounded(ingest.postgres_ms),
        "paynow_per_s": round(paynow.rate, 1),
        "paynow_ratio": round(paynow_ratio, 3),
        "paynow_p99_ms": round(paynow.p99_ms, 2),
        "paynow_p50_ms": round(paynow.p50_ms, 2),
        "paynow_server_cpu_ms_per_req": _rounded(paynow.server_ms),
        "paynow_postgres_cpu_ms_per_req": _rounded(paynow.postgres_ms),
        "splits_per_s": round(splits.rate, 1),
        "splits_ratio": round(splits_ratio, 3),
        "splits_p99_ms": round(splits.p99_ms, 2),
        "splits_p50_ms": round(splits.p50_ms, 2),
        "splits_server_cpu_ms_per_req": _rounded(splits.server_ms),
        "splits_postgres_cpu_ms_per_req": _rounded(splits.postgres_ms),
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "database": "postgresql",
        "errors": bench.errors,
        "verified": not problems and bench.errors == 0,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per timed phase")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent requests in total (all clients)"
    )
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--rounds", type=int, default=2, help="split each phase into this many interleaved rounds"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of no-op warm-up")
    parser.add_argument(
        "--warmup-payments",
        type=int,
        default=300,
        help="payments created and webhooks applied during warm-up (sizes the timed run)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=2.0,
        help="pre-create this many times the payments the warm-up rate says the run needs",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="an administrative connection (database `postgres`) to create the bench database",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.duration <= 0 or args.margin < 1:
        parser.error("--rounds must be at least 1, --duration positive, --margin at least 1")
    if args.clients < 1 or args.concurrency < args.clients:
        parser.error("need at least one client and one connection per client")
    if args.warmup_payments < args.clients:
        parser.error("--warmup-payments must be at least one per client")
    return args


def main() -> int:
    args = _parse_args()
    per_client = split(args.concurrency, args.clients)
    print(
        f"bench ingest: {args.duration:g} s per phase, {args.concurrency} concurrent requests;"
        f" client: {args.clients} process(es) (multiprocessing, spawn) x {per_client} tasks,"
        " each one httpx.AsyncClient on uvloop with keep-alive HTTP/1.1 connections, on this"
        " host; server: `hazina serve --no-worker` (one uvicorn process) on PostgreSQL;"
        f" stripe {stripe.VERSION}; {os.cpu_count()} CPUs",
        flush=True,
    )
    clients = Clients[Phase, PhaseResult](args.clients, _client_main)
    summary: dict[str, Any] = {"bench": "ingest", "per_s": None, "verified": False}
    try:
        with tempfile.TemporaryDirectory(prefix="hazina-bench-ingest-") as tmp:
            summary = run(args, clients, Path(tmp))
    except Exception:
        print("  FAILED", file=sys.stderr)
        traceback.print_exc()
    finally:
        clients.close()
    print(json.dumps(summary), flush=True)
    return 0 if summary.get("verified") else 1


if __name__ == "__main__":
    sys.exit(main())
