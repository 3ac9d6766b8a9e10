"""`LeanRoute`: the busiest calls served without FastAPI's per-request dependency solving.

On every request FastAPI walks the route's dependency tree, opens two exit stacks and wraps the
call in its exception handling: a sixth of an authenticated read's CPU. A LeanRoute keeps the
declaration (the endpoint, its OpenAPI document, its validation and its error envelope) and
resolves the few kinds of parameter the busiest routes take with a plan built once, when the
route is declared: path parameters, optional headers, one JSON body and dependencies that take
only the request (the container, the merchant). A route that takes anything else is refused at
import, so it can never be served differently from how it is declared.

Errors behave as on FastAPI's path: validation problems are raised as the same
`RequestValidationError` (JSON that does not parse as `json_invalid`, a body without a JSON
content type validated as the raw bytes it is), a body the parser cannot read is FastAPI's 400,
and every exception reaches the app's handlers. Endpoints return their `Response` themselves.
"""

import email.message
import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

Resolver = Callable[[Request], Awaitable[Any]]
# A body parsed, not yet validated: its parameter's name and its validation.
BodyPlan = tuple[str, Callable[[Any], Any]]
_NO_BODY = object()


class LeanRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.plan: Sequence[tuple[str, Resolver]] = _plan(self)
        self.body_plan: BodyPlan | None = _body_plan(self)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            await super().handle(scope, receive, send)  # FastAPI's 405
            return
        request = Request(scope, receive, send)
        # As FastAPI: the body is read and parsed before the dependencies run (a body that is
        # not JSON is a 400 even without a key), and validated after the other parameters.
        body = _NO_BODY if self.body_plan is None else await _read_body(request)
        arguments = {name: await resolve(request) for name, resolve in self.plan}
        if self.body_plan is not None:
            name, validate = self.body_plan
            arguments[name] = validate(body)
        response: Response = await self.endpoint(**arguments)
        await response(scope, receive, send)


def _plan(route: APIRoute) -> list[tuple[str, Resolver]]:
    dependant = route.dependant
    unsupported = (
        dependant.query_params,
        dependant.cookie_params,
        dependant.security_scopes_param_name,
        dependant.http_connection_param_name,
        dependant.background_tasks_param_name,
        dependant.response_param_name,
    )
    if any(unsupported):
        raise TypeError(f"{route.path}: a LeanRoute takes path, header, body and request only")
    if inspect.signature(route.endpoint).return_annotation is not Response:
        raise TypeError(f"{route.path}: a LeanRoute's endpoint returns its Response")
    plan: list[tuple[str, Resolver]] = []
    if dependant.request_param_name:
        plan.append((dependant.request_param_name, _request))
    for sub in dependant.dependencies:
        plan.append((_name(sub), _dependency(sub)))
    for field in dependant.path_params:
        plan.append((field.name, _path(field)))
    for field in dependant.header_params:
        plan.append((field.name, _header(field)))
    return plan


def _body_plan(route: APIRoute) -> BodyPlan | None:
    field = route.body_field
    if field is None:
        return None
    if route._embed_body_fields:
        raise TypeError(f"{route.path}: a LeanRoute takes one body, not embedded ones")

    def validate(value: Any) -> Any:
        if value is _NO_BODY:
            missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
            raise RequestValidationError([missing])
        return _validated(field, value, ("body",))

    return field.name, validate


def _name(sub: Dependant) -> str:
    if sub.name is None or sub.call is None:
        raise TypeError("a LeanRoute's dependencies are named parameters")
    takes_only_request = sub.request_param_name and not (
        sub.dependencies or sub.path_params or sub.query_params or sub.header_params
    )
    if not takes_only_request or sub.body_params or sub.use_cache is False:
        raise TypeError(f"{sub.name}: a LeanRoute's dependencies take only the request")
    return sub.name


async def _request(request: Request) -> Request:
    return request


def _dependency(sub: Dependant) -> Resolver:
    call: Callable[[Request], Awaitable[Any]] = sub.call  # type: ignore[assignment]
    return call


def _validated(field: Any, value: Any, loc: tuple[str, ...]) -> Any:
    result, errors = field.validate(value, {}, loc=loc)
    if errors:
        raise RequestValidationError(errors)
    return result


def _path(field: Any) -> Resolver:
    name, loc = field.alias, ("path", field.alias)

    async def resolve(request: Request) -> Any:
        return _validated(field, request.path_params[name], loc)

    return resolve


def _header(field: Any) -> Resolver:
    name, loc = field.alias.lower(), ("header", field.alias)
    default = field.field_info.default

    async def resolve(request: Request) -> Any:
        value = request.headers.get(name)
        return default if value is None else _validated(field, value, loc)

    return resolve


async def _read_body(request: Request) -> Any:
    """The body parsed (raw bytes unless its type is JSON), or _NO_BODY when there is none.
    A body that cannot be read (the client left mid-upload) is FastAPI's 400, not a 500."""
    try:
        raw = await request.body()
    except StarletteHTTPException:  # the body bound's 413 (api.request_bounds)
        raise
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
    if not raw:
        return _NO_BODY
    return _json(raw) if _is_json(request.headers.get("content-type")) else raw


def _is_json(content_type: str | None) -> bool:
    """FastAPI's strict rule: only application/json or application/*+json is parsed."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except (RecursionError, ValueError) as exc:  # nested past the parser, or not UTF-8
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
