"""Every metric family Hazina exposes, defined once, and the `/metrics` exposition.

Several processes (`serve --processes N`, standalone workers on the same host) share one view
through prometheus_client's multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set *before*
prometheus_client is imported, each process writes its values to files there and a scrape of any
process sums them all. prometheus_client picks its storage once, at import, which is why
`processes_sharing_metrics` sets the variable before the API processes are spawned (each then
imports it anew) rather than anything at run time.

The queue's depth is not a metric any process keeps: it is read from the database at scrape time
(`QueueDepth`), so it is one answer whichever process is scraped, and never summed.
"""

import functools
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

P = ParamSpec("P")
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# `_created` samples would add a series per labelled child and say nothing a rate() needs; the
# multiprocess mode has none anyway, so both modes expose the same names.
disable_created_metrics()  # type: ignore[no-untyped-call]

# From a cached read (≈1 ms) to a provider's slow answer.
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Jobs include provider calls and webhook posts (timeouts of 5-15 s).
_SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "hazina_http_requests",
    "HTTP requests answered, by route template (not the raw path), method and status.",
    ("route", "method", "status"),
)
HTTP_DURATION = Histogram(
    "hazina_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and method.",
    ("route", "method"),
    buckets=_HTTP_BUCKETS,
)
JOBS = Counter(
    "hazina_jobs",
    "Job attempts finished by workers, by kind and outcome "
    "(completed, retried, gave_up, lease_lost, no_handler, error).",
    ("kind", "outcome"),
)
JOB_DURATION = Histogram(
    "hazina_job_duration_seconds",
    "Time one job attempt took, by kind.",
    ("kind",),
    buckets=_SLOW_BUCKETS,
)
DELIVERY_ATTEMPTS = Counter(
    "hazina_webhook_delivery_attempts",
    "Outbound webhook attempts, by outcome (success, gone, http_3xx, http_4xx, http_5xx, "
    "no_response).",
    ("outcome",),
)
DELIVERY_DURATION = Histogram(
    "hazina_webhook_delivery_duration_seconds",
    "Time one outbound webhook attempt took, by outcome.",
    ("outcome",),
    buckets=_SLOW_BUCKETS,
)
INBOUND_NOTIFICATIONS = Counter(
    "hazina_inbound_notifications",
    "Provider notifications received, by provider and the status they were stored with "
    "(processed, duplicate, ignored, rejected, failed).",
    ("provider", "status"),
)
RECONCILIATIONS = Counter(
    "hazina_reconciliations",
    "Status checks of pending payments and refunds at their provider, by subject and outcome.",
    ("subject", "outcome"),
)
LOGIN_FAILURES = Counter(
    "hazina_login_failures",
    "Dashboard logins refused for a wrong email or password.",
    ("reason",),
)
RATE_LIMIT_REFUSALS = Counter(
    "hazina_rate_limit_refusals",
    "Requests refused with 429 by a limit (login, public_payment_order, public_payment_address).",
    ("limit",),
)
QUEUE_JOBS = "hazina_queue_jobs"
QUEUE_OLDEST_READY_AGE = "hazina_queue_oldest_ready_age_seconds"

# Every family name a scrape shows (counters with `_total`), for the dashboard's test and docs.
FAMILIES = (
    "hazina_http_requests_total",
    "hazina_http_request_duration_seconds",
    "hazina_jobs_total",
    "hazina_job_duration_seconds",
    "hazina_webhook_delivery_attempts_total",
    "hazina_webhook_delivery_duration_seconds",
    "hazina_inbound_notifications_total",
    "hazina_reconciliations_total",
    "hazina_login_failures_total",
    "hazina_rate_limit_refusals_total",
    QUEUE_JOBS,
    QUEUE_OLDEST_READY_AGE,
)


def count_job(kind: str, outcome: str, seconds: float) -> None:
    JOBS.labels(kind, outcome).inc()
    JOB_DURATION.labels(kind).observe(seconds)


def count_delivery_attempt(status_code: int | None, seconds: float) -> None:
    outcome = delivery_outcome(status_code)
    DELIVERY_ATTEMPTS.labels(outcome).inc()
    DELIVERY_DURATION.labels(outcome).observe(seconds)


