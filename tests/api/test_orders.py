"""Orders over HTTP: create, read, the public view, validation (contract endpoints #2-#4)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hazina.db.database import Database
from hazina.db.models import Order
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.worker import Worker
from tests.waiting import drain

ORDER_ID = re.compile(r"order_[A-Za-z0-9]{16}")
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
CREATED_KEYS = {
    "id",
    "merchant_id",
    "amount",
    "currency",
    "receipt",
    "notes",
    "status",
    "livemode",
    "created_at",
}


def parse_z(value: str) -> datetime:
    assert ISO_Z.fullmatch(value), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def assert_error(response: httpx.Response, status: int, code: str, description: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": {"code": code, "description": description}}


def assert_bad_request(response: httpx.Response) -> dict[str, Any]:
    """A validation failure in the contract's envelope; FastAPI's 422 never leaks."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "description"}
    assert body["error"]["code"] == "BAD_REQUEST_ERROR"
    assert body["error"]["description"]
    error: dict[str, Any] = body["error"]
    return error


async def test_create_order_full_body(client: httpx.AsyncClient) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = await client.post(
        "/api/v1/orders",
        json={
            "amount": 50000,
            "currency": "INR",
            "receipt": "receipt_123",
            "notes": {"customer_name": "John Doe", "tags": ["a", 1]},
        },
    )
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert "idempotent-replayed" not in response.headers
    body = response.json()
    assert set(body) == CREATED_KEYS
    assert ORDER_ID.fullmatch(body["id"])
    assert body["merchant_id"] == str(TEST_MERCHANT_ID)
    assert body["amount"] == 50000
    assert body["currency"] == "INR"
    assert body["receipt"] == "receipt_123"
    assert body["notes"] == {"customer_name": "John Doe", "tags": ["a", 1]}
    assert body["status"] == "created"
    assert body["livemode"] is False
    assert before <= parse_z(body["created_at"]) <= datetime.now(UTC) + timedelta(seconds=1)


