"""`POST /api/v1/payments/{id}/capture`: only `success` payments, idempotent, tenant-scoped."""

from typing import Any

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.worker import Worker
from tests.envelopes import assert_error
from tests.factories import (
    failing_worker,
    other_merchant_headers,
    pending_payment,
    settled_payment,
    successful_payment,
)

CAPTURED_KEYS = {
    "id",
    "order_id",
    "amount",
    "currency",
    "method",
    "vpa",
    "status",
    "livemode",
    "captured",
    "amount_refunded",
    "created_at",
    "updated_at",
}


async def capture(client: httpx.AsyncClient, payment_id: str, amount: int) -> httpx.Response:
    return await client.post(f"/api/v1/payments/{payment_id}/capture", json={"amount": amount})


async def test_capture_marks_a_successful_payment_captured(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)
    assert payment["captured"] is False

    response = await capture(client, payment["id"], payment["amount"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == CAPTURED_KEYS
    assert body["status"] == "success"
    assert body["captured"] is True
    assert {k: body[k] for k in ("id", "order_id", "amount", "currency", "method", "vpa")} == {
        k: payment[k] for k in ("id", "order_id", "amount", "currency", "method", "vpa")
    }
    assert body["created_at"] == payment["created_at"]
    assert body["updated_at"].endswith("Z")
    stored = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert stored["captured"] is True


async def test_capturing_twice_is_an_idempotent_200(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)

    first = await capture(client, payment["id"], payment["amount"])
    second = await capture(client, payment["id"], payment["amount"])

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()


async def test_a_smaller_amount_captures_the_whole_settled_payment(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)

    response = await capture(client, payment["id"], 100)

    assert response.status_code == 200, response.text
    assert response.json()["captured"] is True
    assert response.json()["amount"] == payment["amount"]


async def test_a_pending_payment_is_not_capturable(client: httpx.AsyncClient) -> None:
    payment = await pending_payment(client)

    response = await capture(client, payment["id"], payment["amount"])

    assert_error(response, 400, "BAD_REQUEST_ERROR", "Payment not in capturable state")
    stored = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert stored["captured"] is False


async def test_a_failed_payment_is_not_capturable(
    client: httpx.AsyncClient, container: Container
) -> None:
    payment = await settled_payment(client, failing_worker(container))
    assert payment["status"] == "failed"

    response = await capture(client, payment["id"], payment["amount"])

    assert_error(response, 400, "BAD_REQUEST_ERROR", "Payment not in capturable state")
    stored = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert stored["captured"] is False


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ({"amount": 0}, "amount must be a positive integer"),
        ({"amount": -100}, "amount must be a positive integer"),
        ({"amount": 50001}, "Capture amount exceeds payment amount"),
        ({"amount": 100.5}, "amount: Input should be a valid integer"),
        ({"amount": "50000"}, "amount: Input should be a valid integer"),
        ({}, "amount: Field required"),
    ],
)
async def test_invalid_amounts_are_refused_and_change_nothing(
    client: httpx.AsyncClient, worker: Worker, body: dict[str, Any], description: str
) -> None:
    payment = await successful_payment(client, worker)

    response = await client.post(f"/api/v1/payments/{payment['id']}/capture", json=body)

    assert_error(response, 400, "BAD_REQUEST_ERROR", description)
    stored = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert stored == payment


async def test_an_unknown_payment_is_not_found(client: httpx.AsyncClient) -> None:
    response = await capture(client, "pay_0000000000000000", 50000)

    assert_error(response, 404, "NOT_FOUND_ERROR", "Payment not found")


async def test_another_merchants_payment_is_not_found(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    payment = await successful_payment(client, worker)
    other = await other_merchant_headers(container)

    response = await client.post(
        f"/api/v1/payments/{payment['id']}/capture", json={"amount": 50000}, headers=other
    )

    assert_error(response, 404, "NOT_FOUND_ERROR", "Payment not found")
    stored = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert stored["captured"] is False


async def test_capture_requires_credentials(client: httpx.AsyncClient, worker: Worker) -> None:
    payment = await successful_payment(client, worker)

    response = await client.post(
        f"/api/v1/payments/{payment['id']}/capture",
        json={"amount": 50000},
        headers={"X-Api-Secret": "wrong"},
    )

    assert_error(response, 401, "AUTHENTICATION_ERROR", "Invalid API credentials")
    stored = (await client.get(f"/api/v1/payments/{payment['id']}")).json()
    assert stored["captured"] is False
