"""The job queue's SQL on SQLite and PostgreSQL: transactional enqueue, leases, claims, outcomes."""

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from hazina.db import queue
from hazina.db.database import Database
from hazina.db.models import Job, WorkerHeartbeat
from hazina.domain.clock import utc_now
from tests.jobs import add_job, get_job
from tests.waiting import wait_until

LEASE = timedelta(seconds=30)


class Boom(Exception):
    pass


async def all_jobs(db: Database) -> list[Job]:
    async with db.read() as session:
        return list((await session.scalars(select(Job).order_by(Job.id))).all())


def close_to(actual: datetime | None, expected: datetime, within: timedelta) -> bool:
    return actual is not None and abs(actual - expected) <= within


async def test_enqueue_commits_with_the_callers_transaction(db: Database) -> None:
    listener = db.job_listener()

    async def enqueue_then_fail() -> None:
        async with db.transaction() as session:
            await queue.enqueue(session, "test", {"a": 1}, max_attempts=3)
            await session.flush()
            assert len((await session.scalars(select(Job))).all()) == 1  # written, uncommitted
            raise Boom

    with pytest.raises(Boom):
        await enqueue_then_fail()
    assert await all_jobs(db) == []
    assert not listener.is_set()  # a rolled-back enqueue wakes nobody

    [job_id] = await add_job(db)
    job = await get_job(db, job_id)
    assert (job.kind, job.payload, job.status, job.attempts) == ("test", {"n": 0}, "pending", 0)
    assert job.locked_by is None
    assert listener.is_set()


async def test_claim_takes_at_most_limit_due_jobs(db: Database) -> None:
    due = await add_job(db, n=5)
    [future] = await add_job(db, run_at=utc_now() + timedelta(hours=1))
    before = utc_now()

    first = await queue.claim(db, "w1", 3, LEASE)
    assert [job.id for job in first] == due[:3]  # oldest first
    assert all(job.attempts == 1 and job.kind == "test" for job in first)
    for claimed in first:
        job = await get_job(db, claimed.id)
        assert job.status == "processing"
        assert job.locked_by == "w1"
        assert job.attempts == 1
        assert close_to(job.locked_until, before + LEASE, timedelta(seconds=5))

    second = await queue.claim(db, "w2", 10, LEASE)
    assert [job.id for job in second] == due[3:]
    assert await queue.claim(db, "w3", 10, LEASE) == []
    job = await get_job(db, future)
    assert (job.status, job.attempts, job.locked_by) == ("pending", 0, None)


async def _claim_all(db: Database, worker_id: str) -> list[int]:
    taken: list[int] = []
    while batch := await queue.claim(db, worker_id, 3, LEASE):
        taken += [job.id for job in batch]
    return taken


async def test_concurrent_claimers_never_share_a_job(db: Database) -> None:
    ids = await add_job(db, n=40)
    takes = await asyncio.gather(*(_claim_all(db, f"w{i}") for i in range(6)))
    everything = [job_id for take in takes for job_id in take]
    assert sorted(everything) == ids  # each job exactly once
    for worker_number, take in enumerate(takes):
        for job_id in take:
            assert (await get_job(db, job_id)).locked_by == f"w{worker_number}"


async def test_claimers_on_separate_databases_never_share_a_job(
    db: Database, database_url: str
) -> None:
    """Two processes' worth of connection pools against one database."""
    ids = await add_job(db, n=40)
    others = [Database(database_url), Database(database_url)]
    try:
        takes = await asyncio.gather(
            *(_claim_all(other, f"{n}-{i}") for n, other in enumerate(others) for i in range(3))
        )
    finally:
        for other in others:
            await other.dispose()
    everything = [job_id for take in takes for job_id in take]
    assert sorted(everything) == ids


async def test_expired_lease_passes_the_job_to_another_worker(db: Database) -> None:
    [job_id] = await add_job(db)
    [first] = await queue.claim(db, "dead", 1, timedelta(seconds=1))
    assert await queue.claim(db, "alive", 1, LEASE) == []  # still leased

    taken: list[queue.ClaimedJob] = []

    async def taken_over() -> bool:
        taken.extend(await queue.claim(db, "alive", 1, LEASE))
        return bool(taken)

    await wait_until(taken_over, timeout=5)
    assert taken[0].id == first.id == job_id
    assert taken[0].attempts == 2  # the lost attempt counts

    assert not await queue.complete(db, job_id, "dead")
    assert not await queue.fail(db, job_id, "dead", "too late", None)
    job = await get_job(db, job_id)
    assert (job.status, job.locked_by, job.last_error) == ("processing", "alive", None)

    assert await queue.complete(db, job_id, "alive")
    job = await get_job(db, job_id)
    assert (job.status, job.locked_by, job.locked_until) == ("completed", None, None)
    assert not await queue.complete(db, job_id, "alive")  # once


async def test_renew_extends_only_the_holders_lease(db: Database) -> None:
    [job_id] = await add_job(db)
    await queue.claim(db, "w1", 1, timedelta(seconds=1))
    leased = (await get_job(db, job_id)).locked_until
    assert leased is not None

    await queue.renew(db, "intruder", [job_id], timedelta(hours=1))
    assert (await get_job(db, job_id)).locked_until == leased

    await queue.renew(db, "w1", [job_id], timedelta(hours=1))
    renewed = (await get_job(db, job_id)).locked_until
    assert renewed is not None
    assert renewed - leased > timedelta(minutes=59)
    await queue.renew(db, "w1", [], LEASE)  # nothing to renew is fine


