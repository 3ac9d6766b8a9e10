"""Logging in: argon2 passwords, the session cookie, CSRF and the login throttle."""

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hazina.bootstrap import Container, start
from hazina.db.database import Database
from hazina.db.models import DashboardUser, Merchant
from hazina.services.merchants import TEST_MERCHANT_ID
from tests.conftest import http_client, make_settings
from tests.databases import sqlite_url, truncate_all
from tests.e2e.servers import Hub
from tests.web.conftest import TEST_EMAIL, TEST_PASSWORD, csrf_of, log_in


async def test_the_seeded_user_logs_in_and_lands_on_the_dashboard(
    visitor: httpx.AsyncClient,
) -> None:
    response = await log_in(visitor)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    page = await visitor.get("/dashboard")
    assert page.status_code == 200
    assert 'data-test-id="api-key">key_test_abc123<' in page.text


async def test_a_wrong_password_is_refused_with_the_same_answer_as_an_unknown_email(
    visitor: httpx.AsyncClient,
) -> None:
    wrong = await log_in(visitor, password="not-the-password")
    unknown = await log_in(visitor, email="nobody@example.com")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Invalid email or password" in response.text
    assert (await visitor.get("/dashboard")).headers["location"] == "/login?next=%2Fdashboard"


async def test_the_password_is_stored_as_an_argon2id_hash(db: Database) -> None:
    async with db.read() as session:
        stored = await session.scalar(
            select(DashboardUser.password_hash).where(DashboardUser.email == TEST_EMAIL)
        )
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert TEST_PASSWORD not in stored


async def test_emails_are_matched_whatever_their_case(visitor: httpx.AsyncClient) -> None:
    response = await log_in(visitor, email="  Test@Example.COM ")
    assert response.status_code == 303


async def test_the_session_cookie_is_httponly_and_samesite_lax(visitor: httpx.AsyncClient) -> None:
    response = await log_in(visitor)
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("hazina_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # development serves plain http


async def test_production_marks_the_session_cookie_secure(database_url: str) -> None:
    settings = make_settings(database_url, env="production", session_secret="s" * 32)
    container = await start(settings)
    try:
        async with http_client(container) as client:
            page = await client.get("/login")
        assert "; secure" in page.headers["set-cookie"].lower()
    finally:
        await truncate_all(container.db)
        await container.close()


async def test_a_login_without_the_csrf_token_is_rejected(visitor: httpx.AsyncClient) -> None:
    await visitor.get("/login")
    data = {"email": TEST_EMAIL, "password": TEST_PASSWORD}
    response = await visitor.post("/login", data=data)
    assert response.status_code == 403
    forged = await visitor.post("/login", data=data | {"csrf_token": "forged"})
    assert forged.status_code == 403
    assert (await visitor.get("/dashboard")).status_code == 303  # still logged out


async def test_logging_in_starts_a_new_session(visitor: httpx.AsyncClient) -> None:
    """Nothing from the anonymous session survives (session fixation): a new CSRF token."""
    before = csrf_of(await visitor.get("/login"))
    await log_in(visitor)
    after = csrf_of(await visitor.get("/dashboard"))
    assert before != after


async def test_logging_out_ends_the_session(dashboard: httpx.AsyncClient) -> None:
    token = csrf_of(await dashboard.get("/dashboard"))
    response = await dashboard.post("/logout", data={"csrf_token": token})
    assert response.headers["location"] == "/login"
    assert (await dashboard.get("/dashboard")).status_code == 303


async def test_logout_needs_the_csrf_token(dashboard: httpx.AsyncClient) -> None:
    assert (await dashboard.post("/logout")).status_code == 403
    assert (await dashboard.get("/dashboard")).status_code == 200


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/dashboard/webhooks", "/dashboard/webhooks"),
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard//evil.example", "/dashboard"),
    ],
)
async def test_after_login_only_dashboard_pages_are_reachable(
    visitor: httpx.AsyncClient, target: str, landing: str
) -> None:
    form = await visitor.get("/login", params={"next": target})
    data = {"email": TEST_EMAIL, "password": TEST_PASSWORD, "csrf_token": csrf_of(form)}
    data["next"] = target
    response = await visitor.post("/login", data=data)
    assert response.headers["location"] == landing


async def test_failed_logins_are_throttled_per_email_and_address(
    visitor: httpx.AsyncClient, container: Container
) -> None:
    limit = container.settings.login_max_failures
    for _ in range(limit):
        assert (await log_in(visitor, password="wrong-password")).status_code == 401
    blocked = await log_in(visitor)  # even the right password, until the window has passed
    assert blocked.status_code == 429
    assert re.search(r"Too many failed logins\. Try again in \d+ minutes?\.", blocked.text)
    # Another email from the same address is not affected.
    assert (await log_in(visitor, email="other@example.com")).status_code == 401


async def test_a_deactivated_merchant_logs_out_its_users(
    dashboard: httpx.AsyncClient, db: Database
) -> None:
    async with db.transaction() as session:
        merchant = await session.get_one(Merchant, TEST_MERCHANT_ID)
        merchant.is_active = False
    assert (await dashboard.get("/dashboard")).status_code == 303
    assert (await log_in(dashboard)).status_code == 401


async def test_every_dashboard_page_needs_a_login(visitor: httpx.AsyncClient) -> None:
    for path in (
        "/dashboard",
        "/dashboard/transactions",
        "/dashboard/transactions/pay_anything",
        "/dashboard/webhooks",
        "/dashboard/docs",
    ):
        response = await visitor.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    for path in ("/dashboard/roll-secret", "/dashboard/webhooks", "/dashboard/webhooks/test"):
        assert (await visitor.post(path)).status_code == 303, path


@pytest.mark.slow
async def test_hazina_serve_refuses_production_without_a_session_secret(tmp_path: Path) -> None:
    hub = Hub(tmp_path, sqlite_url(tmp_path))
    code, output = await hub.run("serve", "--port", "1", HAZINA_ENV="production")
    assert code == 1
    assert "invalid configuration: HAZINA_SESSION_SECRET is required in production" in output
