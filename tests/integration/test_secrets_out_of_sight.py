"""Secrets stay out of what Hazina writes for people to read: start-up logs and audit rows."""

import logging

import httpx
import pytest
from sqlalchemy.engine import make_url

from hazina.bootstrap import start
from tests.conftest import TEST_MASTER_KEYS, make_settings

SESSION_SECRET = "session-secret-for-the-log-test-0123456789"
DB_PASSWORD = "db-password-never-logged"


async def test_a_start_up_logs_no_secret(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        # Trust authentication ignores the password; it is there to be leaked, or not.
        database_url = url.set(password=DB_PASSWORD).render_as_string(hide_password=False)
    settings = make_settings(database_url, session_secret=SESSION_SECRET)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("hazina").info("settings: %r", settings)
        container = await start(settings)
        await container.close()
    assert caplog.records  # the start-up did log
    for secret in (DB_PASSWORD, SESSION_SECRET, TEST_MASTER_KEYS, TEST_MASTER_KEYS.split(":")[1]):
        assert secret not in caplog.text


async def test_audit_rows_mask_credentials_in_webhook_urls(client: httpx.AsyncClient) -> None:
    url = "https://hooks:hunter2@shop.example/hazina?token=tok_live_123&page=2"
    assert (
        await client.put("/api/v1/webhooks/config", json={"webhook_url": url})
    ).status_code == 200
    created = await client.post(
        "/api/v1/webhook-endpoints", json={"url": "https://shop.example/h?api_key=k_987"}
    )
    assert created.status_code == 201, created.text
    rows = (await client.get("/api/v1/audit-logs")).json()["data"]
    urls = [row["details"]["url"] for row in rows if row["details"] and "url" in row["details"]]
    assert "https://hooks:***@shop.example/hazina?token=***&page=2" in urls
    assert "https://shop.example/h?api_key=***" in urls
    assert not any(secret in str(rows) for secret in ("hunter2", "tok_live_123", "k_987"))
