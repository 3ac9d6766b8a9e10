"""The hosted checkout (`/checkout`, `/success`, `/failure`), the SDK (`/checkout.js`) and the
development-only `/demo` merchant page.

The checkout page is a client of the public JSON API (order, create payment, poll payment), as
any checkout served elsewhere would be; these handlers only serve the pages.
"""

import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from hazina.domain.errors import NotFound
from hazina.domain.gateways import gateway_name
from hazina.domain.money import UnknownCurrency, format_money
from hazina.services import orders, payments
from hazina.services.approvals.completion import note_return
from hazina.services.checkout_methods import checkout_offer
from hazina.services.merchants import find_merchant_by_email
from hazina.web.dependencies import ContainerDep
from hazina.web.templating import STATIC, render

router = APIRouter(include_in_schema=False)
OrderIdQuery = Annotated[str | None, Query(max_length=64)]
DEMO_AMOUNT = 50000
# Which outcome page a payment's status shows; anything else is still pending.
OUTCOMES = {
    "success": "success",
    "failed": "failure",
    "review": "held",
    "refunded": "refunded",
}


@dataclass(frozen=True, slots=True)
class Method:
    """A button of the method choice. A method with a form (`upi`, `card`, ClickPesa's optional
    phone number) collects details first; one without (Stripe) starts the payment at once. A
    provider's payment then follows the `next_action` it answers with."""

    id: str
    label: str
    has_form: bool
    provider: bool = False


SANDBOX = {"upi": Method("upi", "UPI", True), "card": Method("card", "Card", True)}
# How the checkout presents each provider method; an adapter added later without an entry here
# still gets a plain button.
PROVIDER_METHODS = {
    "stripe": Method("stripe", "Stripe", False, provider=True),
    "clickpesa": Method("clickpesa", "ClickPesa", True, provider=True),
    "paypal": Method("paypal", "PayPal", False, provider=True),
    "paynow": Method("paynow", "Paynow", False, provider=True),
    "ecocash": Method("ecocash", "EcoCash", True, provider=True),
    "onemoney": Method("onemoney", "OneMoney", True, provider=True),
    "innbucks": Method("innbucks", "InnBucks", False, provider=True),
    "ecocash_direct": Method("ecocash_direct", "EcoCash", True, provider=True),
}


def present(method: str) -> Method:
    gateway = gateway_name(method)
    if gateway:  # the merchant's own payment website: a button with the name it was given
        return Method(method, gateway.replace("-", " ").title(), False, provider=True)
    return (
        SANDBOX.get(method)
        or PROVIDER_METHODS.get(method)
        or Method(method, method.title(), False, provider=True)
    )


@router.get("/checkout", response_class=HTMLResponse)
async def checkout(
    request: Request,
    container: ContainerDep,
    order_id: OrderIdQuery = None,
    embedded: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    if not order_id:
        text = "This checkout link is incomplete: it must name an order (order_id)."
        context = {"title": "No order", "text": text}
        return render(request, "error.html", context, status=400, frameable=True)
    # Computed here, not by the page's script: which providers a merchant uses is not part of
    # the public order, and the buttons are in the page before any script runs. A live order
    # is never offered the sandbox's methods, nor a payment link's order more than its link's.
    offer = await checkout_offer(container.db, container.providers.registry, order_id)
    if offer.closed is not None:
        context = {"title": "Payment link closed", "text": f"{offer.closed}. Nothing was charged."}
        return render(request, "error.html", context, status=410, frameable=True)
    methods = tuple(present(method) for method in offer.methods)
    page = {"order_id": order_id, "embedded": embedded, "methods": methods}
    page["amount_display"] = await _amount_display(container, order_id)
    return render(request, "checkout.html", page, frameable=True)


async def _amount_display(container: ContainerDep, order_id: str) -> str | None:
    """The order's amount as the server writes it (`₹500.00`, `¥500`, `KWD 1.230`): one ISO 4217
    table decides the decimals, not each browser's own. None for an unknown order, whose page
    then says so once its script asks for the order, and for an order older than the table
    whose currency is not in it: no amount is better than a wrong one."""
    try:
        order = await orders.get_public_order(container.db, order_id)
        return format_money(order["amount"], order["currency"])
    except (NotFound, UnknownCurrency):
        return None


async def _outcome(container: ContainerDep, payment_id: str | None) -> dict[str, Any] | None:
    if not payment_id:
        return None
    try:
        return await payments.get_public_payment(container.db, payment_id)
    except NotFound:
        return None


@router.get("/success", response_class=HTMLResponse)
async def success(
    request: Request, container: ContainerDep, payment_id: OrderIdQuery = None
) -> HTMLResponse:
    payment = await _outcome(container, payment_id)
    # A provider sends the customer here once they finished on its page; the payment itself
    # says how it went (it may still be pending, held for review, or being returned).
    outcome = OUTCOMES.get(payment["status"], "pending") if payment else "pending"
    context = {"payment": payment, "outcome": outcome, "order_id": payment and payment["order_id"]}
    return render(request, "outcome.html", context, frameable=True)


@router.get("/checkout/approved")
async def approved(
    container: ContainerDep, payment_id: OrderIdQuery = None, token: OrderIdQuery = None
) -> RedirectResponse:
    """An `APPROVAL` provider's return URL (PayPal appends its order id as `token`): Hazina
    asks for the payment's completion, then shows the outcome page, which follows it."""
    if payment_id:
        await note_return(container.db, container.providers, payment_id, token)
    query = urlencode({"payment_id": payment_id} if payment_id else {})
    return RedirectResponse(f"/success?{query}", status_code=303)


@router.get("/failure", response_class=HTMLResponse)
async def failure(
    request: Request,
    container: ContainerDep,
    payment_id: OrderIdQuery = None,
    order_id: OrderIdQuery = None,
) -> HTMLResponse:
    payment = await _outcome(container, payment_id)
    context = {"payment": payment, "outcome": "failure", "order_id": order_id}
    return render(request, "outcome.html", context, frameable=True)


@router.get("/checkout.js")
async def sdk() -> FileResponse:
    # Short caching: merchants load it on every checkout, and fixes must reach them soon.
    headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
    return FileResponse(STATIC / "sdk.js", media_type="text/javascript", headers=headers)


@router.get("/demo", response_class=HTMLResponse)
async def demo(request: Request, container: ContainerDep) -> HTMLResponse:
    """A merchant page for a fresh ₹500.00 order of the test merchant (development only)."""
    settings = container.settings
    merchant = None
    if not settings.is_production:
        merchant = await find_merchant_by_email(container.db, settings.test_merchant_email)
    if merchant is None:
        context = {"title": "Not found", "text": "There is no demo here."}
        return render(request, "error.html", context, status=404)
    stored = await orders.create_order(
        container.db,
        merchant.id,
        orders.NewOrder(amount=DEMO_AMOUNT, receipt="demo"),
        None,
        settings.idempotency_ttl,
        livemode=merchant.livemode,
    )
    order = json.loads(stored.body)
    return render(request, "demo.html", {"order": order, "api_key": merchant.api_key})
