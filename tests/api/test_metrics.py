"""`/metrics` over HTTP through the ASGI app, on SQLite and PostgreSQL: after an end-to-end flow
(order → payment → worker settles → delivery to a sink; a provider notification; a failed login;
a rate-limited public payment) every family is there and its counters moved by what happened."""

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hazina.bootstrap import Container, start
from hazina.config import Settings
from hazina.domain.clock import utc_now
from hazina.observability.metrics import FAMILIES
from hazina.services.registry import ProviderRegistry
from hazina.testing.sink import WebhookSink
from hazina.worker import Worker
from tests.acme import DEFAULT_ACCESS, AcmeProvider, sign, webhook
from tests.conftest import AUTH, http_client, make_settings
from tests.databases import truncate_all
from tests.jobs import add_job, run_jobs_to_exhaustion
from tests.web.conftest import log_in

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"
TOKEN = "metrics-token-0123456789abcdef"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One public payment per order a minute: the second attempt is refused.
    return make_settings(database_url, public_payment_limit_per_order="1/minute")


@pytest.fixture
def hub(container: Container) -> Container:
    """The container with the tests' own provider, `acme`, as a default account."""
    registry = ProviderRegistry(
        adapters={"acme": AcmeProvider()}, defaults={"acme": DEFAULT_ACCESS}
    )
    providers = dataclasses.replace(container.providers, registry=registry)
    return dataclasses.replace(container, providers=providers)


@pytest.fixture
async def api(hub: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub, AUTH) as client:
        yield client


async def scrape(client: httpx.AsyncClient, **headers: str) -> tuple[str, Samples]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def end_to_end(api: httpx.AsyncClient, hub: Container, sink: WebhookSink) -> None:
    configured = await api.put("/api/v1/webhooks/config", json={"webhook_url": sink.url("/in")})
    assert configured.status_code == 200, configured.text
    # A sandbox payment the worker settles, whose payment.success is delivered to the sink.
    order = await api.post("/api/v1/orders", json={"amount": 50000, "currency": "INR"})
    assert order.status_code == 201, order.text
    paid = await api.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"},
    )
    assert paid.status_code == 201, paid.text
    # A provider payment and the provider's notification that it was paid.
    order = await api.post("/api/v1/orders", json={"amount": 5000, "currency": "USD"})
    at_acme = await api.post(
        "/api/v1/payments", json={"order_id": order.json()["id"], "method": "acme"}
    )
    assert at_acme.status_code == 201, at_acme.text
    body = webhook(at_acme.json()["id"], "paid", amount=5000, currency="USD")
    notified = await api.post("/hooks/acme", content=body, headers=sign(body))
    assert notified.status_code == 200, notified.text
    # Every job, the provider payment's reconciliation check included, run to the end.
    await run_jobs_to_exhaustion(Worker.from_container(hub))
    assert sink.received, "nothing was delivered"
    # A failed login and a refused public payment.
    async with http_client(hub) as visitor:
        assert (await log_in(visitor, password="not-the-password")).status_code == 401
        order = await api.post("/api/v1/orders", json={"amount": 50000, "currency": "INR"})
        attempt = {"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"}
        assert (await visitor.post("/api/v1/payments/public", json=attempt)).status_code == 201
        assert (await visitor.post("/api/v1/payments/public", json=attempt)).status_code == 429


