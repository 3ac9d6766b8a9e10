"""Payout schedules: set over HTTP, each run pays the available balance (less the fee) to the
default destination once it reaches the minimum, a run repeated pays nothing more."""

from datetime import datetime

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.domain.payouts import Interval, next_scheduled_run
from hazina.services.payouts.schedules import run_schedule
from hazina.worker import Worker
from tests.ledger.helpers import assert_ledger_sound, balance_of
from tests.payouts.helpers import funded_creator, mobile, work_until


def test_runs_fall_on_the_next_midnight_of_the_day_asked_for() -> None:
    tuesday_noon = datetime.fromisoformat("2026-12-01T12:00:00+00:00")
    assert next_scheduled_run(Interval.MANUAL, None, tuesday_noon) is None
    daily = next_scheduled_run(Interval.DAILY, None, tuesday_noon)
    assert daily == datetime.fromisoformat("2026-12-02T00:00:00+00:00")
    wednesday = next_scheduled_run(Interval.WEEKLY, 2, tuesday_noon)
    assert wednesday == datetime.fromisoformat("2026-12-02T00:00:00+00:00")
    tuesday = next_scheduled_run(Interval.WEEKLY, 1, tuesday_noon)
    assert tuesday == datetime.fromisoformat("2026-12-08T00:00:00+00:00")


async def set_weekly(client: httpx.AsyncClient, creator: str, minimum: int) -> dict[str, object]:
    response = await client.put(
        f"/api/v1/payouts/schedules/{creator}",
        json={"interval": "weekly", "weekday": 4, "minimum": minimum, "destination": mobile()},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_scheduled_run_pays_out_the_available_balance_once(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    creator = await funded_creator(client, worker, 100_000)
    schedule = await set_weekly(client, creator, 50_000)
    run = str(schedule["next_run_at"])
    assert datetime.fromisoformat(run).weekday() == 4
    assert schedule["destination"] == {"type": "mobile_money", "masked": "•••• 5678"}
    assert await run_schedule(container.db, container.payouts, creator, run) == "paid out"
    # The same run again (a job repeated after a crash): the schedule moved on, nothing more.
    assert await run_schedule(container.db, container.payouts, creator, run) == "superseded"
    payouts = (await client.get("/api/v1/payouts")).json()["data"]
    assert len(payouts) == 1
    # 100,000 available: the fee of that (1,000) leaves 99,000, whose own fee is 990.
    assert (payouts[0]["amount"], payouts[0]["fee"], payouts[0]["source"]) == (
        99_000,
        990,
        "schedule",
    )
    later = (await client.get(f"/api/v1/payouts/schedules/{creator}")).json()
    assert later["next_run_at"] > run

    async def paid() -> bool:
        found = await client.get(f"/api/v1/payouts/{payouts[0]['id']}")
        return bool(found.json()["status"] == "paid")

    await work_until(worker, paid)
    assert await balance_of(client, creator) == {"pending": 0, "available": 10, "reserved": 0}
    await assert_ledger_sound(container.db)


async def test_a_balance_below_the_minimum_waits_for_the_next_run(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    creator = await funded_creator(client, worker, 10_000)
    schedule = await set_weekly(client, creator, 50_000)
    run = str(schedule["next_run_at"])
    assert await run_schedule(container.db, container.payouts, creator, run) == "below minimum"
    assert (await client.get("/api/v1/payouts")).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"interval": "hourly", "destination": mobile()}, "interval"),
        ({"interval": "weekly", "destination": mobile()}, "weekday"),
        ({"interval": "weekly", "weekday": 7, "destination": mobile()}, "weekday"),
        ({"interval": "daily"}, "destination is required"),
        ({"interval": "daily", "minimum": -1, "destination": mobile()}, "minimum"),
        ({"interval": "daily", "destination": mobile("123")}, "destination.phone"),
    ],
)
async def test_bad_schedules_are_clear_400s(
    client: httpx.AsyncClient, worker: Worker, body: dict[str, object], message: str
) -> None:
    creator = await funded_creator(client, worker, 1000)
    response = await client.put(f"/api/v1/payouts/schedules/{creator}", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["description"]
    missing = await client.get(f"/api/v1/payouts/schedules/{creator}")
    assert missing.status_code == 404
