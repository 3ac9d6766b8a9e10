"""The dashboard session: a signed cookie (Starlette's SessionMiddleware, itsdangerous) holding
the user's id, session version and a CSRF token, and the checks every state-changing form goes
through. A signed cookie cannot be revoked by itself: the version, compared with the user's on
every request, is what lets logging out end every copy of it.

The cookie is signed, not encrypted: it holds nothing secret beyond the CSRF token, which only
has to be unguessable by other sites. It is HttpOnly, SameSite=Lax, and Secure in production.
"""

import hmac
import secrets
import uuid

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from hazina.services.dashboard_users import DashboardIdentity

SESSION_COOKIE = "hazina_session"
USER_ID = "user_id"
SESSION_VERSION = "session_version"
# True while the dashboard shows live data; absent or False: test mode, the safe default.
LIVEMODE = "livemode"
CSRF = "csrf"
FLASH = "flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):
    """Not logged in (or no longer): the page answers with a redirect to /login."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class CsrfRejected(Exception):
    """A state-changing request without this session's CSRF token."""


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF] = token
    return token


async def verified_form(request: Request) -> FormData:
    """The posted form, once its CSRF token (field or header) matches the session's."""
    form = await request.form()
    presented = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = request.session.get(CSRF)
    if not (
        isinstance(presented, str)
        and isinstance(expected, str)
        and hmac.compare_digest(presented.encode(), expected.encode())
    ):
        raise CsrfRejected
    # PostgreSQL cannot store U+0000 in text: refused for every form, alike on every database.
    if any(isinstance(value, str) and "\x00" in value for value in form.values()):
        raise HTTPException(400, "Form fields must not contain NUL characters")
    return form


def start_session(request: Request, user: DashboardIdentity) -> None:
    """A fresh session for the user: nothing from before the login survives (no fixation)."""
    request.session.clear()
    request.session[USER_ID] = str(user.user_id)
    request.session[SESSION_VERSION] = user.session_version
    request.session[CSRF] = secrets.token_urlsafe(32)


def session_user(request: Request) -> tuple[uuid.UUID, int] | None:
    """The user id and session version the cookie holds, if it holds both, well formed."""
    raw, version = request.session.get(USER_ID), request.session.get(SESSION_VERSION)
    if not (isinstance(raw, str) and isinstance(version, int)):
        return None
    try:
        return uuid.UUID(raw), version
    except ValueError:
        return None


def end_session(request: Request) -> None:
    request.session.clear()


def flash(request: Request, text: str, kind: str = "notice") -> None:
    """A one-line message for the next page (never a secret: the cookie is only signed)."""
    request.session[FLASH] = {"kind": kind, "text": text}


def take_flash(request: Request) -> dict[str, str] | None:
    message = request.session.pop(FLASH, None)
    return message if isinstance(message, dict) else None
