"""The pages over HTTP through the ASGI app, on SQLite and PostgreSQL (the `container` fixture)."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from hazina.bootstrap import Container
from tests.conftest import http_client

TEST_EMAIL = "test@example.com"
TEST_PASSWORD = "test_password_xyz789"  # Settings' default TEST_MERCHANT_PASSWORD
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


async def log_in(
    client: httpx.AsyncClient, email: str = TEST_EMAIL, password: str = TEST_PASSWORD
) -> httpx.Response:
    """Submit the login form as a visitor would: GET it (cookie + token), then POST it."""
    form = await client.get("/login")
    data = {"email": email, "password": password, "csrf_token": csrf_of(form)}
    return await client.post("/login", data=data)


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Post a form of `page` with the CSRF token the page carries."""
    token = csrf_of(await client.get(page))
    return await client.post(action, data={"csrf_token": token, **(data or {})})


@pytest.fixture
async def visitor(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client without API credentials, not logged in."""
    async with http_client(container) as client:
        yield client


@pytest.fixture
async def dashboard(visitor: httpx.AsyncClient) -> httpx.AsyncClient:
    """Logged in as the seeded test merchant's user."""
    response = await log_in(visitor)
    assert response.status_code == 303, response.text
    return visitor
