"""Jinja2 with autoescaping on for every template, the filters the pages share, and the
security headers every page carries."""

from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from hazina.domain.money import format_money
from hazina.web.sessions import csrf_token, take_flash

_HERE = Path(__file__).parent
STATIC = _HERE / "static"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def moment(iso: str | None) -> str:
    """`2024-01-15T10:31:00Z` → `2024-01-15 10:31:00` (UTC), the contract's table format."""
    return "" if iso is None else iso.replace("T", " ").removesuffix("Z")


_environment.filters["money"] = format_money
_environment.filters["moment"] = moment
templates = Jinja2Templates(env=_environment)

# Scripts and styles come from our own files only: no inline script can run, injected or not.
_CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    frameable: bool = False,
) -> HTMLResponse:
    """Render a page. Only the checkout may be framed (by any merchant's site); the dashboard
    never, so no other site can overlay it to steal clicks."""
    values: dict[str, Any] = {"flash": take_flash(request)}
    if not frameable:
        # Framed pages (the checkout, inside merchants' sites) post no forms and set no cookie.
        values["csrf_token"] = csrf_token(request)
    response = templates.TemplateResponse(request, name, values | (context or {}), status)
    ancestors = "*" if frameable else "'none'"
    response.headers["Content-Security-Policy"] = f"{_CSP}; frame-ancestors {ancestors}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if not frameable:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response
