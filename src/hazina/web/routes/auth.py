"""`/login` and `/logout`."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hazina.domain.errors import AuthenticationFailed
from hazina.services.dashboard_users import LoginThrottle, log_in
from hazina.web.dependencies import ContainerDep
from hazina.web.sessions import USER_ID, end_session, start_session, verified_form
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
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    context = {"next": next_path, "email": email}
    wait = throttle.retry_after(email, address)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        error = f"Too many failed logins. Try again in {minutes} minute{'s' * (minutes > 1)}."
        return render(request, "login.html", context | {"error": error}, status=429)
    try:
        user = await log_in(container.db, email, password)
    except AuthenticationFailed as exc:
        throttle.record_failure(email, address)
        return render(request, "login.html", context | {"error": exc.description}, status=401)
    throttle.reset(email, address)
    start_session(request, user)
    return RedirectResponse(next_path, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    await verified_form(request)
    end_session(request)
    return RedirectResponse("/login", status_code=303)
