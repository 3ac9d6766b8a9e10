"""Bounded input: body caps before reading, nesting, NUL, notes, list ranges, rejected samples."""

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator, MutableMapping, Sequence
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute

from hazina.api.app import create_app
from hazina.bootstrap import Container
from hazina.db.models import InboundEvent
from hazina.services.registry import ProviderRegistry
from tests.acme import DEFAULT_ACCESS, AcmeProvider, sign
from tests.conftest import AUTH, http_client
from tests.envelopes import assert_error
from tests.factories import pending_payment
from tests.web.conftest import log_in, post_form

MIB = 1024 * 1024
TOO_LARGE_API = "Request body too large: at most 1048576 bytes"
TOO_LARGE_HOOK = "Request body too large: at most 262144 bytes"


def nested(depth: int) -> Any:
    """A JSON value whose containers nest `depth` levels (itself the first)."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


async def test_a_body_announced_too_large_is_refused_without_reading_it(
    container: Container,
) -> None:
    app = create_app(container)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/orders",
        "raw_path": b"/api/v1/orders",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", str(10**9).encode()), *_auth_headers()],
        "client": ("127.0.0.1", 1),
        "server": ("hazina.test", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body == {"error": {"code": "BAD_REQUEST_ERROR", "description": TOO_LARGE_API}}


def _auth_headers() -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode()) for name, value in AUTH.items()]


async def test_api_bodies_are_capped_at_one_mib(client: httpx.AsyncClient) -> None:
    filler = "x" * (MIB - 100)
    just_under = await client.post("/api/v1/orders", json={"amount": 100, "filler": filler})
    assert just_under.status_code == 201, just_under.text
    over = await client.post("/api/v1/orders", content=b" " * (MIB + 1))
    assert_error(over, 413, "BAD_REQUEST_ERROR", TOO_LARGE_API)


async def test_a_chunked_body_is_refused_while_it_streams(client: httpx.AsyncClient) -> None:
    chunks_sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        for _ in range(64):  # 4 MiB in all, without a Content-Length
            chunks_sent += 1
            yield b" " * (64 * 1024)

    response = await client.post(
        "/api/v1/orders", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "BAD_REQUEST_ERROR", TOO_LARGE_API)
    assert chunks_sent <= 17  # stopped just past 1 MiB, not after the whole body


@pytest.fixture
def hub(container: Container) -> Container:
    """The container with the tests' own provider, `acme`, as a default account."""
    registry = ProviderRegistry(
        adapters={"acme": AcmeProvider()}, defaults={"acme": DEFAULT_ACCESS}
    )
    providers = dataclasses.replace(container.providers, registry=registry)
    return dataclasses.replace(container, providers=providers)


async def test_provider_hook_bodies_are_capped_at_256_kib(hub: Container) -> None:
    async with http_client(hub) as provider:
        over = await provider.post("/hooks/acme", content=b"{" * (256 * 1024 + 1))
        assert_error(over, 413, "BAD_REQUEST_ERROR", TOO_LARGE_HOOK)
        at_cap = await provider.post("/hooks/acme", content=b"{" * (256 * 1024))
        assert at_cap.status_code == 400  # read, and rejected for its signature


async def test_json_nested_deeper_than_32_levels_is_refused(client: httpx.AsyncClient) -> None:
    at_limit = await client.post("/api/v1/orders", json={"amount": 100, "x": nested(31)})
    assert at_limit.status_code == 201, at_limit.text  # the body object is level 1
    too_deep = await client.post("/api/v1/orders", json={"amount": 100, "x": nested(32)})
    assert_error(
        too_deep, 400, "BAD_REQUEST_ERROR", "Value error, Request body nests deeper than 32 levels"
    )
    past_the_parser = '{"amount": 100, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = await client.post(
        "/api/v1/orders", content=past_the_parser, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


async def test_a_hook_body_nested_past_the_parser_is_rejected_not_a_crash(
    hub: Container,
) -> None:
    body = ("[" * 100_000 + "]" * 100_000).encode()
    async with http_client(hub) as provider:
        response = await provider.post("/hooks/acme", content=body, headers=sign(body))
    assert response.status_code == 400
    assert response.json()["status"] == "rejected"


NUL = "a\x00b"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/orders", {"amount": 100, "notes": {"k": NUL}}),
        ("POST", "/api/v1/orders", {"amount": 100, "notes": {NUL: "v"}}),
        ("POST", "/api/v1/orders", {"amount": 100, "notes": {"k": ["x", {"y": NUL}]}}),
        ("POST", "/api/v1/webhook-endpoints", {"url": f"https://example.com/{NUL}"}),
        ("PUT", "/api/v1/webhooks/config", {"webhook_url": f"https://example.com/{NUL}"}),
        ("PUT", "/api/v1/provider-accounts/stripe", {"credentials": {"secret_key": NUL}}),
        ("GET", "/api/v1/payments/pay_%00", None),
        ("GET", "/api/v1/orders/order_a%00b", None),
        ("GET", "/api/v1/events?type=%00", None),
        ("GET", "/api/v1/webhooks?status=a%00", None),
    ],
)
async def test_nul_characters_are_refused_anywhere(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


async def test_nul_characters_are_refused_in_a_refund_reason(client: httpx.AsyncClient) -> None:
    payment = await pending_payment(client)
    response = await client.post(
        f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 100, "reason": NUL}
    )
    assert_error(
        response, 400, "BAD_REQUEST_ERROR", "reason: Value error, must not contain NUL characters"
    )