def delivery_outcome(status_code: int | None) -> str:
    """Status classes rather than codes: a receiver chooses its codes, and each would be a
    series."""
    if status_code is None:
        return "no_response"
    if 200 <= status_code < 300:
        return "success"
    if status_code == 410:
        return "gone"
    return f"http_{min(max(status_code // 100, 1), 5)}xx"


def count_inbound(provider: str, status: str) -> None:
    INBOUND_NOTIFICATIONS.labels(provider, status).inc()


def count_reconciliation(subject: str, outcome: str) -> None:
    RECONCILIATIONS.labels(subject, outcome).inc()


def counts_reconciliations(
    subject: str,
) -> Callable[[Callable[P, Awaitable[str]]], Callable[P, Awaitable[str]]]:
    """Counts each outcome a reconciliation returns (applied, duplicate, unknown, settled…), and
    `error` when it raises (the provider unreachable), whoever calls it: a job or the CLI."""

    def decorate(reconcile: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[str]]:
        @functools.wraps(reconcile)
        async def counted(*args: P.args, **kwargs: P.kwargs) -> str:
            outcome = "error"
            try:
                outcome = await reconcile(*args, **kwargs)
                return outcome
            finally:
                count_reconciliation(subject, outcome)

        return counted

    return decorate


def count_login_failure(reason: str = "wrong_credentials") -> None:
    LOGIN_FAILURES.labels(reason).inc()


def count_rate_limit_refusal(limit: str) -> None:
    RATE_LIMIT_REFUSALS.labels(limit).inc()


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """One job kind's share of the queue, read from the database at scrape time."""

    kind: str
    ready: int
    scheduled: int
    processing: int
    # How long the oldest job that could run now has been waiting (0 when none is ready).
    oldest_ready_age_seconds: float


class _QueueCollector(Collector):
    def __init__(self, depths: Sequence[QueueDepth]) -> None:
        self._depths = depths

    def collect(self) -> Iterable[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            QUEUE_JOBS,
            "Jobs in the queue by kind and state: ready (due, unclaimed), scheduled (due "
            "later, retries included) and processing (claimed by a worker).",
            labels=("kind", "state"),
        )
        age = GaugeMetricFamily(
            QUEUE_OLDEST_READY_AGE,
            "Seconds the oldest ready job of each kind has waited to be claimed.",
            labels=("kind",),
        )
        for depth in self._depths:
            jobs.add_metric((depth.kind, "ready"), depth.ready)
            jobs.add_metric((depth.kind, "scheduled"), depth.scheduled)
            jobs.add_metric((depth.kind, "processing"), depth.processing)
            age.add_metric((depth.kind,), depth.oldest_ready_age_seconds)
        return [jobs, age]


def exposition(queue: Sequence[QueueDepth]) -> bytes:
    """The text a scrape answers: this process's (or, in multiprocess mode, every process's)
    metrics, then the queue as the database saw it a moment ago."""
    if os.environ.get(MULTIPROCESS_DIRECTORY):
        # A fresh registry per scrape: the collector reads every process's files each time.
        processes = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        own = generate_latest(processes)
    else:
        own = generate_latest(REGISTRY)
    extra = CollectorRegistry(auto_describe=False)
    extra.register(_QueueCollector(queue))
    return own + generate_latest(extra)


@contextmanager
def processes_sharing_metrics() -> Iterator[str]:
    """For a command that starts several processes: PROMETHEUS_MULTIPROC_DIR in the environment
    they inherit, so a scrape of any one sums them all.

    An operator's directory (already set, e.g. a systemd RuntimeDirectory shared with standalone
    workers) is used as it is: Hazina never empties a directory other processes may be writing.
    Otherwise a fresh temporary one, removed when the command ends.
    """
    existing = os.environ.get(MULTIPROCESS_DIRECTORY)
    if existing:
        os.makedirs(existing, exist_ok=True)
        yield existing
        return
    with tempfile.TemporaryDirectory(prefix="hazina-metrics-") as directory:
        os.environ[MULTIPROCESS_DIRECTORY] = directory
        try:
            yield directory
        finally:
            os.environ.pop(MULTIPROCESS_DIRECTORY, None)
