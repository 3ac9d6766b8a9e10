"""Orders take only ISO 4217 currencies, and the checkout shows their amounts as the server
writes them (contract endpoint #2, issue 9 item 7)."""

import httpx
import pytest
from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import Order
from tests.envelopes import assert_error

CURRENCY_REFUSED = "currency must be an active ISO 4217 code in capitals, such as USD"


@pytest.mark.parametrize("currency", ["XXY", "ABC", "ZWL", "usd", "XXX", "XAU"])
async def test_an_order_in_a_currency_outside_iso_4217_is_refused(
    client: httpx.AsyncClient, db: Database, currency: str
) -> None:
    response = await client.post("/api/v1/orders", json={"amount": 50000, "currency": currency})
    assert_error(response, 400, "BAD_REQUEST_ERROR", CURRENCY_REFUSED)
    async with db.read() as session:
        assert list(await session.scalars(select(Order.id))) == []


@pytest.mark.parametrize("currency", ["JPY", "USD", "KWD", "ZWG", "ZMW", "CLF"])
async def test_an_order_in_any_iso_4217_currency_is_taken(
    client: httpx.AsyncClient, currency: str
) -> None:
    response = await client.post("/api/v1/orders", json={"amount": 50000, "currency": currency})
    assert response.status_code == 201, response.text
    assert (response.json()["amount"], response.json()["currency"]) == (50000, currency)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (50000, "JPY", "¥50,000"),
        (50000, "INR", "₹500.00"),
        (123450, "ZWG", "ZiG 1,234.50"),
        (12340, "KWD", "KWD 12.340"),
    ],
)
async def test_the_checkout_shows_the_amount_the_server_formats(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    amount: int,
    currency: str,
    shown: str,
) -> None:
    order = (
        await client.post("/api/v1/orders", json={"amount": amount, "currency": currency})
    ).json()
    page = await anonymous.get("/checkout", params={"order_id": order["id"]})
    assert page.status_code == 200
    assert f'data-test-id="order-amount">{shown}</strong>' in page.text
    assert page.text.count(f">Pay {shown}</button>") == 2  # the UPI and card forms

    # The public order keeps its contract shape: the browser has nothing left to format.
    public = (await anonymous.get(f"/api/v1/orders/{order['id']}/public")).json()
    assert (public["amount"], public["currency"]) == (amount, currency)


async def test_the_checkout_of_an_unknown_order_shows_no_amount(
    anonymous: httpx.AsyncClient,
) -> None:
    page = await anonymous.get("/checkout", params={"order_id": "order_unknown000000"})
    assert page.status_code == 200
    assert 'data-test-id="order-amount">…</strong>' in page.text
    assert ">Pay</button>" in page.text
