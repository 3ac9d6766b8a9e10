"""A customer can always try again, and an order is paid once: the contract's published test
flow on one order, duplicate successes refunded automatically, over HTTP on both databases."""

from typing import Any

import httpx
from sqlalchemy import select

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.db.models import Event, Refund
from hazina.worker import Worker
from tests.envelopes import assert_error
from tests.factories import failing_worker
from tests.waiting import drain

UPI = {"method": "upi", "vpa": "user@paytm"}
CARD: dict[str, Any] = {
    "method": "card",
    "card": {
        "number": "4111111111111111",
        "expiry_month": "12",
        "expiry_year": "2099",
        "cvv": "123",
        "holder_name": "Asha",
    },
}


def card(number: str = "4111111111111111", month: str = "12", year: str = "2099") -> dict[str, Any]:
    return CARD | {
        "card": CARD["card"] | {"number": number, "expiry_month": month, "expiry_year": year}
    }


async def new_order(client: httpx.AsyncClient, amount: int = 50000) -> str:
    response = await client.post("/api/v1/orders", json={"amount": amount})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def pay(client: httpx.AsyncClient, order_id: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/payments", json={"order_id": order_id} | body)


async def event_types(db: Database, resource_id: str) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(
            select(Event.type).where(Event.resource_id == resource_id).order_by(Event.created_at)
        )
        return list(rows)


async def test_the_contracts_test_flow_pays_one_order_once(
    client: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    order_id = await new_order(client)
    upi = await pay(client, order_id, UPI)
    assert upi.status_code == 201, upi.text
    # The UPI payment is still pending: a card attempt on the same order is taken all the same.
    card_payment = await pay(client, order_id, CARD)
    assert card_payment.status_code == 201, card_payment.text
    assert card_payment.json()["status"] == "pending"
    # Each bad instrument gets its own code, whatever the order's state.
    bad_vpa = await pay(client, order_id, {"method": "upi", "vpa": "no-at-sign"})
    assert bad_vpa.status_code == 400
    assert bad_vpa.json()["error"]["code"] == "INVALID_VPA"
    luhn = await pay(client, order_id, card("4111111111111112"))
    assert luhn.json()["error"]["code"] == "INVALID_CARD"
    expired = await pay(client, order_id, card(month="01", year="2020"))
    assert expired.json()["error"]["code"] == "EXPIRED_CARD"

    await drain(worker)  # both attempts succeed in the sandbox, and the duplicate's refund runs

    order = (await client.get(f"/api/v1/orders/{order_id}")).json()
    assert order["status"] == "paid"
    payments = [
        (await client.get(f"/api/v1/payments/{created.json()['id']}")).json()
        for created in (upi, card_payment)
    ]
    kept, returned = sorted(payments, key=lambda p: p["status"] == "refunded")
    assert kept["status"] == "success"
    assert returned["status"] == "refunded"
    assert returned["amount_refunded"] == returned["amount"] == 50000
    async with db.read() as session:
        refund = (
            await session.scalars(select(Refund).where(Refund.payment_id == returned["id"]))
        ).one()
    assert (refund.amount, refund.status) == (50000, "processed")
    assert "payment.success" in await event_types(db, kept["id"])
    assert await event_types(db, returned["id"]) == [
        "payment.created",
        "payment.pending",
        "payment.refunded",
    ]
    assert await event_types(db, refund.id) == ["refund.created", "refund.processed"]

    # Paid: a new attempt is refused, but a bad instrument still gets its own code first.
    again = await pay(client, order_id, UPI)
    assert_error(again, 400, "BAD_REQUEST_ERROR", "Order already paid")
    still_bad = await pay(client, order_id, {"method": "upi", "vpa": "no-at-sign"})
    assert still_bad.json()["error"]["code"] == "INVALID_VPA"


async def test_a_declined_attempt_then_a_new_one_pays_the_order(
    client: httpx.AsyncClient, container: Container, db: Database
) -> None:
    order_id = await new_order(client)
    first = await pay(client, order_id, UPI)
    await drain(failing_worker(container))
    assert (await client.get(f"/api/v1/payments/{first.json()['id']}")).json()["status"] == (
        "failed"
    )
    second = await pay(client, order_id, CARD)
    assert second.status_code == 201, second.text
    await drain(Worker.from_container(container))
    assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "paid"
    assert await event_types(db, second.json()["id"]) == [
        "payment.created",
        "payment.pending",
        "payment.success",
    ]


async def test_the_checkout_cannot_ask_to_hold_money_uncaptured(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    order_id = await new_order(client)
    body = {"order_id": order_id, "capture": False} | UPI
    refused = await anonymous.post("/api/v1/payments/public", json=body)
    assert_error(
        refused,
        400,
        "BAD_REQUEST_ERROR",
        '"capture": false is the merchant\'s choice: use POST /api/v1/payments',
    )
    listed = (await client.get("/api/v1/payments")).json()
    assert listed["total"] == 0
