"""Payments over HTTP: create (UPI, card, public), read, public status, list, processing, events."""

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db.database import Database
from hazina.db.models import Base, Event, Order, Payment
from hazina.worker import Worker
from tests.conftest import make_settings
from tests.waiting import drain

PAYMENT_ID = re.compile(r"pay_[A-Za-z0-9]{16}")
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
BASE_KEYS = {"id", "order_id", "amount", "currency", "method", "status", "created_at"}
# Hazina's resources say which mode they belong to; the public (checkout) view does not.
UPI_CREATED = BASE_KEYS | {"vpa", "livemode"}
CARD_CREATED = BASE_KEYS | {"card_network", "card_last4", "livemode"}
DETAIL = {"captured", "amount_refunded", "updated_at"}
FAILURE = {"error_code", "error_description"}
PAN = "4111111111111111"
CVV = "987"
TODAY = datetime.now(UTC)
NEXT_YEAR = str(TODAY.year + 1)
LAST_MONTH = (TODAY.year, TODAY.month - 1) if TODAY.month > 1 else (TODAY.year - 1, 12)


def card(number: str = PAN, /, **overrides: Any) -> dict[str, Any]:
    return {
        "number": number,
        "expiry_month": "12",
        "expiry_year": NEXT_YEAR,
        "cvv": CVV,
        "holder_name": "John Doe",
    } | overrides


async def new_order(client: httpx.AsyncClient, amount: int = 50000) -> str:
    response = await client.post("/api/v1/orders", json={"amount": amount, "currency": "INR"})
    assert response.status_code == 201
    order_id: str = response.json()["id"]
    return order_id


async def pay(client: httpx.AsyncClient, order_id: str, **body: Any) -> httpx.Response:
    payload = {"order_id": order_id, "method": "upi", "vpa": "user@paytm"} | body
    return await client.post("/api/v1/payments", json=payload)


async def event_types(db: Database, payment_id: str) -> list[str]:
    async with db.read() as session:
        events = await session.scalars(
            select(Event).where(Event.resource_id == payment_id).order_by(Event.created_at)
        )
        return [event.type for event in events]


