"""`/dashboard/balances`: the ledger as the merchant's accountant reads it: the merchant's own
balance, every account with its balances, recent transfers; one account's earnings per order,
its entries, and their CSV export. Every figure is the ledger API's (the same services)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from hazina.domain.errors import NotFound
from hazina.services.ledger import accounts, queries
from hazina.services.reporting.earnings import earnings_by_order
from hazina.services.reporting.ledger_exports import check_account, entries_csv
from hazina.web.dependencies import ContainerDep, UserDep
from hazina.web.downloads import csv_download
from hazina.web.paging import pager
from hazina.web.templating import render

router = APIRouter(prefix="/dashboard/balances", include_in_schema=False)
PAGE_SIZE = 20
RECENT_TRANSFERS = 10
Offset = Annotated[int, Query(ge=0, le=2**31)]


@router.get("", response_class=HTMLResponse)
async def balances(
    request: Request, container: ContainerDep, user: UserDep, offset: Offset = 0
) -> HTMLResponse:
    db, merchant_id = container.db, user.merchant_id
    listed = await accounts.list_accounts(db, merchant_id, None, PAGE_SIZE, offset)
    transfers = await queries.list_transfers(db, merchant_id, None, RECENT_TRANSFERS, 0)
    context: dict[str, Any] = {
        "user": user,
        "page": "balances",
        "balance": await accounts.get_balance(db, merchant_id, livemode=user.livemode),
        "accounts": listed.data,
        "pager": pager(listed),
        "transfers": transfers.data,
    }
    return render(request, "balances.html", context)


def _not_found(request: Request, exc: NotFound) -> HTMLResponse:
    return render(
        request, "error.html", {"title": "Not found", "text": exc.description}, status=404
    )


@router.get("/{account_id}", response_class=HTMLResponse)
async def account_detail(
    account_id: str,
    request: Request,
    container: ContainerDep,
    user: UserDep,
    offset: Offset = 0,
) -> HTMLResponse:
    db, merchant_id = container.db, user.merchant_id
    try:
        account = await accounts.get_account(db, merchant_id, account_id)
    except NotFound as exc:
        return _not_found(request, exc)
    earnings = await earnings_by_order(db, merchant_id, account_id, PAGE_SIZE, 0)
    entries = await queries.list_entries(db, merchant_id, account_id, PAGE_SIZE, offset)
    context: dict[str, Any] = {
        "user": user,
        "page": "balances",
        "account": account,
        "earnings": earnings.data,
        "earnings_total": earnings.total,
        "entries": entries.data,
        "pager": pager(entries),
    }
    return render(request, "balance_account.html", context)


@router.get("/{account_id}/entries.csv", response_model=None)
async def export_entries(
    account_id: str, request: Request, container: ContainerDep, user: UserDep
) -> HTMLResponse | StreamingResponse:
    """Every entry of the account, newest first, streamed in keyset batches."""
    try:
        await check_account(container.db, user.merchant_id, account_id)
    except NotFound as exc:
        return _not_found(request, exc)
    return csv_download(
        entries_csv(container.db, user.merchant_id, account_id), f"hazina-entries-{account_id}"
    )
