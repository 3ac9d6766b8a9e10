"""The OpenAPI document names the API-key scheme on every operation that takes the key.

Authentication reads the two headers straight from the request (`dependencies.get_merchant`):
declared as FastAPI header parameters they would be validated on every call, which costs more
than the rest of an authenticated read. The document is generated once, so the scheme is added
here instead, found by the `get_merchant` dependency in each route's tree.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

SCHEMES: dict[str, dict[str, str]] = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "ApiSecret": {"type": "apiKey", "in": "header", "name": "X-Api-Secret"},
}
REQUIREMENT: list[dict[str, list[str]]] = [{"ApiKey": [], "ApiSecret": []}]


def document_api_keys(app: FastAPI, authenticated_by: Callable[..., Any]) -> None:
    """Make `app.openapi()` add the scheme to operations whose routes depend on
    `authenticated_by`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {})["securitySchemes"] = SCHEMES
        paths = schema.get("paths", {})
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute) or context.path not in paths:
                continue
            if _depends_on(route.dependant, authenticated_by):
                for method in route.methods or ():
                    operation = paths[context.path].get(method.lower())
                    if operation is not None:
                        operation["security"] = REQUIREMENT
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call or _depends_on(sub, call) for sub in dependant.dependencies)