def leaves(value: object) -> list[object]:
    """Every scalar inside a JSON document."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def assert_error(response: httpx.Response, status: int, code: str, description: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": {"code": code, "description": description}}


async def test_create_upi_payment(client: httpx.AsyncClient) -> None:
    order_id = await new_order(client, 50000)
    response = await pay(client, order_id)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == UPI_CREATED
    assert PAYMENT_ID.fullmatch(body["id"])
    assert body["order_id"] == order_id
    assert (body["amount"], body["currency"], body["method"]) == (50000, "INR", "upi")
    assert body["vpa"] == "user@paytm"
    assert body["status"] == "pending"
    assert body["livemode"] is False
    assert ISO_Z.fullmatch(body["created_at"])


@pytest.mark.parametrize(
    ("number", "month", "year", "network", "last4"),
    [
        (PAN, "12", NEXT_YEAR, "visa", "1111"),
        ("5555 5555 5555 4444", 12, int(NEXT_YEAR), "mastercard", "4444"),
        ("3782-822463-10005", "01", NEXT_YEAR[2:], "amex", "0005"),
        ("6011111111111117", 6, int(NEXT_YEAR[2:]), "rupay", "1117"),
        ("5105105105105100", TODAY.month, TODAY.year, "mastercard", "5100"),  # this month
    ],
)
async def test_create_card_payment(
    client: httpx.AsyncClient,
    number: str,
    month: str | int,
    year: str | int,
    network: str,
    last4: str,
) -> None:
    order_id = await new_order(client, 12345)
    response = await pay(
        client, order_id, method="card", card=card(number, expiry_month=month, expiry_year=year)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == CARD_CREATED
    assert (body["amount"], body["method"], body["status"]) == (12345, "card", "pending")
    assert (body["card_network"], body["card_last4"]) == (network, last4)
    detail = (await client.get(f"/api/v1/payments/{body['id']}")).json()
    assert set(detail) == CARD_CREATED | DETAIL
    assert {key: detail[key] for key in CARD_CREATED} == body


async def test_card_number_and_cvv_are_never_returned_or_stored(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, db: Database, worker: Worker
) -> None:
    order_id = await new_order(client)
    created = await pay(
        client,
        order_id,
        method="card",
        card=card("4111 1111 1111 1111"),
        vpa="ignored@bank",
    )
    assert created.status_code == 201
    payment_id = created.json()["id"]
    await drain(worker)
    responses = [
        created,
        await client.get(f"/api/v1/payments/{payment_id}"),
        await client.get("/api/v1/payments"),
        await anonymous.get(f"/api/v1/payments/{payment_id}/public"),
        await anonymous.get(f"/api/v1/payments/public/{payment_id}"),
    ]
    for response in responses:
        assert response.status_code in (200, 201)
        assert PAN not in response.text
        assert "4111 1111" not in response.text
        assert '"cvv"' not in response.text.lower()
        assert CVV not in leaves(response.json())
    async with db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for value in row:
                    assert PAN not in str(value), table.name
                    assert value != CVV, table.name
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    assert '"cvv"' not in text.lower(), table.name
        payment = await session.get_one(Payment, payment_id)
    assert (payment.card_network, payment.card_last4, payment.vpa) == ("visa", "1111", None)


async def test_get_payment_before_and_after_processing(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    order_id = await new_order(client, 777)
    created = (await pay(client, order_id, vpa="john.doe@okhdfcbank")).json()
    pending = await client.get(f"/api/v1/payments/{created['id']}")
    assert pending.status_code == 200
    body = pending.json()
    assert set(body) == UPI_CREATED | DETAIL
    assert {key: body[key] for key in UPI_CREATED} == created
    assert body["captured"] is False
    assert ISO_Z.fullmatch(body["updated_at"])
    await drain(worker)
    settled = (await client.get(f"/api/v1/payments/{created['id']}")).json()
    assert set(settled) == UPI_CREATED | DETAIL
    assert settled["status"] == "success"
    assert settled["captured"] is False
    assert settled["created_at"] == created["created_at"]
    assert settled["updated_at"] >= settled["created_at"]


async def test_events_at_creation_and_exactly_one_outcome(
    client: httpx.AsyncClient, db: Database, worker: Worker
) -> None:
    order_id = await new_order(client)
    payment_id = (await pay(client, order_id)).json()["id"]
    assert sorted(await event_types(db, payment_id)) == ["payment.created", "payment.pending"]
    await drain(worker)
    await drain(worker)  # a second pass finds nothing to do and emits nothing
    types = await event_types(db, payment_id)
    assert sorted(types) == ["payment.created", "payment.pending", "payment.success"]
    async with db.read() as session:
        success = await session.scalar(
            select(Event).where(Event.resource_id == payment_id, Event.type == "payment.success")
        )
    assert success is not None
    assert set(success.payload) == {"event", "timestamp", "livemode", "data"}
    assert success.payload["event"] == "payment.success"
    assert success.payload["livemode"] is False
    assert isinstance(success.payload["timestamp"], int)
    assert success.payload["data"]["payment"]["id"] == payment_id
    assert success.payload["data"]["payment"]["status"] == "success"


@pytest.mark.parametrize("path", ["/api/v1/payments/{}/public", "/api/v1/payments/public/{}"])
async def test_public_payment_status(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, worker: Worker, path: str
) -> None:
    order_id = await new_order(client, 4200)
    created = (await pay(client, order_id)).json()
    response = await anonymous.get(path.format(created["id"]))
    assert response.status_code == 200
    assert response.json() == {key: created[key] for key in BASE_KEYS}
    await drain(worker)
    assert (await anonymous.get(path.format(created["id"]))).json()["status"] == "success"


@pytest.mark.parametrize("path", ["/api/v1/payments/{}/public", "/api/v1/payments/public/{}"])
async def test_public_payment_status_unknown(anonymous: httpx.AsyncClient, path: str) -> None:
    response = await anonymous.get(path.format("pay_DoesNotExist0001"))
    assert_error(response, 404, "NOT_FOUND_ERROR", "Payment not found")


async def test_public_payment_create_needs_no_credentials(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, db: Database
) -> None:
    order_id = await new_order(client, 999)
    response = await anonymous.post(
        "/api/v1/payments/public", json={"order_id": order_id, "method": "card", "card": card()}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == CARD_CREATED
    assert (body["amount"], body["status"]) == (999, "pending")
    # It belongs to the order's merchant, who can read it with credentials.
    assert (await client.get(f"/api/v1/payments/{body['id']}")).json()["order_id"] == order_id
    assert sorted(await event_types(db, body["id"])) == ["payment.created", "payment.pending"]
    # UPI too, on an order of its own.
    upi_order_id = await new_order(client, 999)
    upi = await anonymous.post(
        "/api/v1/payments/public", json={"order_id": upi_order_id, "method": "upi", "vpa": "a@b"}
    )
    assert upi.status_code == 201
    assert set(upi.json()) == UPI_CREATED


async def test_payment_for_unknown_order(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    unknown = {"order_id": "order_DoesNotExist0001", "method": "upi", "vpa": "a@b"}
    for response in (
        await client.post("/api/v1/payments", json=unknown),
        await anonymous.post("/api/v1/payments/public", json=unknown),
    ):
        assert_error(response, 404, "NOT_FOUND_ERROR", "Order not found")
    order_id = await new_order(client)
    response = await anonymous.post(
        "/api/v1/payments/public", json={"order_id": order_id, "method": "upi", "vpa": "@paytm"}
    )
    assert_error(response, 400, "INVALID_VPA", "VPA format invalid")


async def test_unknown_payment_is_404(client: httpx.AsyncClient) -> None:
    for payment_id in ("pay_DoesNotExist0001", "order_DoesNotExist0001", "public", "x" * 500):
        response = await client.get(f"/api/v1/payments/{payment_id}")
        assert_error(response, 404, "NOT_FOUND_ERROR", "Payment not found")
    nul = "URL must not contain NUL characters"  # RequestBounds, before any route
    for path in ("/api/v1/payments/pay_%00", "/api/v1/payments/public/pay_%00"):
        assert_error(await client.get(path), 400, "BAD_REQUEST_ERROR", nul)


@pytest.mark.parametrize("vpa", ["user @paytm", "@paytm", "user@@bank", "user@", "", "user"])
async def test_invalid_vpa(client: httpx.AsyncClient, vpa: str) -> None:
    response = await pay(client, await new_order(client), vpa=vpa)
    assert_error(response, 400, "INVALID_VPA", "VPA format invalid")


@pytest.mark.parametrize(
    "number", ["4111111111111112", "411111111111", "4" * 20, "4111x11111111111", ""]
)
async def test_invalid_card(client: httpx.AsyncClient, number: str) -> None:
    response = await pay(client, await new_order(client), method="card", card=card(number))
    assert_error(response, 400, "INVALID_CARD", "Card validation failed")


@pytest.mark.parametrize(
    ("month", "year"),
    [
        ("12", "2020"),
        ("1", str(TODAY.year - 1)),
        (str(LAST_MONTH[1]), str(LAST_MONTH[0])),
        ("0", NEXT_YEAR),
        ("13", NEXT_YEAR),
    ],
)
async def test_expired_card(client: httpx.AsyncClient, month: str, year: str) -> None:
    expiry = {"expiry_month": month, "expiry_year": year}
    response = await pay(client, await new_order(client), method="card", card=card(**expiry))
    assert_error(response, 400, "EXPIRED_CARD", "Card expiry date invalid")


@pytest.mark.parametrize(
    ("body", "description"),
    [
        # None: "method must be one of: " and every method of the deployment's test mode.
        ({"method": "netbanking"}, None),
        ({"method": "UPI"}, None),
        ({"method": ""}, None),
        ({"method": "upi", "vpa": None}, "vpa is required for method upi"),
        ({"method": "card", "vpa": None}, "card is required for method card"),
    ],
)
async def test_method_errors(
    client: httpx.AsyncClient,
    container: Container,
    db: Database,
    body: dict[str, Any],
    description: str | None,
) -> None:
    if description is None:
        methods = container.providers.registry.methods(livemode=False)
        assert methods[:3] == ("upi", "card", "stripe")
        description = f"method must be one of: {', '.join(methods)}"
    order_id = await new_order(client)
    response = await pay(client, order_id, **body)
    assert_error(response, 400, "BAD_REQUEST_ERROR", description)
    async with db.read() as session:
        assert list(await session.scalars(select(Payment.id))) == []
        assert (await session.get_one(Order, order_id)).status == "created"


@pytest.mark.parametrize(
    "payload",
    [
        {"method": "upi", "vpa": "a@b"},
        {"order_id": "x"},
        {"order_id": "x", "method": "card", "card": {"number": PAN}},
        {"order_id": "x", "method": "card", "card": card(cvv="12")},
        {
            "order_id": "x",
            "method": "card",
            "card": {k: v for k, v in card().items() if k != "cvv"},
        },
        {"order_id": "x", "method": "card", "card": card(holder_name="")},
        {"order_id": "x", "method": "card", "card": "4111111111111111"},
        {"order_id": 5, "method": "upi", "vpa": "a@b"},
        {"order_id": "order_\u0000", "method": "upi", "vpa": "a@b"},  # NUL: PostgreSQL can't
        {"order_id": "x", "method": "upi", "vpa": "a\u0000@b"},
        {"order_id": "x", "method": "card", "card": card(holder_name="J\u0000")},
    ],
)
async def test_malformed_payment_requests(
    client: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/payments", json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert set(response.json()) == {"error"}
    assert PAN not in response.text


async def test_malformed_payment_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/payments", content=b'{"order_id": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "BAD_REQUEST_ERROR", "Request body is not valid JSON")


async def test_rejected_payments_leave_no_trace(client: httpx.AsyncClient, db: Database) -> None:
    order_id = await new_order(client)
    assert (await pay(client, order_id, vpa="bad vpa")).status_code == 400
    assert (await pay(client, order_id, method="card", card=card("1234"))).status_code == 400
    status = (await client.get("/api/v1/test/jobs/status")).json()
    assert status["pending"] == 0
    async with db.read() as session:
        assert list(await session.scalars(select(Payment.id))) == []
        assert list(await session.scalars(select(Event.id))) == []
    assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "created"


class TestFailedPayment:
    """TEST_PAYMENT_SUCCESS=false: the sandbox declines every payment."""

    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return make_settings(database_url, test_payment_success=False)

    async def test_failed_payment(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        db: Database,
        worker: Worker,
    ) -> None:
        order_id = await new_order(client)
        created = (await pay(client, order_id, method="card", card=card())).json()
        assert created["status"] == "pending"
        await drain(worker)
        body = (await client.get(f"/api/v1/payments/{created['id']}")).json()
        assert set(body) == CARD_CREATED | DETAIL | FAILURE
        assert body["status"] == "failed"
        assert body["error_code"] == "PAYMENT_FAILED"
        assert body["error_description"] == "Payment processing failed"
        assert body["captured"] is False
        public = (await anonymous.get(f"/api/v1/payments/{created['id']}/public")).json()
        assert set(public) == BASE_KEYS | FAILURE
        assert (public["status"], public["error_code"]) == ("failed", "PAYMENT_FAILED")
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "attempted"
        types = sorted(await event_types(db, created["id"]))
        assert types == ["payment.created", "payment.failed", "payment.pending"]
        listed = (await client.get("/api/v1/payments")).json()["data"]
        assert listed == [body]
        # A failed attempt leaves the order payable.
        assert (await pay(client, order_id)).status_code == 201


async def test_list_payments(client: httpx.AsyncClient, worker: Worker) -> None:
    # One order per payment: each payment settles to success on an order of its own.
    created = [
        (await pay(client, await new_order(client, 300), vpa=f"user{n}@bank")).json()["id"]
        for n in range(5)
    ]
    await drain(worker)
    newest_first = created[::-1]
    default = await client.get("/api/v1/payments")
    assert default.status_code == 200
    body = default.json()
    assert set(body) == {"data", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (5, 10, 0)
    assert [item["id"] for item in body["data"]] == newest_first
    for item in body["data"]:
        assert set(item) == UPI_CREATED | DETAIL
        assert (item["status"], item["amount"]) == ("success", 300)
        assert item == (await client.get(f"/api/v1/payments/{item['id']}")).json()
    for offset in (0, 2, 4, 6):
        page = (await client.get(f"/api/v1/payments?limit=2&offset={offset}")).json()
        assert [item["id"] for item in page["data"]] == newest_first[offset : offset + 2]
        assert (page["total"], page["limit"], page["offset"]) == (5, 2, offset)
    full = (await client.get("/api/v1/payments", params={"limit": 100})).json()
    assert (len(full["data"]), full["limit"]) == (5, 100)


async def test_list_payments_when_empty(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/payments?limit=1&offset=0")).json()
    assert body == {"data": [], "total": 0, "limit": 1, "offset": 0}


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=-1", "offset=-1", "limit=ten", "offset=1.5", "offset=1e30"],
)
async def test_list_payments_bounds(client: httpx.AsyncClient, query: str) -> None:
    query = query.replace("1e30", str(2**63))  # one past the largest offset storage takes
    response = await client.get(f"/api/v1/payments?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert response.json()["error"]["description"].startswith(query.split("=")[0])
