"""`/l/{code}`: a payment link's page. While the link is active it is the hosted checkout of the
link's order (the methods the link allows); once paid it shows the receipt; an expired or
cancelled link says so. The code is the only thing the page is told."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from hazina.domain.errors import NotFound
from hazina.domain.links import LinkStatus
from hazina.domain.money import format_money
from hazina.services.checkout_methods import checkout_offer
from hazina.services.links.views import find_public_link
from hazina.web.dependencies import ContainerDep
from hazina.web.routes.checkout import present
from hazina.web.templating import render

router = APIRouter(include_in_schema=False)
Code = Annotated[str, Path(max_length=32)]


@router.get("/l/{code}", response_class=HTMLResponse)
async def link_page(request: Request, container: ContainerDep, code: Code) -> HTMLResponse:
    try:
        link = await find_public_link(container.db, code)
    except NotFound:
        missing = {"title": "Link not found", "text": "This payment link does not exist."}
        return render(request, "error.html", missing, status=404, frameable=True)
    amount = format_money(link.amount, link.currency)
    if link.status is not LinkStatus.ACTIVE:
        context: dict[str, Any] = {"link": link, "amount_display": amount}
        # Gone: the page offers no way to pay, and the order refuses new attempts. One started
        # before may still pay it (money that arrived is never ignored): it then shows as paid.
        status = 200 if link.status is LinkStatus.PAID else 410
        return render(request, "link.html", context, status=status, frameable=True)
    # The order carries the link's methods, so the offer is already narrowed to them.
    offer = await checkout_offer(container.db, container.providers.registry, link.order_id)
    page = {
        "order_id": link.order_id,
        "embedded": False,
        "methods": tuple(present(method) for method in offer.methods),
        "amount_display": amount,
        "description": link.description,
        "merchant_name": link.merchant_name,
    }
    return render(request, "checkout.html", page, frameable=True)
