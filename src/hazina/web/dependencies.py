"""What page handlers receive: the container and, on dashboard pages, the logged-in user."""

from typing import Annotated

from fastapi import Depends, Request

from hazina.bootstrap import Container
from hazina.services.dashboard_users import DashboardIdentity, find_dashboard_user
from hazina.web.sessions import LIVEMODE, LoginRequired, session_user


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_user(request: Request, container: ContainerDep) -> DashboardIdentity:
    """The session's user in the session's mode, read again on every request so a deactivated
    one, or a session ended by a logout or a password change, is out at once."""
    held = session_user(request)
    livemode = request.session.get(LIVEMODE) is True
    user = None
    if held is not None:
        user = await find_dashboard_user(container.db, *held, livemode=livemode)
    if user is None:
        request.session.clear()
        raise LoginRequired(request.url.path)
    return user


UserDep = Annotated[DashboardIdentity, Depends(get_user)]
