"""A payment link's terms hold for every way of paying its order, not only its page: once the
link is cancelled or expired, or for a method it excludes, the public and the authenticated
payment API refuse the attempt and write nothing, and `/checkout` says so. On both databases."""

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from hazina.bootstrap import Container
from hazina.db.models import Event, Order, Payment, PaymentLink
from hazina.domain.clock import utc_now
from hazina.worker import Worker
from tests.conftest import http_client
from tests.waiting import drain

UPI = {"method": "upi", "vpa": "asha@upi"}
CARD = {
    "method": "card",
    "card": {
        "number": "4111111111111111",
        "expiry_month": "12",
        "expiry_year": "2099",
        "cvv": "123",
        "holder_name": "Asha",
    },
}


async def new_link(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/payment-links", json={"amount": 50000} | fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def attempts(
    client: httpx.AsyncClient, container: Container, order_id: str, method: dict[str, Any]
) -> list[httpx.Response]:
    """The same attempt anonymously (the checkout's route) and with the merchant's key."""
    async with http_client(container) as anonymous:
        public = await anonymous.post(
            "/api/v1/payments/public", json={"order_id": order_id} | method
        )
    private = await client.post("/api/v1/payments", json={"order_id": order_id} | method)
    return [public, private]


async def assert_nothing_written(container: Container, order_id: str) -> None:
    async with container.db.read() as session:
        status = await session.scalar(select(Order.status).where(Order.id == order_id))
        payments = await session.scalar(
            select(func.count()).select_from(Payment).where(Payment.order_id == order_id)
        )
        events = await session.scalar(select(func.count()).select_from(Event))
    assert (status, payments, events) == ("created", 0, 0)


def assert_refused(responses: list[httpx.Response], description: str) -> None:
    for response in responses:
        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": {"code": "BAD_REQUEST_ERROR", "description": description}
        }


async def expire(container: Container, link: dict[str, Any]) -> None:
    """Move the link's expiry (and so its order's) into the past, as time would."""
    past = utc_now() - timedelta(seconds=1)
    async with container.db.transaction() as session:
        await session.execute(
            update(PaymentLink).where(PaymentLink.id == link["id"]).values(expires_at=past)
        )
        await session.execute(
            update(Order).where(Order.id == link["order_id"]).values(link_expires_at=past)
        )


async def test_a_cancelled_link_takes_no_payment_by_any_route(
    client: httpx.AsyncClient, container: Container
) -> None:
    link = await new_link(client, methods=["card"])
    cancelled = await client.post(f"/api/v1/payment-links/{link['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    refusal = "Payment link cancelled: it takes no new payments"
    # Closed comes first: neither the link's own method nor one it excluded gets through.
    assert_refused(await attempts(client, container, link["order_id"], CARD), refusal)
    assert_refused(await attempts(client, container, link["order_id"], UPI), refusal)
    await assert_nothing_written(container, link["order_id"])
    async with http_client(container) as anonymous:
        page = await anonymous.get(f"/checkout?order_id={link['order_id']}")
    assert page.status_code == 410
    assert refusal in page.text
    assert 'data-test-id="method-' not in page.text


async def test_an_expired_link_takes_no_payment_by_any_route(
    client: httpx.AsyncClient, container: Container
) -> None:
    link = await new_link(client)
    await expire(container, link)
    assert (await client.get(f"/api/v1/payment-links/{link['id']}")).json()["status"] == "expired"
    refusal = "Payment link expired: it takes no new payments"
    assert_refused(await attempts(client, container, link["order_id"], UPI), refusal)
    await assert_nothing_written(container, link["order_id"])
    async with http_client(container) as anonymous:
        page = await anonymous.get(f"/checkout?order_id={link['order_id']}")
    assert page.status_code == 410
    assert refusal in page.text


async def test_a_method_the_link_excludes_is_refused_and_its_own_pays(
    client: httpx.AsyncClient, container: Container, worker: Worker
) -> None:
    link = await new_link(client, methods=["upi"])
    assert_refused(
        await attempts(client, container, link["order_id"], CARD),
        "Method card is not allowed by this payment link: use upi",
    )
    await assert_nothing_written(container, link["order_id"])
    async with http_client(container) as anonymous:
        page = await anonymous.get(f"/checkout?order_id={link['order_id']}")
        assert page.status_code == 200
        assert 'data-test-id="method-upi"' in page.text
        assert 'data-test-id="method-card"' not in page.text
        paid = await anonymous.post(
            "/api/v1/payments/public", json={"order_id": link["order_id"]} | UPI
        )
    assert paid.status_code == 201, paid.text
    await drain(worker)
    assert (await client.get(f"/api/v1/payment-links/{link['id']}")).json()["status"] == "paid"


async def test_an_order_without_a_link_takes_any_method(
    client: httpx.AsyncClient, container: Container
) -> None:
    order = (await client.post("/api/v1/orders", json={"amount": 50000})).json()
    for response in await attempts(client, container, order["id"], CARD):
        assert response.status_code == 201, response.text
    async with http_client(container) as anonymous:
        page = await anonymous.get(f"/checkout?order_id={order['id']}")
    assert page.status_code == 200
    assert 'data-test-id="method-upi"' in page.text
    assert 'data-test-id="method-card"' in page.text