async def test_fail_with_retry_at_makes_the_job_pending_again(db: Database) -> None:
    [job_id] = await add_job(db)
    await queue.claim(db, "w1", 1, LEASE)
    retry_at = utc_now() + timedelta(hours=1)
    assert await queue.fail(db, job_id, "w1", "ValueError: nope", retry_at)

    job = await get_job(db, job_id)
    assert (job.status, job.attempts, job.last_error) == ("pending", 1, "ValueError: nope")
    assert (job.locked_by, job.locked_until) == (None, None)
    assert close_to(job.run_at, retry_at, timedelta(milliseconds=1))
    assert await queue.claim(db, "w1", 1, LEASE) == []  # not due before retry_at

    async with db.transaction() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(run_at=utc_now()))
    [again] = await queue.claim(db, "w2", 1, LEASE)
    assert (again.id, again.attempts) == (job_id, 2)


async def test_fail_without_retry_fails_for_good(db: Database) -> None:
    [job_id] = await add_job(db)
    await queue.claim(db, "w1", 1, LEASE)
    assert await queue.fail(db, job_id, "w1", "x" * 10_000, None)
    job = await get_job(db, job_id)
    assert (job.status, job.attempts, job.locked_by) == ("failed", 1, None)
    assert job.last_error is not None
    assert 0 < len(job.last_error) <= 4000  # bounded
    assert await queue.claim(db, "w2", 1, LEASE) == []


async def test_release_gives_jobs_back_without_counting_the_attempt(db: Database) -> None:
    ids = await add_job(db, n=2)
    await queue.claim(db, "w1", 2, LEASE)

    await queue.release(db, "intruder", ids)
    assert [job.status for job in await all_jobs(db)] == ["processing", "processing"]

    await queue.release(db, "w1", ids[:1])
    job = await get_job(db, ids[0])
    assert (job.status, job.attempts, job.locked_by, job.locked_until) == ("pending", 0, None, None)
    assert (await get_job(db, ids[1])).status == "processing"

    [again] = await queue.claim(db, "w2", 5, LEASE)
    assert (again.id, again.attempts) == (ids[0], 1)
    await queue.release(db, "w2", [])  # nothing to release is fine


async def test_count_by_status_counts_all_four(db: Database) -> None:
    assert await queue.count_by_status(db) == {
        "pending": 0,
        "processing": 0,
        "completed": 0,
        "failed": 0,
    }
    await add_job(db, n=7)
    claimed = [job.id for job in await queue.claim(db, "w1", 6, LEASE)]
    assert await queue.complete(db, claimed[0], "w1")
    assert await queue.complete(db, claimed[1], "w1")
    assert await queue.fail(db, claimed[2], "w1", "boom", None)
    assert await queue.count_by_status(db) == {
        "pending": 1,
        "processing": 3,
        "completed": 2,
        "failed": 1,
    }


async def test_heartbeats_register_refresh_go_stale_and_are_forgotten(db: Database) -> None:
    fresh = timedelta(minutes=1)
    assert await queue.count_live_workers(db, fresh) == 0
    await queue.beat(db, "w1", 4, 101)
    await queue.beat(db, "w2", 8, 102)
    await queue.beat(db, "w1", 4, 101)  # a refresh, not a second row
    assert await queue.count_live_workers(db, fresh) == 2
    async with db.read() as session:
        rows = (await session.scalars(select(WorkerHeartbeat))).all()
    assert sorted((row.worker_id, row.concurrency, row.pid) for row in rows) == [
        ("w1", 4, 101),
        ("w2", 8, 102),
    ]

    long_ago = utc_now() - timedelta(minutes=10)
    async with db.transaction() as session:
        await session.execute(
            update(WorkerHeartbeat)
            .where(WorkerHeartbeat.worker_id == "w2")
            .values(last_seen_at=long_ago)
        )
    assert await queue.count_live_workers(db, fresh) == 1  # w2 is stale
    assert await queue.count_live_workers(db, timedelta(hours=1)) == 2
    await queue.beat(db, "w2", 8, 102)
    assert await queue.count_live_workers(db, fresh) == 2  # and back

    await queue.forget(db, "w1")
    await queue.forget(db, "w1")
    assert await queue.count_live_workers(db, fresh) == 1
    async with db.read() as session:
        assert (await session.scalars(select(WorkerHeartbeat.worker_id))).all() == ["w2"]


async def test_claim_takes_only_the_kinds_asked_for(db: Database) -> None:
    [payment] = await add_job(db, "process_payment")
    [other] = await add_job(db, "newer_kind")
    assert await queue.claim(db, "w", 10, LEASE, kinds=[]) == []
    claimed = await queue.claim(db, "w", 10, LEASE, kinds=["process_payment"])
    assert [job.id for job in claimed] == [payment]
    assert (await get_job(db, other)).status == "pending"
    assert [job.id for job in await queue.claim(db, "w2", 10, LEASE)] == [other]  # None: all


async def test_a_worker_never_reclaims_its_own_expired_job(db: Database) -> None:
    """It may still be running it; another worker takes it over."""
    [job_id] = await add_job(db)
    await queue.claim(db, "slow", 1, timedelta(milliseconds=1))

    async def expired() -> bool:
        job = await get_job(db, job_id)
        return job.locked_until is not None and job.locked_until < utc_now()

    await wait_until(expired, timeout=5)
    assert await queue.claim(db, "slow", 1, LEASE) == []
    [taken] = await queue.claim(db, "other", 1, LEASE)
    assert (taken.id, taken.attempts) == (job_id, 2)
