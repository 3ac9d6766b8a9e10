"""The job runner, embedded in `hazina serve` or standalone as `hazina worker`.

It claims due jobs in batches up to its free slots, runs each as a task, renews the leases of the
jobs it holds, and beats a heartbeat. If it dies, its leases lapse and other workers take the jobs
over; handlers are idempotent, so a job that ran partly runs again safely.
"""

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db import queue
from hazina.db.database import Database
from hazina.domain.clock import utc_now
from hazina.domain.retry import job_backoff
from hazina.observability import logs, metrics
from hazina.services import (
    janitor,
    payments,
    provider_payments,
    reconciliation,
    refund_reconciliation,
    refunds,
    webhooks,
)
from hazina.services.approvals import completion, requests
from hazina.services.events import DELIVER_WEBHOOK
from hazina.services.ledger import charges
from hazina.services.ledger import check as ledger_check
from hazina.services.notifications import outbox, sending
from hazina.services.payouts import progress
from hazina.services.payouts import schedules as payout_schedules
from hazina.services.payouts import settlement as payout_settlement

log = logging.getLogger("hazina.worker")

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def handlers(container: Container) -> dict[str, Handler]:
    """Every job kind and the use case that runs it."""

    async def process_payment(payload: dict[str, Any]) -> None:
        await payments.process_payment(container.db, container.sandbox, payload["payment_id"])

    async def process_refund(payload: dict[str, Any]) -> None:
        await refunds.process_refund(
            container.db, container.sandbox, container.providers, payload["refund_id"]
        )

    async def reconcile_payment(payload: dict[str, Any]) -> None:
        await provider_payments.reconcile_payment(
            container.db,
            container.providers,
            payload["payment_id"],
            final=bool(payload.get("final")),
        )

    async def complete_approval(payload: dict[str, Any]) -> None:
        await completion.complete_approval(container.db, container.providers, payload["payment_id"])

    async def reconcile_refund(payload: dict[str, Any]) -> None:
        await refund_reconciliation.reconcile_refund(
            container.db,
            container.providers,
            payload["refund_id"],
            final=bool(payload.get("final")),
        )

    async def run_janitor(_payload: dict[str, Any]) -> None:
        settings = container.settings
        deleted = await janitor.run_janitor(
            container.db,
            janitor_retention(settings),
            settings.janitor_batch_size,
            timedelta(seconds=settings.janitor_interval_seconds),
        )
        log.info("janitor purged %s", ", ".join(f"{n} {name}" for name, n in deleted.items()))
        # #14: the nightly ledger check. Its outcome is stored and logged; a broken ledger is
        # reported there (and on /health), never by failing the janitor's chain.
        every = timedelta(hours=settings.ledger_check_interval_hours)
        try:
            await ledger_check.check_if_due(container.db, every)
        except Exception:
            log.exception("the ledger check could not run")

    async def release_balance(payload: dict[str, Any]) -> None:
        await charges.release_charge(
            container.db, payload["transfer_id"], container.settings.settlement_delay
        )

    # One per worker's handlers: the successes its concurrent deliveries report together.
    recorder = webhooks.AttemptRecorder(container.db)

    async def deliver_webhook(payload: dict[str, Any]) -> None:
        await webhooks.deliver_webhook(
            container.db,
            container.webhook_sender,
            container.webhook_policy,
            container.providers.vault,
            recorder,
            payload["delivery_id"],
        )

    async def process_payout(payload: dict[str, Any]) -> None:
        check = payload.get("check")
        await progress.process_payout(
            container.db,
            container.payouts,
            payload["payout_id"],
            None if check is None else int(check),
        )

    async def run_payout_schedule(payload: dict[str, Any]) -> None:
        outcome = await payout_schedules.run_schedule(
            container.db, container.payouts, payload["account_id"], payload["run"]
        )
        log.info("scheduled payout of %s: %s", payload["account_id"], outcome)

    async def send_notification(payload: dict[str, Any]) -> None:
        await sending.send_notification(
            container.db,
            container.providers.vault,
            container.notification_channels,
            payload["notification_id"],
        )

    return {
        outbox.SEND_NOTIFICATION: send_notification,
        payments.PROCESS_PAYMENT: process_payment,
        refunds.PROCESS_REFUND: process_refund,
        reconciliation.RECONCILE_PAYMENT: reconcile_payment,
        reconciliation.RECONCILE_REFUND: reconcile_refund,
        requests.COMPLETE_APPROVAL: complete_approval,
        DELIVER_WEBHOOK: deliver_webhook,
        janitor.JANITOR: run_janitor,
        charges.RELEASE_BALANCE: release_balance,
        payout_settlement.PROCESS_PAYOUT: process_payout,
        payout_schedules.SCHEDULED_PAYOUT: run_payout_schedule,
    }


