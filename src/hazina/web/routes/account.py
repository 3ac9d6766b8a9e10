"""`/dashboard/password`: the logged-in user changes their own password."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hazina.domain.errors import AuthenticationFailed, BadRequest, Conflict, RateLimited
from hazina.services.dashboard_users import DashboardIdentity, change_password
from hazina.services.passwords import MIN_PASSWORD_LENGTH
from hazina.web.dependencies import ContainerDep, UserDep
from hazina.web.routes.auth import client_address, refuse
from hazina.web.sessions import SESSION_VERSION, end_session, flash, verified_form
from hazina.web.templating import render

router = APIRouter(prefix="/dashboard", include_in_schema=False)
PAGE = "password.html"


def _context(user: DashboardIdentity) -> dict[str, object]:
    return {"user": user, "page": "password", "min_length": MIN_PASSWORD_LENGTH, "error": None}


@router.get("/password", response_class=HTMLResponse)
async def password_page(request: Request, user: UserDep) -> HTMLResponse:
    context = _context(user)
    return render(request, PAGE, context)


@router.post("/password", response_class=HTMLResponse)
async def update_password(request: Request, container: ContainerDep, user: UserDep) -> Response:
    """Every other session ends; this one carries on with the new session version."""
    form = await verified_form(request)
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    context = _context(user)
    if new != str(form.get("confirm_password") or ""):
        error = "The two new passwords differ"
        return render(request, PAGE, context | {"error": error}, status=400)
    address = client_address(request)
    try:
        # The current password is guessed like a login's: a stolen session must not test it freely.
        await container.login_limits.admit(user.email, address)
    except RateLimited as exc:
        return refuse(request, PAGE, context, exc)
    try:
        version = await change_password(container.db, container.passwords, user, current, new)
    except AuthenticationFailed as exc:
        return render(request, PAGE, context | {"error": exc.description}, status=401)
    except BadRequest as exc:
        await container.login_limits.forgive(user.email, address)
        return render(request, PAGE, context | {"error": exc.description}, status=400)
    except Conflict:
        end_session(request)  # ended meanwhile, by a logout elsewhere
        return RedirectResponse("/login", status_code=303)
    await container.login_limits.forgive(user.email, address)
    request.session[SESSION_VERSION] = version
    flash(request, "Password changed; every other session has been logged out.")
    return RedirectResponse("/dashboard/password", status_code=303)
