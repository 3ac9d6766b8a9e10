"""The FastAPI application, built around an already started Container: the JSON API and, mounted
beside it, the pages of `hazina.web`."""

from fastapi import FastAPI

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
    # Routes are matched in order: provider notifications, the busiest path, come first.
    for router in (hooks.router, system.router, orders.router, payments.router, refunds.router):
        app.include_router(router)
    if settings.serves_test_endpoints:
        app.include_router(system.test_router)
    for router in (webhooks.router, webhook_endpoints.router, events.router):
        app.include_router(router)
    for router in (inbound_events.router, provider_accounts.router, audit_logs.router):
        app.include_router(router)
    for router in (accounts.router, ledger.router, payouts.router):
        app.include_router(router)
    app.include_router(payment_links.router)
    app.include_router(whatsapp_hooks.router)
    app.include_router(metrics.router)
    mount_site(app, container)
    document_api_keys(app, get_merchant)
    # Added late, so it runs early: nothing reads a body or a path before it is bounded.
    app.add_middleware(RequestBounds)
    # Outermost of all: a request refused by the bounds is still counted, logged and given an id.
    app.add_middleware(RequestObserver)
    return app
