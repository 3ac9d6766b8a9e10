"""The FastAPI application, built around an already started Container: the JSON API and, mounted
beside it, the pages of `hazina.web`."""

from fastapi import APIRouter, FastAPI

from hazina import __version__
from hazina.api.dependencies import get_merchant
from hazina.api.errors import install_error_handlers
from hazina.api.openapi import document_api_keys
from hazina.api.request_bounds import RequestBounds
from hazina.api.request_observer import RequestObserver
from hazina.api.routes import (
    accounts,
    audit_logs,
    events,
    hooks,
    inbound_events,
    ledger,
    metrics,
    orders,
    payment_links,
    payments,
    payouts,
    provider_accounts,
    refunds,
    system,
    webhook_endpoints,
    webhooks,
    whatsapp_hooks,
)
from hazina.bootstrap import Container
from hazina.web.site import mount_site


def add_routes(app: FastAPI, routers: list[APIRouter]) -> None:
    """The routers' routes on the app's own router, in order, as `@app.get` would put them.

    `include_router` would wrap each router in a layer that is matched, then matched again on
    the way in, on every request: a fifth of an authenticated read's CPU. Nothing here uses
    what that layer is for (a prefix, tags or dependencies added at inclusion): every router
    carries its full paths and its own dependencies."""
    for router in routers:
        app.router.routes.extend(router.routes)


def create_app(container: Container) -> FastAPI:
    settings = container.settings
    docs = settings.serves_api_docs
    app = FastAPI(
        title="Hazina",
        version=__version__,
        # Off in production unless HAZINA_API_DOCS: the schema maps every route for a scanner.
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.container = container
    install_error_handlers(app)
    # Starlette tries routes one at a time, a few microseconds each: after the provider
    # notifications and the probes come the calls a checkout makes most, served lean.
    routers = [hooks.router, system.router, payments.busiest, orders.router, payments.router]
    routers.append(refunds.router)
    if settings.serves_test_endpoints:
        routers.append(system.test_router)
    routers += [webhooks.router, webhook_endpoints.router, events.router]
    routers += [inbound_events.router, provider_accounts.router, audit_logs.router]
    routers += [accounts.router, ledger.router, payouts.router]
    routers += [payment_links.router, whatsapp_hooks.router, metrics.router]
    add_routes(app, routers)
    mount_site(app, container)
    document_api_keys(app, get_merchant)
    # Added late, so it runs early: nothing reads a body or a path before it is bounded.
    app.add_middleware(RequestBounds)
    # Outermost of all: a request refused by the bounds is still counted, logged and given an id.
    app.add_middleware(RequestObserver)
    return app
