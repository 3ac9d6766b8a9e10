"""`/dashboard` (credentials and figures), rolling the API secret, and `/dashboard/docs`."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from hazina.domain.clock import utc_now
from hazina.domain.money import format_money
from hazina.services import webhook_endpoints
from hazina.services.merchants import roll_api_secret
from hazina.services.reporting.daily import daily_figures
from hazina.services.statistics import PaymentStats, payment_stats
from hazina.web.charts import daily_chart
from hazina.web.dependencies import ContainerDep, UserDep
from hazina.web.sessions import LIVEMODE, flash, verified_form
from hazina.web.templating import render

router = APIRouter(prefix="/dashboard", include_in_schema=False)
# Only the secret's hash is stored, so there is nothing to unmask: the page shows its shape.
MASKED_SECRET = "secret_" + "•" * 16
DEFAULT_CURRENCY = "INR"


def total_amount(stats: PaymentStats) -> str:
    """`₹5,00,000`; one figure per currency when payments were taken in several."""
    if not stats.amounts:
        return format_money(0, DEFAULT_CURRENCY, drop_zero_fraction=True)
    return " + ".join(
        format_money(amount, currency, drop_zero_fraction=True)
        for currency, amount in stats.amounts.items()
    )


async def _overview(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    new_secret: str | None = None,
    currency: str | None = None,
) -> HTMLResponse:
    stats = await payment_stats(container.db, user.merchant_id)
    days = await daily_figures(container.db, user.merchant_id, utc_now().date())
    return render(
        request,
        "dashboard.html",
        {
            "user": user,
            "page": "overview",
            "stats": stats,
            "total_amount": total_amount(stats),
            "chart": daily_chart(days, DEFAULT_CURRENCY, currency),
            "api_secret": new_secret or MASKED_SECRET,
            "new_secret": new_secret,
        },
    )


@router.get("", response_class=HTMLResponse)
async def overview(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
) -> HTMLResponse:
    """`?currency=USD` draws the chart in that currency (the busiest one otherwise)."""
    return await _overview(request, container, user, currency=currency)


@router.post("/roll-secret", response_class=HTMLResponse)
async def roll_secret(request: Request, container: ContainerDep, user: UserDep) -> HTMLResponse:
    """The new secret is in this one response (not a redirect, not the cookie): shown once."""
    await verified_form(request)
    secret = await roll_api_secret(
        container.db,
        user.merchant_id,
        actor=f"dashboard_user:{user.user_id}",
        cache=container.credentials,
    )
    return await _overview(request, container, user, new_secret=secret)


@router.post("/mode")
async def switch_mode(request: Request, user: UserDep) -> RedirectResponse:
    """Show the other twin's data: test mode or live mode, kept in the session."""
    form = await verified_form(request)
    livemode = form.get("livemode") == "true"
    request.session[LIVEMODE] = livemode
    flash(request, "Live mode: real payments." if livemode else "Test mode: test data only.")
    back = request.headers.get("referer", "")
    path = urlsplit(back).path if back else ""
    target = path if path.startswith("/dashboard") else "/dashboard"
    return RedirectResponse(target, status_code=303)


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request, container: ContainerDep, user: UserDep) -> HTMLResponse:
    config = await webhook_endpoints.get_config(
        container.db, container.providers.vault, user.merchant_id
    )
    base_url = str(request.base_url).rstrip("/")
    return render(
        request,
        "docs.html",
        {
            "user": user,
            "page": "docs",
            "base_url": base_url,
            "webhook_configured": config["webhook_url"] is not None,
        },
    )
