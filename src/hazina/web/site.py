"""Mounting the pages on the application: session cookie, static files, routers, page errors."""

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from hazina.bootstrap import Container
from hazina.web.routes import (
    account,
    auth,
    balances,
    checkout,
    dashboard,
    links,
    payment_links,
    payouts,
    providers,
    transactions,
    webhooks,
)
from hazina.web.sessions import SESSION_COOKIE, CsrfRejected, LoginRequired
from hazina.web.templating import STATIC, render

# JSON routes never use the session: its cookie is neither parsed nor signed for them.
SESSIONLESS_PREFIXES = ("/api/", "/hooks/", "/livez", "/health", "/metrics", "/static/")


class PageSessions:
    """Starlette's SessionMiddleware on the pages only, so the API's hot paths skip it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str,
        session_cookie: str,
        max_age: int,
        https_only: bool,
    ) -> None:
        self.app = app
        self.sessions = SessionMiddleware(
            app,
            secret_key=secret_key,
            session_cookie=session_cookie,
            max_age=max_age,
            same_site="lax",
            https_only=https_only,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(SESSIONLESS_PREFIXES):
            await self.sessions(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def mount_site(app: FastAPI, container: Container) -> None:
    settings = container.settings
    assert settings.session_secret is not None  # Settings generates or requires one
    app.add_middleware(
        PageSessions,
        secret_key=settings.session_secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_seconds,
        https_only=settings.is_production,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (
        auth,
        dashboard,
        account,
        transactions,
        payment_links,
        balances,
        payouts,
        webhooks,
        providers,
        checkout,
        links,
    ):
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/login?" + urlencode({"next": exc.path}), status_code=303)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, _: CsrfRejected) -> HTMLResponse:
        text = "This form has expired or did not come from Hazina. Reload the page and try again."
        return render(request, "error.html", {"title": "Form expired", "text": text}, status=403)
