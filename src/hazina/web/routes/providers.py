"""`/dashboard/providers`: the merchant's own provider accounts (Stripe, ClickPesa, PayPal, …).

Credentials are write-only, as in the JSON API: the page shows which fields are configured and
their last four characters, never a value, and its inputs are never filled with one. Saving
replaces the account's credentials as a whole (services.provider_accounts.put_account).
"""

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hazina.domain.errors import HazinaError
from hazina.domain.gateways import GENERIC
from hazina.services import provider_accounts
from hazina.services.gateways import accounts as gateways
from hazina.web.dependencies import ContainerDep, UserDep
from hazina.web.sessions import flash, verified_form
from hazina.web.templating import render

router = APIRouter(prefix="/dashboard/providers", include_in_schema=False)
PAGE = "/dashboard/providers"
LABELS = {
    "stripe": "Stripe",
    "clickpesa": "ClickPesa",
    "paynow": "Paynow",
    "ecocash": "EcoCash",
    "paypal": "PayPal",
}
FIELD_LABELS = {
    "secret_key": "Secret key",
    "webhook_secret": "Webhook signing secret",
    "publishable_key": "Publishable key",
    "client_id": "Client ID",
    "api_key": "API key",
    "checksum_key": "Checksum key",
    "integration_id": "Integration ID",
    "integration_key": "Integration key",
    "auth_email": "Paynow login email (express checkout)",
    "merchant_code": "Merchant code",
    "client_secret": "Client secret",
    "webhook_id": "Webhook ID (from PayPal's developer dashboard)",
}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    required: bool


@dataclass(frozen=True, slots=True)
class ProviderView:
    """One provider's card: its account's masks (if any), its form and the form's error."""

    name: str
    label: str
    fields: tuple[Field, ...]
    account: dict[str, Any] | None
    has_default: bool
    mode: str
    error: HazinaError | None


def label_of(provider: str) -> str:
    return LABELS.get(provider, provider.title())


def _actor(user: UserDep) -> str:
    return f"dashboard_user:{user.user_id}"


async def _page(
    request: Request,
    container: ContainerDep,
    user: UserDep,
    *,
    failed: str | None = None,
    error: HazinaError | None = None,
    typed_mode: str | None = None,
    revealed: dict[str, Any] | None = None,
) -> HTMLResponse:
    """`revealed`: a generic gateway whose signing secret was just generated, shown this once."""
    registry = container.providers.registry
    catalogue = registry.credential_catalogue()
    accounts = await provider_accounts.list_accounts(
        container.db, user.merchant_id, container.settings.base_url, catalogue
    )
    by_provider = {account["provider"]: account for account in accounts}
    views = []
    for name, fields in catalogue.items():
        if name == GENERIC:  # named and generated: its own section, never a credentials form
            continue
        account = by_provider.get(name)
        mode = account["mode"] if account else ("live" if user.livemode else "test")
        if name == failed and typed_mode in provider_accounts.MODES:
            mode = typed_mode
        views.append(
            ProviderView(
                name=name,
                label=label_of(name),
                fields=tuple(
                    Field(
                        field,
                        FIELD_LABELS.get(field, field.replace("_", " ").capitalize()),
                        field in fields.required,
                    )
                    for field in fields.names
                ),
                account=account,
                has_default=registry.default_access(name, livemode=user.livemode) is not None,
                mode=mode,
                error=error if name == failed else None,
            )
        )
    # An error about a provider the page has no card for (a hand-made post) shows on top.
    page_error = error if error is not None and failed not in catalogue else None
    return render(
        request,
        "providers.html",
        {
            "user": user,
            "page": "providers",
            "providers": views,
            # The dashboard's mode decides: its switch, not this form, changes modes.
            "modes": ("live",) if user.livemode else ("test",),
            "error": page_error,
            "gateways": [account for account in accounts if account["provider"] == GENERIC],
            "gateway_error": error if failed == GENERIC else None,
            "revealed": revealed,
        },
        status=error.status if error else 200,
    )


@router.get("", response_class=HTMLResponse)
async def providers_page(request: Request, container: ContainerDep, user: UserDep) -> HTMLResponse:
    return await _page(request, container, user)


@router.post("/generic", response_class=HTMLResponse)
async def add_gateway(request: Request, container: ContainerDep, user: UserDep) -> Response:
    """Register (or re-point) a generic gateway; a new one's secret is shown on this answer
    only, never after a redirect."""
    form = await verified_form(request)
    try:
        _, gateway = await gateways.put_gateway(
            container.db,
            container.providers.vault,
            user.merchant_id,
            str(form.get("name") or ""),
            str(form.get("redirect_url_template") or ""),
            livemode=user.livemode,
            actor=_actor(user),
            base_url=container.settings.base_url,
        )
    except HazinaError as exc:
        return await _page(request, container, user, failed=GENERIC, error=exc)
    if "signing_secret" not in gateway:
        flash(request, f"Gateway {gateway['name']} saved.")
        return RedirectResponse(PAGE, status_code=303)
    return await _page(request, container, user, revealed=gateway)


@router.post("/generic/{name}/rotate", response_class=HTMLResponse)
async def rotate_gateway(
    name: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    await verified_form(request)
    try:
        rotated = await gateways.rotate_secret(
            container.db,
            container.providers.vault,
            user.merchant_id,
            name,
            _actor(user),
            container.settings.base_url,
        )
    except HazinaError as exc:
        return await _page(request, container, user, failed=GENERIC, error=exc)
    return await _page(request, container, user, revealed=rotated)


@router.post("/generic/{name}/delete", response_class=HTMLResponse)
async def delete_gateway(
    name: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    await verified_form(request)
    try:
        await provider_accounts.delete_account(
            container.db, user.merchant_id, GENERIC, _actor(user), name=name
        )
    except HazinaError as exc:
        return await _page(request, container, user, failed=GENERIC, error=exc)
    flash(request, f"Gateway {name} removed.")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{provider}", response_class=HTMLResponse)
async def save_account(
    provider: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    form = await verified_form(request)
    catalogue = container.providers.registry.credential_catalogue()
    fields = catalogue.get(provider)
    # Only the provider's own fields are read; put_account refuses an unknown provider.
    names = fields.names if fields else ()
    secrets = {name: str(form.get(name) or "") for name in names}
    mode = str(form.get("mode") or "")
    try:
        await provider_accounts.put_account(
            container.db,
            container.providers.vault,
            user.merchant_id,
            provider,
            mode,
            secrets,
            _actor(user),
            livemode=user.livemode,
            base_url=container.settings.base_url,
            catalogue=catalogue,
        )
    except HazinaError as exc:
        # The page again, with the description; the typed secrets are not sent back.
        return await _page(request, container, user, failed=provider, error=exc, typed_mode=mode)
    flash(request, f"{label_of(provider)} account saved.")
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{provider}/delete", response_class=HTMLResponse)
async def delete_account(
    provider: str, request: Request, container: ContainerDep, user: UserDep
) -> Response:
    await verified_form(request)
    try:
        await provider_accounts.delete_account(
            container.db, user.merchant_id, provider, _actor(user)
        )
    except HazinaError as exc:
        return await _page(request, container, user, failed=provider, error=exc)
    flash(request, f"{label_of(provider)} account removed.")
    return RedirectResponse(PAGE, status_code=303)
