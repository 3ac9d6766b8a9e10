"""`/dashboard/transactions`: the payments table (filtered, exported as CSV), one payment's
detail, and refunding it."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from hazina.domain.errors import BadRequest, HazinaError, NotFound
from hazina.domain.ledger import CREDIT
from hazina.domain.money import format_money, parse_major_units
from hazina.domain.states import PaymentStatus
from hazina.services import events, payments, refunds, reviews, webhooks
from hazina.services.registry import SANDBOX
from hazina.services.reporting.exports import payments_csv
from hazina.services.reporting.filters import read_payment_filter
from hazina.web.dependencies import ContainerDep, UserDep
from hazina.web.downloads import csv_download
from hazina.web.paging import pager
from hazina.web.sessions import flash, verified_form
from hazina.web.templating import render

router = APIRouter(prefix="/dashboard/transactions", include_in_schema=False)
PAGE_SIZE = 20


@router.get("", response_class=HTMLResponse)
async def transactions(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> HTMLResponse:
    """The payments the filter form selects (the API's list filter, same query parameters)."""
    try:
        filters = read_payment_filter(dict(request.query_params))
    except BadRequest as exc:
        return _transactions_page(request, container, user, dict(request.query_params), error=exc)
    page = await payments.list_payments(container.db, user.merchant_id, filters, PAGE_SIZE, offset)
    query = filters.query()
    return _transactions_page(
        request,
        container,
        user,
        query,
        payments=page.data,
        pager=pager(page, query),
        export_href="/dashboard/transactions/export.csv?" + urlencode(query),
    )


def _transactions_page(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    query: dict[str, str],
    *,
    error: BadRequest | None = None,
    **listed: Any,
) -> HTMLResponse:
    registry = container.providers.registry
    # Credit (a customer wallet's money) is a method and its own provider, of the ledger's.
    providers = (*((SANDBOX,) if not user.livemode else ()), *registry.adapters, CREDIT)
    context = {
        "user": user,
        "page": "transactions",
        "filters": query,
        "statuses": list(PaymentStatus),
        "methods": (*registry.methods(livemode=user.livemode), CREDIT),
        "providers": providers,
        "error": error,
        "payments": [],
        "pager": None,
        "export_href": None,
    }
    return render(
        request, "transactions.html", context | listed, status=error.status if error else 200
    )


@router.get("/export.csv", response_model=None)
async def export_transactions(
    request: Request, container: ContainerDep, user: UserDep
) -> HTMLResponse | StreamingResponse:
    """The filtered payments as CSV, every page of them, streamed in keyset batches."""
    try:
        filters = read_payment_filter(dict(request.query_params))
    except BadRequest as exc:
        return _transactions_page(request, container, user, dict(request.query_params), error=exc)
    mode = "live" if user.livemode else "test"
    return csv_download(
        payments_csv(container.db, user.merchant_id, filters), f"hazina-payments-{mode}"
    )


async def _detail(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    payment_id: str,
    *,
    error: HazinaError | None = None,
    form: dict[str, str] | None = None,
    review_error: HazinaError | None = None,
) -> HTMLResponse:
    db, merchant_id = container.db, user.merchant_id
    try:
        payment = await payments.get_payment(db, merchant_id, payment_id)
    except NotFound as exc:
        return render(
            request, "error.html", {"title": "Not found", "text": exc.description}, status=404
        )
    refund_page = await refunds.list_refunds(db, merchant_id, payment_id, 100, 0)
    context: dict[str, Any] = {
        "user": user,
        "page": "transactions",
        "payment": payment,
        "refundable": format_money(
            payment["amount"] - payment["amount_refunded"], payment["currency"]
        ),
        "refunds": refund_page.data,
        "events": await events.list_resource_events(db, merchant_id, payment_id),
        "deliveries": await webhooks.list_resource_deliveries(db, merchant_id, payment_id),
        "error": error,
        "form": form or {"amount": "", "reason": ""},
        "review_error": review_error,
    }
    failure = error or review_error
    return render(request, "payment.html", context, status=failure.status if failure else 200)


@router.get("/{payment_id}", response_class=HTMLResponse)
async def payment_detail(
    payment_id: str, request: Request, container: ContainerDep, user: UserDep
) -> HTMLResponse:
    return await _detail(request, container, user, payment_id)


@router.post("/{payment_id}/refunds", response_class=HTMLResponse)
async def refund(
    payment_id: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    form = await verified_form(request)
    typed = {"amount": str(form.get("amount") or ""), "reason": str(form.get("reason") or "")}
    settings = container.settings
    try:
        payment = await payments.get_payment(container.db, user.merchant_id, payment_id)
        amount = parse_major_units(typed["amount"], payment["currency"])
        new = refunds.NewRefund(amount=amount, reason=typed["reason"].strip() or None)
        await refunds.create_refund(
            container.db,
            container.providers.registry,
            user.merchant_id,
            payment_id,
            new,
            None,
            settings.idempotency_ttl,
            settings.job_max_attempts,
        )
    except HazinaError as exc:
        return await _detail(request, container, user, payment_id, error=exc, form=typed)
    flash(request, f"Refund of {format_money(amount, payment['currency'])} created.")
    return RedirectResponse(f"/dashboard/transactions/{payment_id}", status_code=303)


@router.post("/{payment_id}/review", response_class=HTMLResponse)
async def resolve_review(
    payment_id: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    form = await verified_form(request)
    try:
        resolution = reviews.Resolution(str(form.get("action") or ""))
        await reviews.resolve_review(
            container.db,
            container.providers.registry,
            user.merchant_id,
            payment_id,
            resolution,
            actor=f"dashboard_user:{user.user_id}",
        )
    except ValueError:
        error = BadRequest("action must be accept, refund or refunded_elsewhere")
        return await _detail(request, container, user, payment_id, review_error=error)
    except HazinaError as exc:
        return await _detail(request, container, user, payment_id, review_error=exc)
    done = {
        reviews.Resolution.ACCEPT: "accepted",
        reviews.Resolution.REFUND: "refunded",
        reviews.Resolution.REFUNDED_ELSEWHERE: "recorded as returned at the provider",
    }[resolution]
    flash(request, f"Payment {payment_id} {done}.")
    return RedirectResponse(f"/dashboard/transactions/{payment_id}", status_code=303)
