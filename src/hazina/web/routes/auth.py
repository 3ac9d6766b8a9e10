"""`/login` and `/logout`."""

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hazina.domain.errors import AuthenticationFailed, RateLimited
from hazina.observability.metrics import count_login_failure
from hazina.services.dashboard_users import end_sessions, log_in
from hazina.web.dependencies import ContainerDep
from hazina.web.sessions import (
    USER_ID,
    end_session,
    session_user,
    start_session,
    verified_form,
)
from hazina.web.templating import render

router = APIRouter(include_in_schema=False)
HOME = "/dashboard"


def _safe_next(target: str | None) -> str:
    """Only back into the dashboard: never to another site (an open redirect)."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return HOME


@router.get("/")
async def home(request: Request) -> RedirectResponse:
    return RedirectResponse(HOME if request.session.get(USER_ID) else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    if request.session.get(USER_ID):
        return RedirectResponse(_safe_next(next_path), status_code=303)
    context = {"next": _safe_next(next_path), "email": "", "error": None}
    return render(request, "login.html", context)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, container: ContainerDep) -> Response:
    form = await verified_form(request)
    email = str(form.get("email") or "")
    password = str(form.get("password") or "")
    next_path = _safe_next(str(form.get("next") or ""))
    address = client_address(request)
    context = {"next": next_path, "email": email}
    try:
        # Counted before the password is checked; a right one clears this email's failures.
        await container.login_limits.admit(email, address)
    except RateLimited as exc:
        return refuse(request, "login.html", context, exc)
    try:
        user = await log_in(container.db, container.passwords, email, password)
    except AuthenticationFailed as exc:
        count_login_failure()
        return render(request, "login.html", context | {"error": exc.description}, status=401)
    await container.login_limits.forgive(email, address)
    start_session(request, user)
    return RedirectResponse(next_path, status_code=303)


def client_address(request: Request) -> str:
    """The socket's address, or X-Forwarded-For from the proxies uvicorn trusts."""
    return request.client.host if request.client else "unknown"


def refuse(
    request: Request, template: str, context: Mapping[str, object], refusal: RateLimited
) -> Response:
    """429 on the form's own page, saying when to try again (Retry-After says it to tools)."""
    minutes = max(1, round(refusal.retry_after / 60))
    error = f"Too many failed logins. Try again in {minutes} minute{'s' * (minutes > 1)}."
    response = render(request, template, {**context, "error": error}, status=429)
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


@router.post("/logout")
async def logout(request: Request, container: ContainerDep) -> RedirectResponse:
    """Ends every session of the user, copies of this cookie included, not just this one."""
    await verified_form(request)
    held = session_user(request)
    if held is not None:
        await end_sessions(container.db, *held)
    end_session(request)
    return RedirectResponse("/login", status_code=303)
