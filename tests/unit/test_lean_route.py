"""A LeanRoute answers exactly as FastAPI's own route for the same endpoint, errors included."""

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message, Scope

from hazina.api.errors import install_error_handlers
from hazina.api.lean_route import LeanRoute
from hazina.api.responses import json_body
from hazina.api.schemas import Body, Text
from hazina.domain.errors import NotFound


class Thing(Body):
    amount: int
    label: Text = "x"


async def caller(request: Request) -> str:
    if request.headers.get("x-who") is None:
        raise NotFound("Nobody")
    return request.headers["x-who"]


async def create(
    thing_id: Text,
    body: Thing,
    who: Annotated[str, Depends(caller)],
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    answer = {"id": thing_id, "amount": body.amount, "label": body.label, "who": who}
    return json_body(answer | {"key": key})


def app_with(route_class: type) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter(route_class=route_class)
    router.post("/things/{thing_id}", status_code=201)(create)
    app.router.routes.extend(router.routes)
    return app


JSON = {"x-who": "me", "content-type": "application/json"}
DEEP = b'{"amount": 5, "x": ' + b"[" * 40 + b"]" * 40 + b"}"
CASES: list[tuple[str, dict[str, str], bytes]] = [
    ("/things/t1", JSON, b'{"amount": 5}'),
    ("/things/t1", JSON | {"idempotency-key": "k"}, b'{"amount": 5, "label": "y"}'),
    ("/things/t1", JSON, b""),
    ("/things/t1", JSON, b'{"amount": '),
    ("/things/t1", JSON, b'{"amount": "many"}'),
    ("/things/t1", JSON, b"[1, 2]"),
    ("/things/t1", JSON | {"content-type": "text/plain"}, b'{"amount": 5}'),
    ("/things/t1", {"x-who": "me"}, b'{"amount": 5}'),
    ("/things/t1", JSON | {"content-type": "application/vnd.x+json"}, b'{"amount": 5}'),
    ("/things/t1", JSON, b"\xff\xfe{"),
    ("/things/t1", JSON, b"[" * 50_000 + b"]" * 50_000),
    ("/things/t1", JSON, DEEP),
    ("/things/t1", JSON, b'{"amount": 5, "label": "a\\u0000b"}'),
    ("/things/a%00b", JSON, b'{"amount": 5}'),
    ("/things/t1", {"content-type": "application/json"}, b'{"amount": 5}'),
    # Without the dependency's header: FastAPI parses the body before any dependency runs.
    ("/things/t1", {"content-type": "application/json"}, b'{"amount": '),
    ("/things/t1", {"content-type": "application/json"}, b"\xff\xfe{"),
    ("/things/t1", {"content-type": "application/json"}, b""),
    ("/things/t1", JSON, b"null"),
]


@pytest.mark.parametrize(("path", "headers", "body"), CASES)
async def test_a_lean_route_answers_as_fastapi_does(
    path: str, headers: dict[str, str], body: bytes
) -> None:
    answers = []
    for route_class in (LeanRoute, APIRoute):
        transport = httpx.ASGITransport(app=app_with(route_class), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(path, headers=headers, content=body)
        answers.append((response.status_code, response.content))
    lean, fastapi = answers
    assert lean == fastapi


async def test_a_wrong_method_is_fastapis_405() -> None:
    transport = httpx.ASGITransport(app=app_with(LeanRoute))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/things/t1")
    assert response.status_code == 405


def test_a_route_taking_what_the_plan_cannot_resolve_is_refused_at_declaration() -> None:
    async def with_query(page: int = 1) -> Response:
        return Response()

    async def returning_a_dict(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    router = APIRouter(route_class=LeanRoute)
    with pytest.raises(TypeError, match="path, header, body and request only"):
        router.get("/a")(with_query)
    with pytest.raises(TypeError, match="returns its Response"):
        router.get("/b/{thing_id}")(returning_a_dict)


async def answer_to_a_client_leaving_mid_body(route_class: type) -> int:
    """The status answered when the client disconnects before its body is complete."""
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"amo', "more_body": True},
        {"type": "http.disconnect"},
    ]
    statuses: list[int] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [(b"x-who", b"me"), (b"content-type", b"application/json")]
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/things/t1",
        "headers": headers,
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("t", 80),
    }
    await app_with(route_class)(scope, receive, send)
    return statuses[0]


async def test_a_client_leaving_mid_body_is_fastapis_400_not_a_server_error() -> None:
    assert await answer_to_a_client_leaving_mid_body(LeanRoute) == 400
    assert await answer_to_a_client_leaving_mid_body(APIRoute) == 400