async def test_nul_characters_are_refused_in_dashboard_forms(container: Container) -> None:
    async with http_client(container) as visitor:
        assert (await log_in(visitor)).status_code == 303
        response = await post_form(
            visitor, "/dashboard/webhooks", "/dashboard/webhooks", {"webhook_url": NUL}
        )
    assert_error(response, 400, "BAD_REQUEST_ERROR", "Form fields must not contain NUL characters")


@pytest.mark.parametrize(
    ("notes", "problem"),
    [
        ({f"k{i}": "v" for i in range(16)}, "at most 15 keys"),
        ({"k" * 41: "v"}, "keys must be at most 40 characters"),
        ({"k": "v" * 257}, "values must be at most 256 characters"),
        ({"k": ["v" * 250, "w" * 10]}, "values must be at most 256 characters"),
    ],
)
async def test_notes_beyond_their_limits_are_refused(
    client: httpx.AsyncClient, notes: dict[str, Any], problem: str
) -> None:
    response = await client.post("/api/v1/orders", json={"amount": 100, "notes": notes})
    assert_error(response, 400, "BAD_REQUEST_ERROR", f"notes: Value error, {problem}")


async def test_notes_at_their_limits_are_kept(client: httpx.AsyncClient) -> None:
    notes: dict[str, Any] = {f"{i:02d}" + "k" * 38: "v" * 256 for i in range(15)}
    notes["00" + "k" * 38] = ["é" * 250]  # counted in characters, as compact JSON
    response = await client.post("/api/v1/orders", json={"amount": 100, "notes": notes})
    assert response.status_code == 201, response.text
    assert response.json()["notes"] == notes


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)  # an included router (FastAPI ≥ 0.160)
        if inner is not None:
            yield from _api_routes(inner.routes)


def _list_paths(container: Container) -> list[str]:
    """Every GET route taking `offset` (API and pages), from the route table."""
    return [
        route.path.replace("{payment_id}", "pay_none")
        for route in _api_routes(create_app(container).routes)
        if "GET" in (route.methods or ())
        and any(param.name == "offset" for param in route.dependant.query_params)
    ]


OUT_OF_RANGE = [
    "offset=-1",
    f"offset={2**63}",
    f"offset={10**30}",
    "offset=x",
    "limit=0",
    "limit=101",
    f"limit={2**64}",
]


async def test_list_ranges_outside_their_bounds_are_400s(container: Container) -> None:
    paths = _list_paths(container)
    assert {"/api/v1/payments", "/dashboard/transactions", "/dashboard/webhooks"} <= set(paths)
    async with http_client(container, AUTH) as browser:
        assert (await log_in(browser)).status_code == 303
        for path in paths:
            for query in OUT_OF_RANGE:
                if query.startswith("limit") and path.startswith("/dashboard"):
                    continue  # pages have a fixed page size
                response = await browser.get(f"{path}?{query}")
                assert response.status_code == 400, (path, query, response.text)
                assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
            # The largest offset each accepts is answered, never a database error.
            largest = await browser.get(f"{path}?offset={2**31}")
            assert largest.status_code in (200, 404), (path, largest.text)


async def _rejected_rows(container: Container) -> list[InboundEvent]:
    async with container.db.read() as session:
        return list(await session.scalars(select(InboundEvent)))


async def test_rejected_hook_bodies_are_kept_only_as_a_bounded_sample(hub: Container) -> None:
    big = b"{" + b"x" * 10_000
    flooder = httpx.ASGITransport(app=create_app(hub), client=("203.0.113.7", 4000))
    async with httpx.AsyncClient(transport=flooder, base_url="http://hazina.test") as attacker:
        answers = [(await attacker.post("/hooks/acme", content=big)).status_code for _ in range(25)]
    assert answers == [400] * 25  # the answer never changes
    async with http_client(hub) as provider:  # another address still leaves its sample
        assert (await provider.post("/hooks/acme", content=b"not json")).status_code == 400
    rows = await _rejected_rows(hub)
    assert len(rows) == 11  # HAZINA_REJECTED_HOOK_SAMPLES_PER_ADDRESS: 10/minute
    assert {row.status for row in rows} == {"rejected"}
    assert max(len(row.body) for row in rows) == 4096
    assert hub.rejected_hook_samples.dropped == 15