def janitor_retention(settings: Settings) -> janitor.Retention:
    return janitor.Retention(
        finished_jobs=timedelta(days=settings.retain_finished_jobs_days),
        webhook_attempts=timedelta(days=settings.retain_webhook_attempts_days),
        rejected_inbound=timedelta(days=settings.retain_rejected_inbound_days),
    )


def give_up_handlers(container: Container) -> dict[str, Handler]:
    """What to do when a job of a kind runs out of attempts, so nothing is left half-done."""

    async def fail_payment(payload: dict[str, Any]) -> None:
        await payments.give_up_payment(container.db, payload["payment_id"])

    async def fail_delivery(payload: dict[str, Any]) -> None:
        await webhooks.give_up_delivery(container.db, payload["delivery_id"])

    async def fail_refund(payload: dict[str, Any]) -> None:
        await refund_reconciliation.give_up_refund(
            container.db, container.providers.registry, payload["refund_id"]
        )

    async def settle_unreconciled_payment(payload: dict[str, Any]) -> None:
        await provider_payments.give_up_reconciliation(
            container.db, container.providers, payload["payment_id"]
        )

    async def settle_unreconciled_refund(payload: dict[str, Any]) -> None:
        await refund_reconciliation.give_up_refund_reconciliation(
            container.db, container.providers.registry, payload["refund_id"]
        )

    async def keep_payout_moving(payload: dict[str, Any]) -> None:
        await progress.give_up_payout(container.db, container.payouts, payload["payout_id"])

    async def fail_notification(payload: dict[str, Any]) -> None:
        await sending.give_up_notification(container.db, payload["notification_id"])

    async def retry_release(payload: dict[str, Any]) -> None:
        await charges.give_up_release(container.db, payload["transfer_id"])

    return {
        outbox.SEND_NOTIFICATION: fail_notification,
        payments.PROCESS_PAYMENT: fail_payment,
        refunds.PROCESS_REFUND: fail_refund,
        reconciliation.RECONCILE_PAYMENT: settle_unreconciled_payment,
        reconciliation.RECONCILE_REFUND: settle_unreconciled_refund,
        DELIVER_WEBHOOK: fail_delivery,
        payout_settlement.PROCESS_PAYOUT: keep_payout_moving,
        charges.RELEASE_BALANCE: retry_release,
    }


