"""`hazina serve --processes 2`, a real process tree: uvicorn's supervisor and two API processes,
each with an embedded worker, on one port; on SQLite (one file, many writers) and PostgreSQL.

The parent does the once-only start-up (migrating SQLite, seeding) before it forks; the children
share the port, settle payments exactly once, replay idempotent requests byte for byte whichever
process answers, and a child that dies is replaced.
"""

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import bindparam, text

from tests.e2e.servers import AUTH, HazinaProcess, Hub, open_hub

pytestmark = [pytest.mark.slow]

PAYMENTS = 60


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as opened:
        await opened.prepare()
        yield opened


async def worker_pids(hub: Hub) -> set[int]:
    async with hub.database() as db, db.read() as session:
        return {pid for (pid,) in await session.execute(text("SELECT pid FROM worker_heartbeats"))}


async def until_workers(
    hub: Hub, server: HazinaProcess, count: int, killed: int | None = None
) -> set[int]:
    """The pids of `count` embedded workers, each in a child of `server` (never the parent);
    not `killed`, whose heartbeat stays behind."""
    pids: set[int] = set()

    async def running() -> bool:
        nonlocal pids
        pids = {pid for pid in await worker_pids(hub) if pid != killed and _alive(pid)}
        return len(pids) == count

    await hub.eventually(running, within=120, what=f"{count} embedded workers", interval=0.2)
    assert server.pid not in pids
    return pids


def _alive(pid: int) -> bool:
    """Running: not gone, and not a zombie its parent has yet to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def pay(client: httpx.AsyncClient, index: int) -> tuple[str, bytes]:
    response = await client.post("/api/v1/orders", json={"amount": 1000 + index})
    assert response.status_code == 201, response.text
    body = {"order_id": response.json()["id"], "method": "upi", "vpa": f"p{index}@paytm"}
    headers = {"Idempotency-Key": f"processes-{index}"}
    created = await client.post("/api/v1/payments", json=body, headers=headers)
    assert created.status_code == 201, created.text
    # A fresh connection for the replay: likely another process; the answer is the same bytes.
    async with httpx.AsyncClient(base_url=str(client.base_url), headers=AUTH, timeout=60) as other:
        replayed = await other.post("/api/v1/payments", json=body, headers=headers)
    assert replayed.status_code == 201, replayed.text
    assert replayed.content == created.content
    payment_id: str = created.json()["id"]
    return payment_id, created.content


async def test_serve_processes_share_the_port_and_settle_once(hub: Hub) -> None:
    server = await hub.serve_with(["--worker", "--processes", "2"], {})
    assert server.url is not None
    first_pids = await until_workers(hub, server, 2)

    limit = asyncio.Semaphore(8)
    # No keep-alive: every request opens a connection, which either process may accept.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=server.url, headers=AUTH, timeout=60, limits=no_reuse
    ) as client:

        async def one(index: int) -> str:
            async with limit:
                payment_id, _ = await pay(client, index)
            return payment_id

        payment_ids = await asyncio.gather(*(one(i) for i in range(PAYMENTS)))
        ids = {"ids": payment_ids}

        async def settled() -> bool:
            async with hub.database() as db, db.read() as session:
                count = await session.scalar(
                    text(
                        "SELECT count(*) FROM payments WHERE id IN :ids AND status = 'success'"
                    ).bindparams(bindparam("ids", expanding=True)),
                    ids,
                )
            return bool(count == PAYMENTS)

        await hub.eventually(settled, within=120, what="every payment settled", interval=0.2)
        async with hub.database() as db, db.read() as session:
            settlements = (
                await session.execute(
                    text(
                        "SELECT resource_id, count(*) FROM events WHERE type IN"
                        " ('payment.success', 'payment.failed') AND resource_id IN :ids"
                        " GROUP BY resource_id"
                    ).bindparams(bindparam("ids", expanding=True)),
                    ids,
                )
            ).all()
        assert len(settlements) == PAYMENTS
        assert {count for _, count in settlements} == {1}

        # A child that dies is replaced by the supervisor; the port keeps answering.
        victim = min(first_pids)
        os.kill(victim, signal.SIGKILL)
        replaced = await until_workers(hub, server, 2, killed=victim)
        payment_id, _ = await pay(client, PAYMENTS)
        assert payment_id.startswith("pay_")

    # SIGTERM stops the supervisor and both children, their workers handing back their jobs.
    server.signal(signal.SIGTERM)
    assert await server.exit_code(within=60) == 0
    # The supervisor joins its children before it exits.
    assert not [pid for pid in replaced if _alive(pid)]
