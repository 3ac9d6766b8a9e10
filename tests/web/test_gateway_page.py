"""Generic gateways on `/dashboard/providers` and the checkout, through the ASGI app on SQLite
and PostgreSQL: a gateway is added with its template, its secret shown on that answer only,
rotated (shown once again), removed; it never gets a credentials form; the hosted checkout
offers it as its own method."""

import re

import httpx

from hazina.bootstrap import Container
from tests.conftest import AUTH, http_client
from tests.web.conftest import log_in, post_form

PAGE = "/dashboard/providers"
TEMPLATE = "https://pay.example/checkout?ref={payment_id}&amount={amount}"
_SECRET = re.compile(r'data-test-id="gateway-secret-value">(gwsec_[^<]+)<')


def secret_on(page: httpx.Response) -> str | None:
    found = _SECRET.search(page.text)
    return found.group(1) if found else None


async def test_a_gateway_is_added_shown_once_rotated_and_removed(
    container: Container, visitor: httpx.AsyncClient
) -> None:
    await log_in(visitor)
    before = await visitor.get(PAGE)
    assert 'data-provider="generic"' not in before.text  # no form to type its secret into

    added = await post_form(
        visitor, PAGE, f"{PAGE}/generic", {"name": "shop", "redirect_url_template": TEMPLATE}
    )
    assert added.status_code == 200, added.text
    first = secret_on(added)
    assert first is not None
    again = await visitor.get(PAGE)
    assert secret_on(again) is None
    assert 'data-name="shop"' in again.text
    assert first[-4:] in again.text
    assert first not in again.text

    rotated = await post_form(visitor, PAGE, f"{PAGE}/generic/shop/rotate")
    second = secret_on(rotated)
    assert second is not None
    assert second != first
    assert "keeps working until" in rotated.text

    bad = await post_form(
        visitor, PAGE, f"{PAGE}/generic", {"name": "shop", "redirect_url_template": "nope"}
    )
    assert bad.status_code == 400
    assert "redirect_url_template" in bad.text

    async with http_client(container, AUTH) as api:
        order = await api.post("/api/v1/orders", json={"amount": 50000, "currency": "INR"})
        checkout = await api.get("/checkout", params={"order_id": order.json()["id"]})
    assert 'data-method="generic:shop"' in checkout.text
    assert ">Shop</button>" in checkout.text

    removed = await post_form(visitor, PAGE, f"{PAGE}/generic/shop/delete")
    assert removed.status_code == 303
    assert 'data-name="shop"' not in (await visitor.get(PAGE)).text
