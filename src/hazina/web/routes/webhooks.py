"""`/dashboard/webhooks`: the primary endpoint's URL and secret, a test event, the delivery log
with manual retries. Each action is a form post that ends in a redirect back to the page."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hazina.domain.errors import HazinaError
from hazina.services import webhook_endpoints, webhooks
from hazina.web.dependencies import ContainerDep, UserDep
from hazina.web.paging import pager
from hazina.web.sessions import flash, verified_form
from hazina.web.templating import render

router = APIRouter(prefix="/dashboard/webhooks", include_in_schema=False)
PAGE = "/dashboard/webhooks"
PAGE_SIZE = 10


async def _page(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    offset: int = 0,
    *,
    error: HazinaError | None = None,
    typed_url: str | None = None,
) -> HTMLResponse:
    config = await webhook_endpoints.get_config(
        container.db, container.providers.vault, user.merchant_id
    )
    deliveries = await webhooks.list_deliveries(
        container.db, user.merchant_id, webhooks.DeliveryFilter(), PAGE_SIZE, offset
    )
    return render(
        request,
        "webhooks.html",
        {
            "user": user,
            "page": "webhooks",
            "webhook_url": typed_url if typed_url is not None else config["webhook_url"] or "",
            "webhook_secret": config["webhook_secret"] or "",
            "deliveries": deliveries.data,
            "pager": pager(deliveries),
            "error": error,
        },
        status=error.status if error else 200,
    )


@router.get("", response_class=HTMLResponse)
async def webhooks_page(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> HTMLResponse:
    return await _page(request, container, user, offset)


@router.post("", response_class=HTMLResponse)
async def save_config(request: Request, container: ContainerDep, user: UserDep) -> Response:
    form = await verified_form(request)
    url = str(form.get("webhook_url") or "").strip()
    try:
        await webhook_endpoints.set_config(
            container.db,
            container.providers.vault,
            user.merchant_id,
            url or None,
            production=container.settings.is_production,
        )
    except HazinaError as exc:
        return await _page(request, container, user, error=exc, typed_url=url)
    flash(request, "Webhook URL saved." if url else "Webhook URL removed: nothing will be sent.")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/regenerate-secret")
async def regenerate_secret(
    request: Request, container: ContainerDep, user: UserDep
) -> RedirectResponse:
    await verified_form(request)
    await webhook_endpoints.regenerate_primary_secret(
        container.db, container.providers.vault, user.merchant_id
    )
    flash(request, "New webhook secret generated. The previous one keeps signing for 24 hours.")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/test")
async def send_test(request: Request, container: ContainerDep, user: UserDep) -> RedirectResponse:
    await verified_form(request)
    sent = await webhook_endpoints.send_test_event(container.db, user.merchant_id)
    if sent["deliveries"]:
        flash(request, "Test webhook scheduled.")
    else:
        flash(request, "No webhook URL is configured: save one first.", "error")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{webhook_id}/retry", response_class=HTMLResponse)
async def retry(
    webhook_id: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    await verified_form(request)
    try:
        await webhooks.retry_delivery(container.db, user.merchant_id, webhook_id)
    except HazinaError as exc:
        return await _page(request, container, user, error=exc)
    flash(request, "Webhook retry scheduled.")
    return RedirectResponse(PAGE, status_code=303)