async def test_a_scrape_after_an_end_to_end_flow_shows_every_family_and_what_moved(
    api: httpx.AsyncClient, hub: Container, sink: WebhookSink
) -> None:
    _, before = await scrape(api)
    await end_to_end(api, hub, sink)
    text, after = await scrape(api)

    families = {family.name for family in text_string_to_metric_families(text)}
    # The parser names counter families without `_total`.
    assert {name.removesuffix("_total") for name in FAMILIES} <= families

    http = "hazina_http_requests_total"
    assert moved(before, after, http, route="/api/v1/orders", method="POST", status="201") == 3
    assert moved(before, after, http, route="/login", method="POST", status="401") == 1
    # The route's template, never the raw path with its id.
    assert moved(before, after, http, route="/hooks/{provider}", method="POST") == 1
    assert not any("/hooks/acme" in dict(labels).get("route", "") for _, labels in after)
    latency = "hazina_http_request_duration_seconds_count"
    assert moved(before, after, latency, route="/api/v1/payments", method="POST") == 2

    jobs = "hazina_jobs_total"
    assert moved(before, after, jobs, kind="process_payment", outcome="completed") == 1
    assert moved(before, after, jobs, kind="deliver_webhook", outcome="completed") >= 2
    assert moved(before, after, "hazina_job_duration_seconds_count", kind="process_payment") == 1

    deliveries = "hazina_webhook_delivery_attempts_total"
    assert moved(before, after, deliveries, outcome="success") == len(sink.received)
    assert moved(
        before, after, "hazina_webhook_delivery_duration_seconds_count", outcome="success"
    ) == len(sink.received)

    inbound = "hazina_inbound_notifications_total"
    assert moved(before, after, inbound, provider="acme", status="processed") == 1
    assert moved(before, after, "hazina_reconciliations_total", subject="payment") >= 1
    assert moved(before, after, "hazina_login_failures_total") == 1
    refusals = "hazina_rate_limit_refusals_total"
    assert moved(before, after, refusals, limit="public_payment_order") == 1

    # The accepted public payment's job waits for a worker: the queue shows it, read at scrape.
    assert value(after, "hazina_queue_jobs", kind="process_payment", state="ready") == 1
    assert value(after, "hazina_queue_oldest_ready_age_seconds", kind="process_payment") >= 0


async def test_the_queue_is_read_from_the_database_at_scrape_time(
    api: httpx.AsyncClient, container: Container
) -> None:
    waiting_since = utc_now() - timedelta(seconds=90)
    await add_job(container.db, "metrics_probe", run_at=waiting_since, n=2)
    await add_job(container.db, "metrics_probe", run_at=utc_now() + timedelta(hours=1))
    _, samples = await scrape(api)
    assert value(samples, "hazina_queue_jobs", kind="metrics_probe", state="ready") == 2
    assert value(samples, "hazina_queue_jobs", kind="metrics_probe", state="scheduled") == 1
    assert value(samples, "hazina_queue_jobs", kind="metrics_probe", state="processing") == 0
    age = value(samples, "hazina_queue_oldest_ready_age_seconds", kind="metrics_probe")
    assert 90 <= age < 150


async def test_the_grafana_dashboard_uses_exactly_the_scraped_names(
    api: httpx.AsyncClient, hub: Container, sink: WebhookSink
) -> None:
    await end_to_end(api, hub, sink)
    _, samples = await scrape(api)
    scraped = {name for name, _ in samples}
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    referenced = {name for expr in expressions for name in re.findall(r"\bhazina_\w+", expr)}
    assert referenced, "the dashboard queries nothing"
    assert referenced - scraped == set()
    # …and every family appears on it.
    bare = {re.sub(r"_(bucket|sum|count)$", "", name) for name in referenced}
    assert set(FAMILIES) <= bare


@asynccontextmanager
async def app_of(database_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    container = await start(make_settings(database_url, **overrides))
    try:
        async with http_client(container) as client:
            yield client
    finally:
        await truncate_all(container.db)
        await container.close()


PRODUCTION = {"env": "production", "session_secret": "s" * 32}


async def test_production_serves_metrics_only_with_the_token(database_url: str) -> None:
    async with app_of(database_url, metrics_token=TOKEN, **PRODUCTION) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 30})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
        assert "hazina_" not in wrong.text
        await scrape(client, Authorization=f"Bearer {TOKEN}")


async def test_production_without_a_token_does_not_serve_metrics(database_url: str) -> None:
    async with app_of(database_url, **PRODUCTION) as client:
        response = await client.get("/metrics")
        assert response.status_code == 404
        assert "hazina_" not in response.text


async def test_a_token_is_required_in_development_too_once_set(database_url: str) -> None:
    async with app_of(database_url, metrics_token=TOKEN) as client:
        assert (await client.get("/metrics")).status_code == 401
        await scrape(client, Authorization=f"Bearer {TOKEN}")
