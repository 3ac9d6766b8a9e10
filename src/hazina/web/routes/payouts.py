"""`/dashboard/payouts`: the creators' balances, their payouts (status, reason, destination
masked), a form to pay one out and a cancel button while a payout is still pending."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hazina.domain.errors import BadRequest, HazinaError
from hazina.domain.money import parse_major_units
from hazina.services.idempotency import idempotency_request
from hazina.services.ledger.accounts import list_accounts
from hazina.services.payouts import creation
from hazina.web.dependencies import ContainerDep, UserDep
from hazina.web.paging import pager
from hazina.web.sessions import flash, verified_form
from hazina.web.templating import render

router = APIRouter(prefix="/dashboard/payouts", include_in_schema=False)
PAGE = "/dashboard/payouts"
PAGE_SIZE = 20
# Creators shown beside the payouts (and offered in the form).
MAX_ACCOUNTS = 100


async def _page(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    offset: int = 0,
    *,
    error: HazinaError | None = None,
) -> HTMLResponse:
    payouts = await creation.list_payouts(container.db, user.merchant_id, PAGE_SIZE, offset)
    accounts = await list_accounts(container.db, user.merchant_id, "creator", MAX_ACCOUNTS, 0)
    return render(
        request,
        "payouts.html",
        {
            "user": user,
            "page": "payouts",
            "payouts": payouts.data,
            "accounts": accounts.data,
            "pager": pager(payouts),
            "error": error,
            # A fresh key per form shown: a double submit makes one payout.
            "form_key": secrets.token_urlsafe(16),
        },
        status=error.status if error else 200,
    )


@router.get("", response_class=HTMLResponse)
async def payouts_page(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> HTMLResponse:
    return await _page(request, container, user, offset)


@router.post("", response_class=HTMLResponse)
async def create(request: Request, container: ContainerDep, user: UserDep) -> Response:
    form = await verified_form(request)
    field = {key: str(value).strip() for key, value in form.items() if isinstance(value, str)}
    try:
        accounts = await list_accounts(container.db, user.merchant_id, "creator", MAX_ACCOUNTS, 0)
        currency = next(
            (a["currency"] for a in accounts.data if a["id"] == field.get("account_id")), None
        )
        if currency is None:
            raise BadRequest("Choose the creator to pay out")
        names: tuple[str, ...] = ("phone",)
        if field.get("type") == "bank":
            names = ("account_number", "account_name", "bic", "transfer_type")
        destination = {"type": field.get("type", "mobile_money")}
        destination |= {name: field.get(name, "") for name in names}
        new = creation.NewPayout(
            account_id=field["account_id"],
            amount=parse_major_units(field.get("amount", ""), currency),
            currency=currency,
            destination=destination,
        )
        key = field.get("form_key") or None
        idempotency = idempotency_request(
            key and f"dashboard:{key}", "POST /api/v1/payouts", new.fingerprint_body()
        )
        await creation.create_payout(
            container.db,
            container.payouts,
            user.merchant_id,
            user.livemode,
            new,
            idempotency,
            container.settings.idempotency_ttl,
        )
    except HazinaError as exc:
        return await _page(request, container, user, error=exc)
    flash(request, "Payout created: it is on its way.")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{payout_id}/cancel", response_class=HTMLResponse)
async def cancel(
    payout_id: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    await verified_form(request)
    try:
        await creation.cancel_payout(container.db, user.merchant_id, payout_id)
    except HazinaError as exc:
        return await _page(request, container, user, error=exc)
    flash(request, "Payout canceled: its money is back on the balance.")
    return RedirectResponse(PAGE, status_code=303)
