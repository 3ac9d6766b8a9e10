"""The webhook API: config, secrets, test events, logs, retry, recovery, endpoints, events."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hazina.bootstrap import Container
from hazina.db.models import AuditLog, Job, WebhookLog
from hazina.domain.clock import iso_z, utc_now
from tests.envelopes import assert_error
from tests.factories import other_merchant_headers, pending_payment

HOOK = "http://127.0.0.1:9/hook"
LOG_ITEM_KEYS = {
    "id",
    "event",
    "status",
    "attempts",
    "created_at",
    "last_attempt_at",
    "response_code",
    "endpoint_id",
}


async def configure(client: httpx.AsyncClient, url: str = HOOK) -> dict[str, Any]:
    response = await client.put("/api/v1/webhooks/config", json={"webhook_url": url})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def logs(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/webhooks", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def delivery_jobs(container: Container) -> int:
    async with container.db.read() as session:
        jobs = await session.scalars(select(Job).where(Job.kind == "deliver_webhook"))
        return len(list(jobs))


async def test_seeded_config_has_the_contract_secret_and_no_url(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/webhooks/config")
    assert response.json() == {"webhook_url": None, "webhook_secret": "whsec_test_abc123"}


async def test_without_a_url_payments_process_and_nothing_is_delivered(
    client: httpx.AsyncClient, container: Container
) -> None:
    await pending_payment(client)
    assert (await logs(client))["total"] == 0
    assert await delivery_jobs(container) == 0
    events = (await client.get("/api/v1/events")).json()
    assert {event["type"] for event in events["data"]} == {"payment.created", "payment.pending"}


async def test_configured_url_gets_one_delivery_per_event_with_its_exact_payload(
    client: httpx.AsyncClient, container: Container
) -> None:
    config = await configure(client)
    assert config == {"webhook_url": HOOK, "webhook_secret": "whsec_test_abc123"}
    assert (await client.get("/api/v1/webhooks/config")).json() == config

    payment = await pending_payment(client)
    page = await logs(client)
    assert page["total"] == 2
    assert page["limit"] == 10
    assert page["offset"] == 0
    assert {item["event"] for item in page["data"]} == {"payment.created", "payment.pending"}
    for item in page["data"]:
        assert set(item) == LOG_ITEM_KEYS
        assert item["status"] == "pending"
        assert item["attempts"] == 0
        assert item["last_attempt_at"] is None
        assert item["response_code"] is None
        detail = (await client.get(f"/api/v1/webhooks/{item['id']}")).json()
        event = (await client.get(f"/api/v1/events/{detail['event_id']}")).json()
        assert detail["payload"] == event["payload"]
        assert detail["payload"]["event"] == item["event"]
        assert detail["payload"]["data"]["payment"]["id"] == payment["id"]
        assert isinstance(detail["payload"]["timestamp"], int)
        assert detail["attempt_log"] == []
    assert await delivery_jobs(container) == 2


async def test_config_validation(client: httpx.AsyncClient) -> None:
    bad = await client.put("/api/v1/webhooks/config", json={"webhook_url": "ftp://x"})
    assert_error(bad, 400, "BAD_REQUEST_ERROR", "webhook_url must be an absolute http or https URL")
    await configure(client)
    cleared = await client.put("/api/v1/webhooks/config", json={"webhook_url": None})
    assert cleared.json()["webhook_url"] is None
    unauthenticated = await client.get("/api/v1/webhooks/config", headers={"X-Api-Secret": "x"})
    assert_error(unauthenticated, 401, "AUTHENTICATION_ERROR", "Invalid API credentials")


async def test_regenerate_secret_keeps_the_old_one_for_a_day_and_audits_without_secrets(
    client: httpx.AsyncClient, container: Container
) -> None:
    response = await client.post("/api/v1/webhooks/regenerate-secret")
    assert response.status_code == 200
    secret = response.json()["webhook_secret"]
    assert secret.startswith("whsec_")
    assert secret != "whsec_test_abc123"
    assert (await client.get("/api/v1/webhooks/config")).json()["webhook_secret"] == secret

    endpoint = (await client.get("/api/v1/webhook-endpoints")).json()["data"][0]
    assert endpoint["is_primary"]
    assert endpoint["secret"] == f"whsec_…{secret[-4:]}"
    async with container.db.read() as session:
        audits = list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action == "webhook_secret.regenerated")
            )
        )
    assert len(audits) == 1
    recorded = repr(audits[0].details)
    assert secret not in recorded
    assert "whsec_test_abc123" not in recorded


async def test_test_event_is_delivered_like_any_other(client: httpx.AsyncClient) -> None:
    idle = await client.post("/api/v1/webhooks/test")
    assert idle.status_code == 200
    assert idle.json()["deliveries"] == 0
    await configure(client)
    sent = (await client.post("/api/v1/webhooks/test")).json()
    assert sent["event"] == "webhook.test"
    assert sent["deliveries"] == 1
    event = (await client.get(f"/api/v1/events/{sent['event_id']}")).json()
    assert event["type"] == "webhook.test"
    assert event["payload"]["event"] == "webhook.test"
    items = (await logs(client, event="webhook.test"))["data"]
    assert len(items) == 1
    assert items[0]["status"] == "pending"


async def test_retry_resets_attempts_and_enqueues(
    client: httpx.AsyncClient, container: Container
) -> None:
    await configure(client)
    await client.post("/api/v1/webhooks/test")
    item = (await logs(client))["data"][0]
    async with container.db.transaction() as session:
        await session.execute(
            update(WebhookLog)
            .where(WebhookLog.id == uuid.UUID(item["id"]))
            .values(status="failed", attempts=5, response_code=500)
        )
    jobs_before = await delivery_jobs(container)

    response = await client.post(f"/api/v1/webhooks/{item['id']}/retry")
    assert response.status_code == 200
    assert response.json() == {
        "id": item["id"],
        "status": "pending",
        "message": "Webhook retry scheduled",
    }
    after = (await client.get(f"/api/v1/webhooks/{item['id']}")).json()
    assert after["status"] == "pending"
    assert after["attempts"] == 0
    assert await delivery_jobs(container) == jobs_before + 1


async def test_recover_reenqueues_failed_deliveries_since(
    client: httpx.AsyncClient, container: Container
) -> None:
    await configure(client)
    for _ in range(3):
        await client.post("/api/v1/webhooks/test")
    items = (await logs(client))["data"]
    old, *recent = items
    async with container.db.transaction() as session:
        await session.execute(update(WebhookLog).values(status="failed", attempts=5))
        await session.execute(
            update(WebhookLog)
            .where(WebhookLog.id == uuid.UUID(old["id"]))
            .values(created_at=utc_now() - timedelta(days=2))
        )
    since = iso_z(utc_now() - timedelta(hours=1))
    response = await client.post("/api/v1/webhooks/recover", json={"since": since})
    assert response.status_code == 200
    assert response.json()["recovered"] == 2
    statuses = {item["id"]: item["status"] for item in (await logs(client))["data"]}
    assert statuses[old["id"]] == "failed"
    assert all(statuses[item["id"]] == "pending" for item in recent)
    bad = await client.post("/api/v1/webhooks/recover", json={"since": "yesterday"})
    assert bad.status_code == 400
    # Found by the fuzz test: a time before year 1 once it is in UTC is before every delivery.
    earliest = await client.post(
        "/api/v1/webhooks/recover", json={"since": "0001-01-01T00:01:00+01:00"}
    )
    assert earliest.status_code == 200, earliest.text
    assert earliest.json()["recovered"] == 1


async def test_list_filters_and_pagination(client: httpx.AsyncClient) -> None:
    await configure(client)
    created = await client.post(
        "/api/v1/webhook-endpoints", json={"url": HOOK + "2", "event_types": ["webhook.test"]}
    )
    second = created.json()["id"]
    await pending_payment(client)  # 2 events, primary only
    await client.post("/api/v1/webhooks/test")  # 1 event, both endpoints

    assert (await logs(client))["total"] == 4
    assert (await logs(client, endpoint_id=second))["total"] == 1
    assert (await logs(client, event="webhook.test"))["total"] == 2
    assert (await logs(client, status="pending"))["total"] == 4
    assert (await logs(client, status="success"))["total"] == 0
    page = await logs(client, limit=3, offset=3)
    assert len(page["data"]) == 1
    assert page["limit"] == 3
    assert page["offset"] == 3
    assert (await client.get("/api/v1/webhooks", params={"limit": 0})).status_code == 400


async def test_endpoints_crud(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/webhook-endpoints",
        json={"url": "http://localhost:4000/webhook", "event_types": ["payment.success"]},
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["id"].startswith("we_")
    assert endpoint["secret"].startswith("whsec_")
    assert len(endpoint["secret"]) > 40  # shown in full, once
    assert endpoint["event_types"] == ["payment.success"]
    assert endpoint["enabled"]

    shown = (await client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}")).json()
    assert shown["secret"] == f"whsec_…{endpoint['secret'][-4:]}"
    listed = (await client.get("/api/v1/webhook-endpoints")).json()
    assert listed["total"] == 2
    assert set(listed) == {"data", "total", "limit", "offset"}

    patched = await client.patch(
        f"/api/v1/webhook-endpoints/{endpoint['id']}",
        json={"enabled": False, "event_types": None},
    )
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False
    assert patched.json()["event_types"] is None
    assert patched.json()["disabled_reason"] == "disabled by the merchant"

    rotated = await client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/regenerate-secret")
    assert rotated.json()["secret"] != endpoint["secret"]

    deleted = await client.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}")
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}")
    assert_error(gone, 404, "NOT_FOUND_ERROR", "Webhook endpoint not found")

    primary = listed["data"][0]
    assert primary["is_primary"]
    refused = await client.delete(f"/api/v1/webhook-endpoints/{primary['id']}")
    assert refused.status_code == 400


async def test_endpoint_validation_and_idempotent_create(client: httpx.AsyncClient) -> None:
    unknown = await client.post(
        "/api/v1/webhook-endpoints", json={"url": HOOK, "event_types": ["payment.nope"]}
    )
    assert_error(unknown, 400, "BAD_REQUEST_ERROR", "unknown event types: payment.nope")
    missing = await client.post("/api/v1/webhook-endpoints", json={})
    assert missing.status_code == 400
    headers = {"Idempotency-Key": "endpoint-1"}
    first = await client.post("/api/v1/webhook-endpoints", json={"url": HOOK}, headers=headers)
    again = await client.post("/api/v1/webhook-endpoints", json={"url": HOOK}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert (await client.get("/api/v1/webhook-endpoints")).json()["total"] == 2


async def test_disabled_and_filtered_endpoints_get_no_deliveries(
    client: httpx.AsyncClient,
) -> None:
    off = await client.post("/api/v1/webhook-endpoints", json={"url": HOOK, "enabled": False})
    only_refunds = await client.post(
        "/api/v1/webhook-endpoints", json={"url": HOOK, "event_types": ["refund.processed"]}
    )
    assert off.status_code == only_refunds.status_code == 201
    await pending_payment(client)
    assert (await logs(client))["total"] == 0


async def test_events_list_filter_and_get(client: httpx.AsyncClient) -> None:
    payment = await pending_payment(client)
    page = (await client.get("/api/v1/events", params={"type": "payment.pending"})).json()
    assert page["total"] == 1
    event = page["data"][0]
    assert event["id"].startswith("evt_")
    assert event["resource_id"] == payment["id"]
    assert event["livemode"] is False
    assert set(event["payload"]) == {"event", "timestamp", "livemode", "data"}
    assert event["payload"]["livemode"] is False
    assert (await client.get("/api/v1/events")).json()["total"] == 2
    missing = await client.get("/api/v1/events/evt_nope")
    assert_error(missing, 404, "NOT_FOUND_ERROR", "Event not found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/webhooks/{delivery}"),
        ("POST", "/api/v1/webhooks/{delivery}/retry"),
        ("GET", "/api/v1/webhook-endpoints/{endpoint}"),
        ("PATCH", "/api/v1/webhook-endpoints/{endpoint}"),
        ("DELETE", "/api/v1/webhook-endpoints/{endpoint}"),
        ("POST", "/api/v1/webhook-endpoints/{endpoint}/regenerate-secret"),
        ("GET", "/api/v1/events/{event}"),
    ],
)
async def test_another_merchant_sees_nothing(
    client: httpx.AsyncClient, container: Container, method: str, path: str
) -> None:
    await configure(client)
    sent = (await client.post("/api/v1/webhooks/test")).json()
    delivery = (await logs(client))["data"][0]
    ids = {
        "delivery": delivery["id"],
        "endpoint": delivery["endpoint_id"],
        "event": sent["event_id"],
    }
    other = await other_merchant_headers(container)

    response = await client.request(method, path.format(**ids), headers=other, json={})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    for listing in ("/api/v1/webhooks", "/api/v1/events"):
        assert (await client.get(listing, headers=other)).json()["total"] == 0
    recovered = await client.post(
        "/api/v1/webhooks/recover", headers=other, json={"since": "2000-01-01T00:00:00Z"}
    )
    assert recovered.json()["recovered"] == 0
    # The other merchant's config is its own primary endpoint, with its own secret.
    config = (await client.get("/api/v1/webhooks/config", headers=other)).json()
    assert config["webhook_url"] is None
    assert config["webhook_secret"] != "whsec_test_abc123"


async def test_unknown_delivery_is_not_found(client: httpx.AsyncClient) -> None:
    for webhook_id in ("not-a-uuid", str(uuid.uuid4())):
        response = await client.get(f"/api/v1/webhooks/{webhook_id}")
        assert_error(response, 404, "NOT_FOUND_ERROR", "Webhook not found")
        retry = await client.post(f"/api/v1/webhooks/{webhook_id}/retry")
        assert_error(retry, 404, "NOT_FOUND_ERROR", "Webhook not found")