async def test_create_order_defaults(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/orders", json={"amount": 100})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == CREATED_KEYS
    assert body["amount"] == 100
    assert body["currency"] == "INR"
    assert body["receipt"] is None
    assert body["notes"] == {}
    assert body["status"] == "created"
    assert body["livemode"] is False


async def test_order_ids_are_unique(client: httpx.AsyncClient) -> None:
    ids = {
        (await client.post("/api/v1/orders", json={"amount": 100})).json()["id"] for _ in "abcde"
    }
    assert len(ids) == 5
    assert all(ORDER_ID.fullmatch(order_id) for order_id in ids)


async def test_get_order(client: httpx.AsyncClient) -> None:
    created = (
        await client.post(
            "/api/v1/orders", json={"amount": 2500, "currency": "USD", "notes": {"k": "v"}}
        )
    ).json()
    response = await client.get(f"/api/v1/orders/{created['id']}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == CREATED_KEYS | {"updated_at"}
    assert {key: body[key] for key in CREATED_KEYS} == created
    assert body["currency"] == "USD"
    assert parse_z(body["updated_at"]) >= parse_z(body["created_at"])


async def test_get_order_notes_are_an_empty_object_when_absent(client: httpx.AsyncClient) -> None:
    for payload in ({"amount": 100}, {"amount": 100, "notes": None}, {"amount": 100, "notes": {}}):
        order_id = (await client.post("/api/v1/orders", json=payload)).json()["id"]
        body = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert body["notes"] == {}


@pytest.mark.parametrize(
    "order_id", ["order_DoesNotExist0001", "order_", "nothing", "pay_ABCDEFGHabcdef12"]
)
async def test_get_unknown_order_is_404(client: httpx.AsyncClient, order_id: str) -> None:
    response = await client.get(f"/api/v1/orders/{order_id}")
    assert_error(response, 404, "NOT_FOUND_ERROR", "Order not found")


async def test_public_order_is_basic_info_only(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    created = (
        await client.post(
            "/api/v1/orders", json={"amount": 50000, "receipt": "r-1", "notes": {"secret": "x"}}
        )
    ).json()
    response = await anonymous.get(f"/api/v1/orders/{created['id']}/public")
    assert response.status_code == 200
    assert response.json() == {
        "id": created["id"],
        "amount": 50000,
        "currency": "INR",
        "status": "created",
    }


async def test_public_unknown_order_is_404(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/v1/orders/order_DoesNotExist0001/public")
    assert_error(response, 404, "NOT_FOUND_ERROR", "Order not found")


async def test_order_status_created_attempted_paid(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, worker: Worker
) -> None:
    order = (await client.post("/api/v1/orders", json={"amount": 50000})).json()
    assert order["status"] == "created"
    created = await client.post(
        "/api/v1/payments", json={"order_id": order["id"], "method": "upi", "vpa": "user@paytm"}
    )
    assert created.status_code == 201
    attempted = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert attempted["status"] == "attempted"
    assert (await anonymous.get(f"/api/v1/orders/{order['id']}/public")).json()[
        "status"
    ] == "attempted"
    await drain(worker)
    paid = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert paid["status"] == "paid"
    assert parse_z(paid["updated_at"]) >= parse_z(attempted["updated_at"])
    assert (await anonymous.get(f"/api/v1/orders/{order['id']}/public")).json()["status"] == "paid"


async def test_a_paid_order_refuses_another_payment(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    order = (await client.post("/api/v1/orders", json={"amount": 50000})).json()
    body = {"order_id": order["id"], "method": "upi", "vpa": "user@paytm"}
    assert (await client.post("/api/v1/payments", json=body)).status_code == 201
    await drain(worker)
    response = await client.post("/api/v1/payments", json=body)
    assert_error(response, 400, "BAD_REQUEST_ERROR", "Order already paid")


@pytest.mark.parametrize("amount", [99, 0, -1, -50000])
async def test_amount_below_100_is_refused(client: httpx.AsyncClient, amount: int) -> None:
    response = await client.post("/api/v1/orders", json={"amount": amount})
    assert_error(response, 400, "BAD_REQUEST_ERROR", "amount must be at least 100")


async def test_amount_is_bounded_by_what_storage_holds(client: httpx.AsyncClient) -> None:
    largest = 2**63 - 1
    created = await client.post("/api/v1/orders", json={"amount": largest})
    assert created.status_code == 201
    assert (await client.get(f"/api/v1/orders/{created.json()['id']}")).json()["amount"] == largest
    for amount in (largest + 1, 10**30):
        response = await client.post("/api/v1/orders", json={"amount": amount})
        assert_error(response, 400, "BAD_REQUEST_ERROR", f"amount must be at most {largest}")


@pytest.mark.parametrize(
    "amount", [100.0, 500.5, "50000", "abc", True, None, [100], {"value": 100}]
)
async def test_non_integer_amounts_are_refused(client: httpx.AsyncClient, amount: object) -> None:
    response = await client.post("/api/v1/orders", json={"amount": amount})
    error = assert_bad_request(response)
    assert error["description"].startswith("amount: ")


async def test_float_amount_is_never_rounded(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/orders",
        content=b'{"amount": 50000.0}',
        headers={"content-type": "application/json"},
    )
    assert_bad_request(response)


async def test_missing_amount(client: httpx.AsyncClient) -> None:
    for payload in ({}, {"currency": "INR"}):
        response = await client.post("/api/v1/orders", json=payload)
        assert_error(response, 400, "BAD_REQUEST_ERROR", "amount: Field required")


@pytest.mark.parametrize(
    "content", [b'{"amount": 500', b"amount=500", b"", b"{'amount': 500}", b"\xff\xfe"]
)
async def test_malformed_json(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        "/api/v1/orders", content=content, headers={"content-type": "application/json"}
    )
    assert_bad_request(response)


@pytest.mark.parametrize("payload", [[{"amount": 500}], "500", 500, None])
async def test_body_must_be_an_object(client: httpx.AsyncClient, payload: object) -> None:
    assert_bad_request(await client.post("/api/v1/orders", json=payload))


async def test_a_form_encoded_body_is_told_to_send_json(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post("/api/v1/orders", data={"amount": "500"})
    assert response.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert_error(
        response,
        400,
        "BAD_REQUEST_ERROR",
        "Request body must be a JSON object (send Content-Type: application/json)",
    )
    async with db.read() as session:
        assert list(await session.scalars(select(Order.id))) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": 500, "currency": "inr"},
        {"amount": 500, "currency": "RUPEE"},
        {"amount": 500, "currency": "IN"},
        {"amount": 500, "currency": 356},
        {"amount": 500, "receipt": "r" * 256},
        {"amount": 500, "notes": "a note"},
        {"amount": 500, "notes": ["a"]},
        {"amount": 500, "receipt": "r\u0000"},  # PostgreSQL cannot store NUL in text
        {"amount": 500, "currency": "IN\u0000"},
    ],
)
async def test_invalid_optional_fields(client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
    assert_bad_request(await client.post("/api/v1/orders", json=payload))


async def test_rejected_orders_are_not_stored(client: httpx.AsyncClient, db: Database) -> None:
    assert (await client.post("/api/v1/orders", json={"amount": 99})).status_code == 400
    assert (await client.post("/api/v1/orders", json={"amount": 1.5})).status_code == 400
    assert (await client.post("/api/v1/orders", json={"amount": 100})).status_code == 201
    async with db.read() as session:
        amounts = list(await session.scalars(select(Order.amount)))
    assert amounts == [100]


async def test_nul_in_an_order_id_is_a_bad_request_on_every_database(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    for response in (
        await client.get("/api/v1/orders/order_%00"),
        await anonymous.get("/api/v1/orders/order_%00/public"),
    ):
        error = assert_bad_request(response)
        assert error["description"] == "URL must not contain NUL characters"  # RequestBounds
