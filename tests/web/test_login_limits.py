"""Logins under parallel attack and across processes: attempts counted by the rate limiter
before the password is checked (in each process, or in Redis every process shares), per address
whatever the email, a right password clearing its email's failures, argon2 under a concurrency
cap; logging out or a new password ends every session."""

import asyncio
import secrets
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from argon2 import PasswordHasher

from hazina.api.app import create_app
from hazina.bootstrap import Container, start
from hazina.config import Settings
from tests.conftest import make_settings
from tests.redis_server import REDIS_URL, require_redis
from tests.web.conftest import TEST_EMAIL, TEST_PASSWORD, csrf_of, log_in

PER_PAIR = 5
PER_ADDRESS = 8
CAP = 2
WRONG = "wrong-password"

Connect = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        login_max_failures=PER_PAIR,
        login_max_failures_per_address=PER_ADDRESS,
        password_check_concurrency=CAP,
    )


def new_address() -> str:
    """Every test its own client address, so counters kept in a shared Redis never meet."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


def connector(container: Container) -> Connect:
    """Cookie-keeping clients of one app instance, each from the client address it is given."""
    app = create_app(container)

    @asynccontextmanager
    async def connect(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hazina.test") as client:
            yield client

    return connect


@pytest.fixture
def connect(container: Container) -> Connect:
    return connector(container)


class Verifications:
    """Every argon2 verification in this process: how many, and the most at once."""

    def __init__(self) -> None:
        self.count = 0
        self.peak = 0
        self._inside = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            self.count += 1
            self._inside += 1
            self.peak = max(self.peak, self._inside)

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Verifications:
    seen = Verifications()
    verify = PasswordHasher.verify

    def counted(hasher: PasswordHasher, password_hash: str | bytes, password: str | bytes) -> bool:
        seen.enter()
        try:
            return verify(hasher, password_hash, password)
        finally:
            seen.leave()

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    return seen


async def test_fifty_wrong_passwords_at_once_run_at_most_the_limit_of_checks(
    connect: Connect, verifications: Verifications
) -> None:
    async with connect(new_address()) as attacker:
        token = csrf_of(await attacker.get("/login"))
        data = {"email": TEST_EMAIL, "password": WRONG, "csrf_token": token}
        responses = await asyncio.gather(*(attacker.post("/login", data=data) for _ in range(50)))
    assert verifications.count == PER_PAIR
    assert Counter(response.status_code for response in responses) == {
        401: PER_PAIR,
        429: 50 - PER_PAIR,
    }
    refused = next(response for response in responses if response.status_code == 429)
    assert "Too many failed logins. Try again in 15 minutes." in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 900


async def test_one_address_is_limited_whatever_the_email(connect: Connect) -> None:
    address = new_address()
    async with connect(address) as attacker:
        for n in range(PER_ADDRESS):
            response = await log_in(attacker, email=f"user{n}@example.com", password=WRONG)
            assert response.status_code == 401
        # An email never tried from here, even with its right password.
        assert (await log_in(attacker, email="fresh@example.com")).status_code == 429
        assert (await log_in(attacker)).status_code == 429
    async with connect(new_address()) as neighbour:
        assert (await log_in(neighbour)).status_code == 303


async def test_the_attempt_after_the_limit_is_refused_before_its_password_is_checked(
    connect: Connect, verifications: Verifications
) -> None:
    async with connect(new_address()) as attacker:
        for _ in range(PER_PAIR):
            assert (await log_in(attacker, password=WRONG)).status_code == 401
        assert verifications.count == PER_PAIR
        # The right password is refused too: argon2 never ran to find out it was right.
        refused = await log_in(attacker)
        assert refused.status_code == 429
        assert 'data-test-id="login-form"' in refused.text
        assert "Too many failed logins" in refused.text
        assert verifications.count == PER_PAIR


async def test_a_right_password_clears_its_email_failures_but_not_its_address(
    connect: Connect,
) -> None:
    async with connect(new_address()) as visitor:
        for _ in range(PER_PAIR - 1):
            assert (await log_in(visitor, password=WRONG)).status_code == 401
        assert (await log_in(visitor)).status_code == 303
        visitor.cookies.clear()
        # Uncleared, the pair's window would be full after the first of these.
        for _ in range(PER_ADDRESS - PER_PAIR - 1):
            assert (await log_in(visitor, password=WRONG)).status_code == 401
        assert (await log_in(visitor)).status_code == 303
        visitor.cookies.clear()
        # Successes count in the address's window: it bounds every attempt from one client.
        assert (await log_in(visitor)).status_code == 429


async def _refused_across(first: Container, second: Container) -> None:
    """Failures spread over two app instances add up: both refuse once the limit is reached."""
    address = new_address()
    async with connector(first)(address) as one, connector(second)(address) as two:
        for n in range(PER_PAIR):
            assert (await log_in((one, two)[n % 2], password=WRONG)).status_code == 401
        assert (await log_in(one)).status_code == 429
        assert (await log_in(two)).status_code == 429


async def test_two_app_instances_share_the_counts_through_redis(settings: Settings) -> None:
    await require_redis()
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    first, second = await start(shared), await start(shared)
    try:
        await _refused_across(first, second)
    finally:
        await second.close()
        await first.close()


async def test_without_redis_each_app_instance_counts_alone(
    container: Container, settings: Settings
) -> None:
    other = await start(settings)
    address = new_address()
    try:
        async with connector(container)(address) as one, connector(other)(address) as two:
            for _ in range(PER_PAIR):
                assert (await log_in(one, password=WRONG)).status_code == 401
            assert (await log_in(one)).status_code == 429
            assert (await log_in(two)).status_code == 303
    finally:
        await other.close()


async def test_argon2_checks_run_under_the_concurrency_cap(
    connect: Connect, verifications: Verifications
) -> None:
    async def attempt() -> int:
        async with connect(new_address()) as visitor:
            return (await log_in(visitor, password=WRONG)).status_code

    statuses = await asyncio.gather(*(attempt() for _ in range(16)))
    assert statuses == [401] * 16
    assert verifications.count == 16
    assert verifications.peak == CAP  # reached, never passed


async def test_a_session_copied_before_logout_is_refused_after_it(connect: Connect) -> None:
    async with connect(new_address()) as owner:
        assert (await log_in(owner)).status_code == 303
        copied = dict(owner.cookies)
        token = csrf_of(await owner.get("/dashboard"))
        assert (await owner.post("/logout", data={"csrf_token": token})).status_code == 303
    async with connect(new_address()) as thief:
        thief.cookies.update(copied)
        replayed = await thief.get("/dashboard")
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/login")


async def test_logging_out_ends_every_session_of_the_user(connect: Connect) -> None:
    async with connect(new_address()) as laptop, connect(new_address()) as phone:
        for device in (laptop, phone):
            assert (await log_in(device)).status_code == 303
        token = csrf_of(await laptop.get("/dashboard"))
        await laptop.post("/logout", data={"csrf_token": token})
        assert (await phone.get("/dashboard")).status_code == 303
        assert (await log_in(phone)).status_code == 303  # a new login works as before
        assert (await phone.get("/dashboard")).status_code == 200


async def _change_password(
    client: httpx.AsyncClient, current: str, new: str, confirm: str | None = None
) -> httpx.Response:
    token = csrf_of(await client.get("/dashboard/password"))
    data = {
        "csrf_token": token,
        "current_password": current,
        "new_password": new,
        "confirm_password": new if confirm is None else confirm,
    }
    return await client.post("/dashboard/password", data=data)


async def test_a_password_change_ends_the_other_sessions(connect: Connect) -> None:
    new = "a-brand-new-password"
    async with connect(new_address()) as laptop, connect(new_address()) as phone:
        for device in (laptop, phone):
            assert (await log_in(device)).status_code == 303
        changed = await _change_password(laptop, TEST_PASSWORD, new)
        assert changed.headers["location"] == "/dashboard/password"
        assert (
            "every other session has been logged out"
            in (await laptop.get(changed.headers["location"])).text
        )
        assert (await laptop.get("/dashboard")).status_code == 200  # the one that asked stays
        assert (await phone.get("/dashboard")).status_code == 303
        assert (await log_in(phone)).status_code == 401
        assert (await log_in(phone, password=new)).status_code == 303


async def test_a_password_change_needs_the_current_password_and_the_csrf_token(
    connect: Connect,
) -> None:
    async with connect(new_address()) as laptop, connect(new_address()) as phone:
        for device in (laptop, phone):
            assert (await log_in(device)).status_code == 303
        wrong = await _change_password(laptop, WRONG, "a-brand-new-password")
        assert wrong.status_code == 401
        assert "The current password is not right" in wrong.text
        differ = await _change_password(laptop, TEST_PASSWORD, "a-brand-new-password", "other")
        assert differ.status_code == 400
        short = await _change_password(laptop, TEST_PASSWORD, "short")
        assert short.status_code == 400
        forged = await laptop.post(
            "/dashboard/password",
            data={"current_password": TEST_PASSWORD, "new_password": "x" * 12},
        )
        assert forged.status_code == 403
        assert (await phone.get("/dashboard")).status_code == 200  # nothing changed
    async with connect(new_address()) as visitor:
        assert (await log_in(visitor)).status_code == 303
