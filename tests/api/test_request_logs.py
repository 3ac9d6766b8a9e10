"""Logs an operator can follow, over HTTP through the ASGI app on SQLite and PostgreSQL: one line
per request and per job, each with the id of the request (also its X-Request-Id) or job it was
logged under, and never a secret."""

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hazina.api.app import create_app
from hazina.bootstrap import Container
from hazina.observability.logs import ContextFilter, JsonFormatter, TextFormatter
from hazina.testing.sink import WebhookSink
from hazina.worker import Worker
from tests.conftest import AUTH, TEST_SECRET
from tests.jobs import add_job, run_jobs_to_exhaustion

WEBHOOK_SECRET = "whsec_test_abc123"  # Settings' default TEST_WEBHOOK_SECRET


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG and up, stamped as the production handler stamps them."""
    stamp = ContextFilter()
    caplog.handler.addFilter(stamp)
    caplog.set_level(logging.DEBUG)
    yield caplog
    caplog.handler.removeFilter(stamp)


def json_lines(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    lines = []
    for record in records:
        text = formatter.format(record)
        assert "\n" not in text, text  # one line per record, whatever the message
        lines.append(json.loads(text))
    return lines


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [line for line in json_lines(caplog.records) if line["logger"] == "hazina.access"]


async def test_one_json_line_per_request_with_the_id_of_its_response(
    client: httpx.AsyncClient, captured: pytest.LogCaptureFixture
) -> None:
    created = await client.post("/api/v1/orders", json={"amount": 50000, "currency": "INR"})
    order_id = created.json()["id"]
    fetched = await client.get(f"/api/v1/orders/{order_id}")
    missing = await client.get("/api/v1/orders/order_nope")
    lines = access_lines(captured)
    responses = (created, fetched, missing)
    assert [line["request_id"] for line in lines] == [r.headers["x-request-id"] for r in responses]
    assert len({r.headers["x-request-id"] for r in responses}) == 3
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/api/v1/orders", 201),
        ("GET", "/api/v1/orders/{order_id}", 200),
        ("GET", "/api/v1/orders/{order_id}", 404),
    ]
    assert lines[1]["path"] == f"/api/v1/orders/{order_id}"
    assert all(line["duration_ms"] >= 0 and line["level"] == "INFO" for line in lines)


async def test_every_line_logged_while_serving_carries_the_request_id(
    container: Container, captured: pytest.LogCaptureFixture
) -> None:
    app = create_app(container)

    async def noisy() -> dict[str, str]:
        logging.getLogger("hazina.probe").warning("inside the request")
        return {"ok": "yes"}

    app.add_api_route("/probe", noisy)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hazina.test") as client:
        first = await client.get("/probe")
        second = await client.get("/probe")
    inside = [r for r in captured.records if r.getMessage() == "inside the request"]
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert [getattr(r, "request_id", None) for r in inside] == ids
    # And nothing leaks past the request: a line logged afterwards has no id.
    logging.getLogger("hazina.probe").warning("after the requests")
    assert getattr(captured.records[-1], "request_id", "unset") is None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("edge-7f3a:01.b_c", True),
        ("x" * 64, True),
        ("x" * 65, False),  # too long
        ("evil\tvalue", False),  # not in the safe charset
        ('quote"d', False),
        ("", False),
    ],
)
async def test_an_incoming_request_id_is_honoured_only_when_sane(
    client: httpx.AsyncClient, captured: pytest.LogCaptureFixture, sent: str, kept: bool
) -> None:
    response = await client.get("/livez", headers={"X-Request-Id": sent})
    echoed = response.headers["x-request-id"]
    assert (echoed == sent) is kept
    assert len(echoed) <= 64
    assert access_lines(captured)[-1]["request_id"] == echoed


async def test_a_line_logged_inside_a_job_carries_the_job_id(
    container: Container, captured: pytest.LogCaptureFixture
) -> None:
    async def echo(payload: dict[str, Any]) -> None:
        logging.getLogger("hazina.probe").info("inside job %s", payload["n"])

    worker = Worker.from_container(container)
    worker.handlers = {**worker.handlers, "echo": echo}
    [job_id] = await add_job(container.db, "echo")
    await run_jobs_to_exhaustion(worker)

    inside = [r for r in captured.records if r.getMessage() == "inside job 0"]
    assert [getattr(r, "job_id", None) for r in inside] == [job_id]
    summary = [
        line
        for line in json_lines(captured.records)
        if line["logger"] == "hazina.worker" and line.get("kind") == "echo"
    ]
    assert len(summary) == 1
    assert summary[0]["job_id"] == job_id
    assert summary[0]["outcome"] == "completed"
    assert summary[0]["attempt"] == 1
    assert "request_id" not in summary[0]


async def test_development_text_lines_carry_the_id_too(
    client: httpx.AsyncClient, captured: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/livez")
    [record] = [r for r in captured.records if r.name == "hazina.access"]
    text = TextFormatter().format(record)
    assert f"[{response.headers['x-request-id']}]" in text
    assert "GET /livez 200" in text


async def test_no_secret_reaches_a_log_line(
    client: httpx.AsyncClient,
    container: Container,
    sink: WebhookSink,
    captured: pytest.LogCaptureFixture,
) -> None:
    """API secret in every request's headers, the webhook secret in a response body and in
    every delivery's signature: neither appears in any line, JSON or text."""
    configured = await client.put("/api/v1/webhooks/config", json={"webhook_url": sink.url("/in")})
    assert configured.status_code == 200, configured.text
    config = await client.get("/api/v1/webhooks/config")
    assert config.json()["webhook_secret"] == WEBHOOK_SECRET
    order = await client.post("/api/v1/orders", json={"amount": 50000, "currency": "INR"})
    card = {"number": "4111111111111111", "expiry_month": "12", "expiry_year": "2030",
            "cvv": "123", "holder_name": "Asha"}  # fmt: skip
    paid = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "card", "card": card},
        headers={"Idempotency-Key": "logs-1"},
    )
    assert paid.status_code == 201, paid.text
    wrong = await client.get("/api/v1/payments", headers={**AUTH, "X-Api-Secret": "secret_wrong_1"})
    assert wrong.status_code == 401
    await run_jobs_to_exhaustion(Worker.from_container(container))
    assert sink.received

    assert captured.records
    text = TextFormatter()
    rendered = [text.format(r) for r in captured.records]
    rendered += [json.dumps(line) for line in json_lines(captured.records)]
    for secret in (TEST_SECRET, WEBHOOK_SECRET, "secret_wrong_1", "4111111111111111"):
        assert not [line for line in rendered if secret in line], secret