class Worker:
    def __init__(
        self,
        db: Database,
        job_handlers: Mapping[str, Handler],
        *,
        concurrency: int,
        lease: timedelta,
        poll_seconds: float,
        heartbeat_seconds: float,
        retry_base: timedelta,
        retry_cap: timedelta,
        give_up: Mapping[str, Handler] | None = None,
    ) -> None:
        self.db = db
        self.handlers = job_handlers
        self.give_up = give_up or {}
        self.concurrency = concurrency
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._running: dict[int, asyncio.Task[None]] = {}
        self._wake = db.job_listener()

    @classmethod
    def from_container(cls, container: Container, concurrency: int | None = None) -> "Worker":
        settings = container.settings
        return cls(
            container.db,
            handlers(container),
            concurrency=concurrency or settings.worker_concurrency,
            lease=settings.job_lease,
            poll_seconds=settings.worker_poll_seconds,
            heartbeat_seconds=settings.worker_heartbeat_seconds,
            retry_base=timedelta(seconds=settings.job_retry_base_seconds),
            retry_cap=timedelta(seconds=settings.job_retry_cap_seconds),
            give_up=give_up_handlers(container),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then let running jobs finish (or hand them back)."""
        log.info("worker %s started (concurrency %d)", self.id, self.concurrency)
        await queue.beat(self.db, self.id, self.concurrency, os.getpid())
        if janitor.JANITOR in self.handlers:
            # The janitor re-enqueues itself; this starts the chain (or finds it running).
            await janitor.ensure_janitor(self.db)
        chores = [
            asyncio.create_task(self._every(self.heartbeat_seconds, self._beat, stop)),
            asyncio.create_task(self._every(self.lease.total_seconds() / 3, self._renew, stop)),
        ]
        listener = await queue.listen(self.db, self._wake.set)
        try:
            await self._claim_loop(stop)
        finally:
            await self._drain()
            for chore in chores:
                chore.cancel()
            await asyncio.gather(*chores, return_exceptions=True)
            if listener is not None:
                await listener()
            await queue.forget(self.db, self.id)
            log.info("worker %s stopped", self.id)

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        # With a backlog, a claim per finished job would cost a claim per job: wait until a
        # quarter of the slots are free (or a poll passes) and claim them in one statement.
        # Without one, claim as soon as anything is free, so a new job starts at once.
        batch = max(1, self.concurrency // 4)
        backlog = False
        while not stop.is_set():
            free = self.concurrency - len(self._running)
            claimed: list[queue.ClaimedJob] = []
            self._wake.clear()  # what happens from here on wakes the next wait
            if free >= (batch if backlog else 1):
                try:
                    claimed = await queue.claim(
                        self.db,
                        self.id,
                        free,
                        self.lease,
                        kinds=list(self.handlers),
                        running=list(self._running),
                    )
                except Exception:
                    log.exception("claiming jobs failed; retrying")
            for job in claimed:
                task = asyncio.create_task(self._execute_guarded(job))
                self._running[job.id] = task
                task.add_done_callback(functools.partial(self._release_slot, job.id))
            if claimed:
                backlog = len(claimed) == free  # the queue may hold more
                if backlog:
                    continue
            if not await self._wait(stop):
                backlog = False  # a whole poll with no news: claim whatever is free

    def _release_slot(self, job_id: int, task: asyncio.Task[None]) -> None:
        if self._running.get(job_id) is task:
            del self._running[job_id]
        self._wake.set()

    async def _wait(self, stop: asyncio.Event) -> bool:
        """Until a job is enqueued or finishes, `stop` is set, or the poll interval passes
        (then False)."""
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        return bool(done)

    async def _execute_guarded(self, job: queue.ClaimedJob) -> None:
        try:
            await self._execute(job)
        except Exception:
            # Recording the outcome failed (database unreachable): the lease will lapse and the
            # job run again, which its idempotent handler tolerates.
            log.exception("job %d (%s): could not record its outcome", job.id, job.kind)

    async def _execute(self, job: queue.ClaimedJob) -> None:
        """Run one attempt under the job's id (every line logged meanwhile carries it), then
        count it and log one line saying how it ended."""
        started = time.perf_counter()
        outcome = "error"  # recording the outcome raised (see _execute_guarded)
        with logs.job_context(job.id):
            try:
                outcome = await self._attempt(job)
            except asyncio.CancelledError:
                outcome = "interrupted"  # shutdown handed it back (_drain)
                raise
            finally:
                elapsed = time.perf_counter() - started
                metrics.count_job(job.kind, outcome, elapsed)
                duration_ms = round(elapsed * 1000, 2)
                log.info(
                    "job %d %s attempt %d: %s in %.2fms",
                    job.id,
                    job.kind,
                    job.attempts,
                    outcome,
                    duration_ms,
                    extra={
                        "kind": job.kind,
                        "attempt": job.attempts,
                        "outcome": outcome,
                        "duration_ms": duration_ms,
                    },
                )

    async def _attempt(self, job: queue.ClaimedJob) -> str:
        """One attempt of a job; returns its outcome for the metrics and the log."""
        if job.attempts > job.max_attempts:
            # Its last allowed attempt never reported back: the worker running it died.
            await self._give_up(job, "lease expired on the last attempt")
            return "gave_up"
        handler = self.handlers.get(job.kind)
        if handler is None:
            await queue.fail(self.db, job.id, self.id, f"no handler for job kind {job.kind}", None)
            return "no_handler"
        try:
            with queue.leased(job.id, self.id) as lease:
                await handler(job.payload)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job %d (%s) attempt %d failed: %s", job.id, job.kind, job.attempts, error)
            if job.attempts >= job.max_attempts:
                await self._give_up(job, error)
                return "gave_up"
            retry_at = utc_now() + job_backoff(job.attempts, self.retry_base, self.retry_cap)
            await queue.fail(self.db, job.id, self.id, error, retry_at)
            return "retried"
        if lease.completed:
            return "completed"  # the handler completed it with its own transaction
        if not await queue.complete(self.db, job.id, self.id):
            log.warning("job %d finished after its lease passed to another worker", job.id)
            return "lease_lost"
        return "completed"

    async def _give_up(self, job: queue.ClaimedJob, error: str) -> None:
        """Run the kind's give-up step, then mark the job failed for good.

        In that order: if the give-up step fails, the job stays claimed, its lease lapses, and
        the next claim gives up again.
        """
        give_up = self.give_up.get(job.kind)
        if give_up is not None:
            await give_up(job.payload)
        await queue.fail(self.db, job.id, self.id, error, None)

    async def _drain(self) -> None:
        """Give running jobs one lease to finish; hand the rest back without spending an attempt."""
        if not self._running:
            return
        _, unfinished = await asyncio.wait(
            list(self._running.values()), timeout=self.lease.total_seconds() / 2
        )
        interrupted = [job_id for job_id, task in self._running.items() if task in unfinished]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        await queue.release(self.db, self.id, interrupted)

    async def _beat(self) -> None:
        await queue.beat(self.db, self.id, self.concurrency, os.getpid())

    async def _renew(self) -> None:
        await queue.renew(self.db, self.id, list(self._running), self.lease)

    async def _every(
        self, seconds: float, chore: Callable[[], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)
            try:
                await chore()
            except Exception:
                log.exception("worker chore %s failed", chore.__name__)
