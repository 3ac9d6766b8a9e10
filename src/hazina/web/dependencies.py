"""What page handlers receive: the container and, on dashboard pages, the logged-in user."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from hazina.bootstrap import Container
from hazina.services.dashboard_users import DashboardIdentity, find_dashboard_user
from hazina.web.sessions import LIVEMODE, USER_ID, LoginRequired


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_user(request: Request, container: ContainerDep) -> DashboardIdentity:
    """The session's user in the session's mode, read again on every request so a deactivated
    one is out at once."""
    raw = request.session.get(USER_ID)
    livemode = request.session.get(LIVEMODE) is True
    user = None
    if isinstance(raw, str):
        try:
            user = await find_dashboard_user(container.db, uuid.UUID(raw), livemode=livemode)
        except ValueError:
            user = None
    if user is None:
        request.session.clear()
        raise LoginRequired(request.url.path)
    return user


UserDep = Annotated[DashboardIdentity, Depends(get_user)]
