"""`/dashboard/links`: the business requests a payment link for a customer (seed 001's flow) and
follows each link and the delivery of its messages. Forms post and redirect back."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from hazina.domain.errors import HazinaError
from hazina.domain.money import parse_major_units
from hazina.services.links.requests import Customer, NewLink
from hazina.services.links.store import LinkContext, cancel_link, create_link, resend_link
from hazina.services.links.views import list_links
from hazina.services.notifications.preferences import (
    Preferences,
    get_preferences,
    save_preferences,
)
from hazina.web.dependencies import ContainerDep, UserDep
from hazina.web.paging import pager
from hazina.web.sessions import flash, verified_form
from hazina.web.templating import render

router = APIRouter(prefix="/dashboard/links", include_in_schema=False)
PAGE = "/dashboard/links"
PAGE_SIZE = 10
CURRENCIES = ("INR", "USD", "TZS", "KES", "ZWG", "EUR", "GBP")


def _context(container: ContainerDep, user: UserDep) -> LinkContext:
    settings = container.settings
    return LinkContext.for_merchant(
        container.providers.registry,
        user.merchant_id,
        user.livemode,
        base_url=settings.base_url,
        smtp_configured=settings.smtp_host is not None,
    )


async def _page(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    offset: int = 0,
    *,
    error: HazinaError | None = None,
    typed: FormData | None = None,
) -> HTMLResponse:
    links = await list_links(
        container.db, user.merchant_id, container.settings.base_url, PAGE_SIZE, offset
    )
    context: dict[str, Any] = {
        "user": user,
        "page": "links",
        "preferences": await get_preferences(container.db, user.merchant_id),
        "links": links.data,
        "pager": pager(links),
        "currencies": CURRENCIES,
        "methods": container.providers.registry.methods(livemode=user.livemode),
        "typed": dict(typed or {}),
        "error": error,
    }
    return render(request, "payment_links.html", context, status=error.status if error else 200)


@router.get("", response_class=HTMLResponse)
async def links_page(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> HTMLResponse:
    return await _page(request, container, user, offset)


def _field(form: FormData, name: str) -> str | None:
    value = str(form.get(name) or "").strip()
    return value or None


def _new_link(form: FormData) -> NewLink:
    currency = _field(form, "currency") or "INR"
    methods = tuple(str(method) for method in form.getlist("methods"))
    return NewLink(
        amount=parse_major_units(_field(form, "amount") or "", currency),
        currency=currency,
        description=_field(form, "description"),
        reference=_field(form, "reference"),
        methods=methods or None,
        customer=Customer(
            name=_field(form, "customer_name"),
            phone=_field(form, "customer_phone"),
            email=_field(form, "customer_email"),
        ),
        send=tuple(str(channel) for channel in form.getlist("send")),
    )


@router.post("", response_class=HTMLResponse)
async def create(request: Request, container: ContainerDep, user: UserDep) -> Response:
    form = await verified_form(request)
    limit, key = container.payment_link_limit, str(user.merchant_id)

    async def admit() -> None:
        await limit.admit(key)

    try:
        await create_link(
            container.db,
            _context(container, user),
            _new_link(form),
            None,
            container.settings.idempotency_ttl,
            admit,
        )
    except HazinaError as exc:
        return await _page(request, container, user, error=exc, typed=form)
    flash(request, "Payment link created.")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{link_id}/cancel", response_class=HTMLResponse)
async def cancel(
    link_id: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    await verified_form(request)
    try:
        await cancel_link(container.db, _context(container, user), link_id)
    except HazinaError as exc:
        return await _page(request, container, user, error=exc)
    flash(request, "Payment link cancelled.")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{link_id}/send", response_class=HTMLResponse)
async def send(link_id: str, request: Request, container: ContainerDep, user: UserDep) -> Response:
    await verified_form(request)
    try:
        await resend_link(container.db, _context(container, user), link_id, ())
    except HazinaError as exc:
        return await _page(request, container, user, error=exc)
    flash(request, "Payment link sent again.")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/notifications", response_class=HTMLResponse)
async def save_notifications(request: Request, container: ContainerDep, user: UserDep) -> Response:
    """Who this mode tells what: the business when an order is paid, buyers their receipt,
    creators what they earned and that a payout ended."""
    form = await verified_form(request)
    wanted = Preferences(
        merchant_email=_field(form, "merchant_email"),
        merchant_phone=_field(form, "merchant_phone"),
        paid_channels=tuple(str(name) for name in form.getlist("paid_channels")),
        receipt_channels=tuple(str(name) for name in form.getlist("receipt_channels")),
        earning_channels=tuple(str(name) for name in form.getlist("earning_channels")),
        payout_channels=tuple(str(name) for name in form.getlist("payout_channels")),
    )
    try:
        await save_preferences(
            container.db,
            user.merchant_id,
            wanted,
            smtp_configured=container.settings.smtp_host is not None,
        )
    except HazinaError as exc:
        return await _page(request, container, user, error=exc)
    flash(request, "Notification settings saved.")
    return RedirectResponse(PAGE, status_code=303)
