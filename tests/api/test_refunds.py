"""Refunds over HTTP: create, read, list, the refundable balance, idempotency, the worker."""

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.db.models import Event, Job, Refund
from hazina.services import refunds
from hazina.worker import Worker
from tests.envelopes import assert_error
from tests.factories import (
    failing_worker,
    other_merchant_headers,
    pending_payment,
    settled_payment,
    successful_payment,
)
from tests.waiting import drain

EXCEEDS = "Refund amount exceeds available amount"
NOT_REFUNDABLE = "Payment not in refundable state: only successful payments can be refunded"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


async def refund(
    client: httpx.AsyncClient, payment_id: str, body: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    return await client.post(f"/api/v1/payments/{payment_id}/refunds", json=body, **kwargs)


async def amount_refunded(client: httpx.AsyncClient, payment_id: str) -> int:
    value: int = (await client.get(f"/api/v1/payments/{payment_id}")).json()["amount_refunded"]
    return value


async def refund_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Refund)) or 0)


async def event_payloads(db: Database, resource_id: str, event_type: str) -> list[dict[str, Any]]:
    async with db.read() as session:
        events = await session.scalars(
            select(Event).where(Event.resource_id == resource_id, Event.type == event_type)
        )
        return [event.payload for event in events]


async def test_a_full_refund_is_created_pending(
    client: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    payment = await successful_payment(client, worker)

    response = await refund(client, payment["id"], {"amount": 50000, "reason": "Damaged item"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "payment_id",
        "amount",
        "reason",
        "status",
        "livemode",
        "created_at",
    }
    assert re.fullmatch(r"rfnd_[A-Za-z0-9]{16}", body["id"])
    assert body["payment_id"] == payment["id"]
    assert body["amount"] == 50000
    assert body["reason"] == "Damaged item"
    assert body["status"] == "pending"
    assert body["livemode"] is False
    assert ISO_Z.match(body["created_at"])
    assert await amount_refunded(client, payment["id"]) == 50000

    detail = (await client.get(f"/api/v1/refunds/{body['id']}")).json()
    assert detail == body | {"processed_at": None}

    created = await event_payloads(db, body["id"], "refund.created")
    assert len(created) == 1
    assert set(created[0]) == {"event", "timestamp", "livemode", "data"}
    assert created[0]["event"] == "refund.created"
    assert isinstance(created[0]["timestamp"], int)
    assert created[0]["livemode"] is False
    assert created[0]["data"] == {"refund": body}


async def test_the_reason_is_optional(client: httpx.AsyncClient, worker: Worker) -> None:
    payment = await successful_payment(client, worker)

    response = await refund(client, payment["id"], {"amount": 100})

    assert response.status_code == 201, response.text
    assert response.json()["reason"] is None


async def test_partial_refunds_add_up_to_the_payment_and_no_further(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)

    for amount, total in ((10000, 10000), (15000, 25000), (25000, 50000)):
        response = await refund(client, payment["id"], {"amount": amount})
        assert response.status_code == 201, response.text
        assert await amount_refunded(client, payment["id"]) == total

    assert_error(
        await refund(client, payment["id"], {"amount": 1}), 400, "BAD_REQUEST_ERROR", EXCEEDS
    )
    listed = (await client.get(f"/api/v1/payments/{payment['id']}/refunds")).json()
    assert listed["total"] == 3
    assert sorted(r["amount"] for r in listed["data"]) == [10000, 15000, 25000]


async def test_processed_refunds_still_count_against_the_payment(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)
    assert (await refund(client, payment["id"], {"amount": 30000})).status_code == 201
    await drain(worker)

    response = await refund(client, payment["id"], {"amount": 20001})

    assert_error(response, 400, "BAD_REQUEST_ERROR", EXCEEDS)
    assert (await refund(client, payment["id"], {"amount": 20000})).status_code == 201


async def test_an_over_refund_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    payment = await successful_payment(client, worker)

    response = await refund(client, payment["id"], {"amount": 50001})

    assert_error(response, 400, "BAD_REQUEST_ERROR", EXCEEDS)
    assert (await client.get(f"/api/v1/payments/{payment['id']}")).json() == payment
    assert await refund_count(db) == 0


async def test_an_amount_beyond_any_column_is_an_over_refund(
    client: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    payment = await successful_payment(client, worker)

    response = await refund(client, payment["id"], {"amount": 2**70})

    assert_error(response, 400, "BAD_REQUEST_ERROR", EXCEEDS)
    assert await refund_count(db) == 0


async def test_a_pending_payment_cannot_be_refunded(
    client: httpx.AsyncClient, db: Database
) -> None:
    payment = await pending_payment(client)

    response = await refund(client, payment["id"], {"amount": 100})

    assert_error(response, 400, "BAD_REQUEST_ERROR", NOT_REFUNDABLE)
    assert await amount_refunded(client, payment["id"]) == 0
    assert await refund_count(db) == 0


async def test_a_failed_payment_cannot_be_refunded(
    client: httpx.AsyncClient, container: Container
) -> None:
    payment = await settled_payment(client, failing_worker(container))
    assert payment["status"] == "failed"

    response = await refund(client, payment["id"], {"amount": 100})

    assert_error(response, 400, "BAD_REQUEST_ERROR", NOT_REFUNDABLE)
    assert await refund_count(container.db) == 0


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ({"amount": 0}, "amount must be a positive integer"),
        ({"amount": -500}, "amount must be a positive integer"),
        ({"amount": 100.5}, "amount: Input should be a valid integer"),
        ({"amount": 100.0}, "amount: Input should be a valid integer"),
        ({"amount": "100"}, "amount: Input should be a valid integer"),
        ({"amount": True}, "amount: Input should be a valid integer"),
        ({"amount": None}, "amount: Input should be a valid integer"),
        ({"reason": "no amount"}, "amount: Field required"),
        ({"amount": 100, "reason": "x" * 1001}, "reason must be at most 1000 characters"),
    ],
)
async def test_invalid_input_is_refused_in_the_contract_envelope(
    client: httpx.AsyncClient, worker: Worker, db: Database, body: dict[str, Any], description: str
) -> None:
    payment = await successful_payment(client, worker)

    response = await refund(client, payment["id"], body)

    assert_error(response, 400, "BAD_REQUEST_ERROR", description)
    assert await amount_refunded(client, payment["id"]) == 0
    assert await refund_count(db) == 0


async def test_unknown_resources_are_not_found(client: httpx.AsyncClient) -> None:
    missing_payment = "pay_0000000000000000"

    assert_error(
        await refund(client, missing_payment, {"amount": 100}),
        404,
        "NOT_FOUND_ERROR",
        "Payment not found",
    )
    assert_error(
        await client.get(f"/api/v1/payments/{missing_payment}/refunds"),
        404,
        "NOT_FOUND_ERROR",
        "Payment not found",
    )
    assert_error(
        await client.get("/api/v1/refunds/rfnd_0000000000000000"),
        404,
        "NOT_FOUND_ERROR",
        "Refund not found",
    )


async def test_every_refund_endpoint_requires_credentials(
    client: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    payment = await successful_payment(client, worker)
    created = (await refund(client, payment["id"], {"amount": 100})).json()
    wrong = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "wrong"}

    responses = [
        await refund(client, payment["id"], {"amount": 100}, headers=wrong),
        await client.get(f"/api/v1/payments/{payment['id']}/refunds", headers=wrong),
        await client.get(f"/api/v1/refunds/{created['id']}", headers=wrong),
    ]

    for response in responses:
        assert_error(response, 401, "AUTHENTICATION_ERROR", "Invalid API credentials")
    assert await refund_count(db) == 1


async def test_another_merchant_reaches_none_of_it(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    payment = await successful_payment(client, worker)
    created = (await refund(client, payment["id"], {"amount": 100})).json()
    other = await other_merchant_headers(container)

    assert_error(
        await refund(client, payment["id"], {"amount": 100}, headers=other),
        404,
        "NOT_FOUND_ERROR",
        "Payment not found",
    )
    assert_error(
        await client.get(f"/api/v1/payments/{payment['id']}/refunds", headers=other),
        404,
        "NOT_FOUND_ERROR",
        "Payment not found",
    )
    assert_error(
        await client.get(f"/api/v1/refunds/{created['id']}", headers=other),
        404,
        "NOT_FOUND_ERROR",
        "Refund not found",
    )
    assert await amount_refunded(client, payment["id"]) == 100
    assert await refund_count(container.db) == 1


async def test_an_idempotent_retry_replays_the_same_bytes(
    client: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    payment = await successful_payment(client, worker)
    headers = {"Idempotency-Key": "refund-once"}
    body = {"amount": 20000, "reason": "Returned"}

    first = await refund(client, payment["id"], body, headers=headers)
    second = await refund(client, payment["id"], body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert await amount_refunded(client, payment["id"]) == 20000
    assert await refund_count(db) == 1
    assert len(await event_payloads(db, first.json()["id"], "refund.created")) == 1


async def test_an_idempotency_key_reused_with_another_request_conflicts(
    client: httpx.AsyncClient, worker: Worker, db: Database
) -> None:
    payment = await successful_payment(client, worker)
    other_payment = await successful_payment(client, worker)
    headers = {"Idempotency-Key": "refund-key"}
    assert (
        await refund(client, payment["id"], {"amount": 100}, headers=headers)
    ).status_code == 201

    different_body = await refund(client, payment["id"], {"amount": 200}, headers=headers)
    different_payment = await refund(client, other_payment["id"], {"amount": 100}, headers=headers)

    for response in (different_body, different_payment):
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "CONFLICT_ERROR"
    assert await amount_refunded(client, payment["id"]) == 100
    assert await amount_refunded(client, other_payment["id"]) == 0
    assert await refund_count(db) == 1


async def test_a_refused_refund_does_not_spend_its_idempotency_key(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)
    headers = {"Idempotency-Key": "corrected-retry"}

    refused = await refund(client, payment["id"], {"amount": 50001}, headers=headers)
    corrected = await refund(client, payment["id"], {"amount": 50000}, headers=headers)

    assert_error(refused, 400, "BAD_REQUEST_ERROR", EXCEEDS)
    assert corrected.status_code == 201, corrected.text


async def test_the_worker_processes_a_refund_once(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    payment = await successful_payment(client, worker)
    created = (await refund(client, payment["id"], {"amount": 20000, "reason": "r"})).json()

    await drain(worker)

    detail = (await client.get(f"/api/v1/refunds/{created['id']}")).json()
    assert detail["status"] == "processed"
    assert ISO_Z.match(detail["processed_at"])
    assert detail["processed_at"] >= detail["created_at"]
    assert {k: detail[k] for k in created if k != "status"} == {
        k: v for k, v in created.items() if k != "status"
    }
    # The job may run again (a lapsed lease): it must neither fail nor announce twice.
    await refunds.process_refund(
        container.db, container.sandbox, container.providers, created["id"]
    )
    processed = await event_payloads(container.db, created["id"], "refund.processed")
    assert len(processed) == 1
    assert processed[0]["data"] == {"refund": detail}
    async with container.db.read() as session:
        kinds = list(await session.scalars(select(Job.kind).where(Job.status == "completed")))
    assert kinds.count(refunds.PROCESS_REFUND) == 1
    assert await amount_refunded(client, payment["id"]) == 20000


async def test_refunds_are_listed_newest_first_in_pages(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)
    ids = [
        (await refund(client, payment["id"], {"amount": amount})).json()["id"]
        for amount in (100, 200, 300)
    ]

    page = (await client.get(f"/api/v1/payments/{payment['id']}/refunds?limit=2&offset=1")).json()

    assert page["total"] == 3
    assert page["limit"] == 2
    assert page["offset"] == 1
    assert len(page["data"]) == 2
    assert [r["id"] for r in page["data"]] == [ids[1], ids[0]]
    assert set(page["data"][0]) == {
        "id",
        "payment_id",
        "amount",
        "reason",
        "status",
        "livemode",
        "created_at",
        "processed_at",
    }


async def test_payments_expose_amount_refunded_in_get_and_list(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)
    assert payment["amount_refunded"] == 0
    assert (await refund(client, payment["id"], {"amount": 1234})).status_code == 201

    listed = (await client.get("/api/v1/payments")).json()["data"]

    assert [p["amount_refunded"] for p in listed if p["id"] == payment["id"]] == [1234]
    assert await amount_refunded(client, payment["id"]) == 1234
