"""Webhook deliveries per second to a local receiver, on PostgreSQL, with one `hazina worker`.

Three measurements in one run, against one local sink:
- baseline: the fastest plain Python HTTP client here (aiohttp, one session, keep-alive)
  posting the same bodies straight to the same sink at the worker's concurrency: the ceiling
  the worker is compared with, so the client Hazina's sender chose shows in the ratio;
- throughput: a backlog of events committed first, then drained by one `hazina worker` process,
  timed from the first arrival to the last;
- latency: events committed one per transaction at a steady offered rate (default 100/s) with
  the worker running, timed from each commit to its arrival at the sink (p50/p99).
The last line is JSON: {"bench": "deliveries", "per_s", "baseline_per_s", "ratio", "p99_ms", …}.

    .venv/bin/python bench/deliveries.py [--events 3000] [--rate 100] [--seconds 10]
"""

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make `bench` (the repository root) importable for the shared helpers.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from bench.common import libpq, percentile
from hazina.db.database import Database
from hazina.db.schema import migrate
from hazina.domain.events import EventType
from hazina.services import webhook_endpoints
from hazina.services.events import record_event
from hazina.services.merchants import create_merchant
from hazina.services.resources import render
from hazina.testing.sink import WebhookSink
from hazina.vault.keyring import KeyRing, generate_key_entry

ADMIN_URL = os.environ.get(
    "HAZINA_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
CONCURRENCY = 32
HAZINA = str(Path(sys.executable).with_name("hazina"))


async def baseline(sink: WebhookSink, bodies: list[bytes]) -> float:
    """Deliveries per second of a plain aiohttp client: the same bodies, sink and concurrency."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    url = sink.url("/baseline")
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post_all() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    assert response.status < 300, response.status

        started = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(CONCURRENCY)))
        return len(bodies) / (time.perf_counter() - started)


async def commit_events(
    db: Database, merchant_id: Any, first: int, count: int, per_transaction: int
) -> float:
    for start in range(first, first + count, per_transaction):
        async with db.transaction() as session:
            for seq in range(start, min(start + per_transaction, first + count)):
                await record_event(
                    session,
                    merchant_id,
                    EventType.WEBHOOK_TEST,
                    "bench",
                    {"seq": seq},
                    livemode=False,
                )
    return time.time()


def arrivals(sink: WebhookSink, path: str) -> dict[int, float]:
    return {json.loads(r.body)["data"]["seq"]: r.at for r in sink.at(path)}


async def wait_for(sink: WebhookSink, path: str, count: int, within: float) -> None:
    deadline = time.monotonic() + within
    while len(sink.at(path)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(sink.at(path))}/{count} deliveries within {within}s")
        await asyncio.sleep(0.01)


async def run(events: int, rate: float, seconds: float) -> dict[str, Any]:
    name = f"hazina_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(libpq(ADMIN_URL))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    db = Database(url, pool_size=4)
    worker: asyncio.subprocess.Process | None = None
    try:
        await migrate(db)
        # The worker process opens the endpoint's sealed secret with the same ring.
        master_keys = generate_key_entry()
        vault = KeyRing.parse(master_keys)
        merchant = await create_merchant(
            db, vault, name="Bench", email="bench@example.com", actor="bench"
        )
        merchant_id = merchant.merchant.id
        async with WebhookSink() as sink:
            await webhook_endpoints.set_config(
                db, vault, merchant_id, sink.url("/throughput"), production=False
            )
            bodies = [
                render({"event": "webhook.test", "timestamp": 0, "data": {"seq": seq}})
                for seq in range(events)
            ]
            baseline_per_s = await baseline(sink, bodies)

            await commit_events(db, merchant_id, 0, events, per_transaction=100)
            env = os.environ | {
                "HAZINA_DATABASE_URL": url,
                "HAZINA_MASTER_KEYS": master_keys,
                "HAZINA_WORKER_CONCURRENCY": str(CONCURRENCY),
                "HAZINA_WORKER_POLL_SECONDS": "0.2",
                # One connection per concurrent job: with fewer, jobs queue for the pool.
                "HAZINA_DB_POOL_SIZE": str(CONCURRENCY),
            }
            worker = await asyncio.create_subprocess_exec(
                HAZINA, "--log-level", "WARNING", "worker", env=env
            )
            await wait_for(sink, "/throughput", events, within=600)
            times = sorted(arrivals(sink, "/throughput").values())
            per_s = (len(times) - 1) / (times[-1] - times[0])

            await webhook_endpoints.set_config(
                db, vault, merchant_id, sink.url("/latency"), production=False
            )
            offered = round(rate * seconds)
            committed: dict[int, float] = {}
            started = time.monotonic()
            for index in range(offered):
                await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
                seq = events + index
                committed[seq] = await commit_events(db, merchant_id, seq, 1, 1)
            await wait_for(sink, "/latency", offered, within=120)
            arrived = arrivals(sink, "/latency")
            latencies = [(arrived[seq] - at) * 1000 for seq, at in committed.items()]
    finally:
        if worker is not None:
            worker.terminate()
            await worker.wait()
        await db.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {
        "bench": "deliveries",
        "per_s": round(per_s, 1),
        "baseline_per_s": round(baseline_per_s, 1),
        "ratio": round(per_s / baseline_per_s, 3),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(percentile(sorted(latencies), 99), 1),
        "offered_per_s": rate,
        "events": events,
        "database": "postgresql",
        "worker_concurrency": CONCURRENCY,
        "baseline_client": f"aiohttp {aiohttp.__version__}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="backlog for the throughput run")
    parser.add_argument("--rate", type=float, default=100.0, help="offered events/s for latency")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.rate, args.seconds))
    print(
        f"deliveries: {result['per_s']}/s (baseline {result['baseline_per_s']}/s, "
        f"ratio {result['ratio']}); at {args.rate:g}/s offered: "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
