"""Idempotency-Key: one key, one resource, the first response replayed byte for byte."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from hazina.db.database import Database
from hazina.db.models import Event, IdempotencyKey, Job, Order, Payment
from hazina.services.merchants import TEST_MERCHANT_ID, create_merchant
from hazina.services.ports import SecretBox
from hazina.worker import Worker
from tests.waiting import drain

CONFLICT = {
    "error": {
        "code": "CONFLICT_ERROR",
        "description": "Idempotency-Key was already used with a different request",
    }
}
KEY_ERROR = {
    "error": {
        "code": "BAD_REQUEST_ERROR",
        "description": "Idempotency-Key must be 1 to 255 characters",
    }
}


@pytest.fixture
async def order_id(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/orders", json={"amount": 50000})
    value: str = response.json()["id"]
    return value


async def count(db: Database, model: type[Any]) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def upi(order_id: str, vpa: str = "user@paytm") -> dict[str, Any]:
    return {"order_id": order_id, "method": "upi", "vpa": vpa}


def keyed(key: str, **headers: str) -> dict[str, str]:
    return {"Idempotency-Key": key} | headers


async def test_payment_replay_is_byte_identical(
    client: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    first = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k-1"))
    second = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k-1"))
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"] == "application/json"
    assert (await count(db, Payment), await count(db, Job), await count(db, Event)) == (1, 1, 2)
    payment_id = first.json()["id"]
    assert (await client.get(f"/api/v1/payments/{payment_id}")).status_code == 200


async def test_order_replay_is_byte_identical(client: httpx.AsyncClient, db: Database) -> None:
    body = {"amount": 1000, "receipt": "r-1", "notes": {"b": 2, "a": 1}}
    first = await client.post("/api/v1/orders", json=body, headers=keyed("order-key"))
    second = await client.post("/api/v1/orders", json=body, headers=keyed("order-key"))
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert await count(db, Order) == 1


async def test_replay_returns_the_original_even_after_processing(
    client: httpx.AsyncClient, order_id: str, worker: Worker
) -> None:
    first = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k"))
    await drain(worker)
    replay = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k"))
    assert replay.content == first.content
    assert replay.json()["status"] == "pending"
    current = await client.get(f"/api/v1/payments/{first.json()['id']}")
    assert current.json()["status"] == "success"


async def test_a_replay_after_the_cards_expiry_month_still_gets_the_stored_payment(
    client: httpx.AsyncClient, db: Database, order_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 EXPIRED_CARD on the replay would read as "no payment" and invite a second one."""
    now = datetime.now(UTC)
    card = {"number": "4111111111111111", "expiry_month": now.month, "expiry_year": now.year}
    body = {
        "order_id": order_id,
        "method": "card",
        "card": card | {"cvv": "123", "holder_name": "A B"},
    }
    first = await client.post("/api/v1/payments", json=body, headers=keyed("month-end"))
    assert first.status_code == 201, first.text
    next_month = now.replace(day=1) + timedelta(days=32)
    monkeypatch.setattr("hazina.services.payments.utc_now", lambda: next_month)
    replay = await client.post("/api/v1/payments", json=body, headers=keyed("month-end"))
    assert (replay.status_code, replay.content) == (201, first.content)
    assert replay.headers["idempotent-replayed"] == "true"
    fresh = await client.post("/api/v1/payments", json=body, headers=keyed("a-new-key"))
    assert fresh.json()["error"]["code"] == "EXPIRED_CARD", fresh.text
    assert await count(db, Payment) == 1


async def test_without_a_key_every_request_creates(
    client: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    first = await client.post("/api/v1/payments", json=upi(order_id))
    assert first.status_code == 201
    second = await client.post("/api/v1/payments", json=upi(order_id))
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert await count(db, Payment) == 2
    assert await count(db, IdempotencyKey) == 0


@pytest.mark.parametrize(
    "other",
    [
        {"vpa": "someone@else"},
        {
            "method": "card",
            "card": {
                "number": "4111111111111111",
                "expiry_month": 12,
                "expiry_year": 2099,
                "cvv": "123",
                "holder_name": "J",
            },
        },
        {"order_id": "order_DoesNotExist0001"},
    ],
)
async def test_same_key_different_body_is_a_conflict(
    client: httpx.AsyncClient, db: Database, order_id: str, other: dict[str, Any]
) -> None:
    first = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k"))
    assert first.status_code == 201
    response = await client.post("/api/v1/payments", json=upi(order_id) | other, headers=keyed("k"))
    assert response.status_code == 409
    assert response.json() == CONFLICT
    assert await count(db, Payment) == 1
    # The original is still replayed.
    again = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k"))
    assert again.content == first.content


async def test_same_key_with_an_invalid_body_gets_the_validation_error(
    client: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    """The request is validated before anything else is looked at: a different body that is
    invalid answers its own 400, not a conflict, and the original is still replayed."""
    first = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k"))
    assert first.status_code == 201
    response = await client.post(
        "/api/v1/payments", json=upi(order_id) | {"method": "card"}, headers=keyed("k")
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "BAD_REQUEST_ERROR", "description": "card is required for method card"}
    }
    assert await count(db, Payment) == 1
    again = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k"))
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"


async def test_same_key_on_another_route_is_a_conflict(
    client: httpx.AsyncClient, order_id: str
) -> None:
    assert (
        await client.post("/api/v1/orders", json={"amount": 500}, headers=keyed("k"))
    ).is_success
    response = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k"))
    assert (response.status_code, response.json()) == (409, CONFLICT)
    response = await client.post("/api/v1/orders", json={"amount": 501}, headers=keyed("k"))
    assert (response.status_code, response.json()) == (409, CONFLICT)


async def test_keys_are_scoped_to_the_merchant(
    client: httpx.AsyncClient, db: Database, vault: SecretBox
) -> None:
    other = await create_merchant(db, vault, name="Other", email="other@example.com", actor="test")
    other_auth = {"X-Api-Key": other.merchant.api_key, "X-Api-Secret": other.api_secret}
    mine = await client.post("/api/v1/orders", json={"amount": 500}, headers=keyed("shared"))
    theirs = await client.post(
        "/api/v1/orders", json={"amount": 500}, headers=keyed("shared", **other_auth)
    )
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["merchant_id"] == str(other.merchant.id)
    # Each merchant's payment under the same key is its own too.
    mine_pay = await client.post(
        "/api/v1/payments", json=upi(mine.json()["id"]), headers=keyed("pay")
    )
    theirs_pay = await client.post(
        "/api/v1/payments", json=upi(theirs.json()["id"]), headers=keyed("pay", **other_auth)
    )
    assert mine_pay.status_code == theirs_pay.status_code == 201
    assert "idempotent-replayed" not in theirs_pay.headers
    assert await count(db, Payment) == 2
    assert await count(db, IdempotencyKey) == 4


async def test_keys_live_24_hours(client: httpx.AsyncClient, db: Database, order_id: str) -> None:
    await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("ttl"))
    async with db.read() as session:
        stored = await session.get_one(IdempotencyKey, (TEST_MERCHANT_ID, "ttl"))
    assert stored.expires_at - stored.created_at == timedelta(hours=24)
    assert stored.status_code == 201


async def expire(db: Database, key: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with db.transaction() as session:
        result = await session.execute(
            update(IdempotencyKey).where(IdempotencyKey.key == key).values(expires_at=past)
        )
    assert result.rowcount == 1  # type: ignore[attr-defined]


async def test_an_expired_key_is_processed_anew(
    client: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    first = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("old"))
    await expire(db, "old")
    second = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("old"))
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    assert await count(db, Payment) == 2
    # The renewed key now replays the second response.
    third = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("old"))
    assert third.content == second.content
    assert third.headers["idempotent-replayed"] == "true"


async def test_an_expired_key_accepts_a_different_body(
    client: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    first = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("old"))
    await expire(db, "old")
    response = await client.post(
        "/api/v1/payments", json=upi(order_id, "new@bank"), headers=keyed("old")
    )
    assert response.status_code == 201
    assert response.json()["vpa"] == "new@bank"
    assert response.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("bad", "status", "code"),
    [
        ({"vpa": "not a vpa"}, 400, "INVALID_VPA"),
        ({"method": "cash"}, 400, "BAD_REQUEST_ERROR"),
        ({"vpa": None}, 400, "BAD_REQUEST_ERROR"),
        ({"order_id": "order_DoesNotExist0001"}, 404, "NOT_FOUND_ERROR"),
        ({"method": "card", "card": {"number": "4111111111111111"}}, 400, "BAD_REQUEST_ERROR"),
    ],
)
async def test_a_failed_request_does_not_burn_the_key(
    client: httpx.AsyncClient,
    db: Database,
    order_id: str,
    bad: dict[str, Any],
    status: int,
    code: str,
) -> None:
    for _ in range(2):  # an error is never replayed: the same bad request fails the same way
        rejected = await client.post(
            "/api/v1/payments", json=upi(order_id) | bad, headers=keyed("retry-me")
        )
        assert rejected.status_code == status
        assert rejected.json()["error"]["code"] == code
        assert "idempotent-replayed" not in rejected.headers
    assert await count(db, IdempotencyKey) == 0
    fixed = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("retry-me"))
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers
    assert await count(db, Payment) == 1


async def test_a_rejected_order_does_not_burn_the_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    rejected = await client.post("/api/v1/orders", json={"amount": 99}, headers=keyed("o"))
    assert rejected.json()["error"]["description"] == "amount must be at least 100"
    fixed = await client.post("/api/v1/orders", json={"amount": 100}, headers=keyed("o"))
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers
    assert await count(db, Order) == 1


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
async def test_malformed_keys_are_refused(
    client: httpx.AsyncClient, db: Database, order_id: str, key: str
) -> None:
    response = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed(key))
    assert (response.status_code, response.json()) == (400, KEY_ERROR)
    response = await client.post("/api/v1/orders", json={"amount": 500}, headers=keyed(key))
    assert (response.status_code, response.json()) == (400, KEY_ERROR)
    assert await count(db, Payment) == 0


async def test_a_key_with_nul_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    response = await client.post("/api/v1/orders", json={"amount": 500}, headers=keyed("k\x00"))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "Idempotency-Key must not contain NUL characters",
        }
    }
    assert await count(db, Order) == 0


async def test_a_255_character_key_is_accepted(client: httpx.AsyncClient, order_id: str) -> None:
    key = "k" * 255
    first = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed(key))
    second = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed(key))
    assert first.status_code == 201
    assert second.content == first.content


async def test_concurrent_duplicates_create_one_resource(
    client: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/payments", json=upi(order_id), headers=keyed("race"))
            for _ in range(8)
        )
    )
    assert {response.status_code for response in responses} == {201}
    assert len({response.content for response in responses}) == 1
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 7
    assert (await count(db, Payment), await count(db, Job)) == (1, 1)


async def test_public_payments_honour_the_key(
    anonymous: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    first = await anonymous.post("/api/v1/payments/public", json=upi(order_id), headers=keyed("p"))
    second = await anonymous.post("/api/v1/payments/public", json=upi(order_id), headers=keyed("p"))
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert await count(db, Payment) == 1


async def test_public_keys_are_a_namespace_of_their_own(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, db: Database, order_id: str
) -> None:
    """An anonymous caller using a merchant's key neither blocks nor reads its request."""
    other_order = (await client.post("/api/v1/orders", json={"amount": 700})).json()["id"]
    public = await anonymous.post(
        "/api/v1/payments/public", json=upi(order_id), headers=keyed("shared")
    )
    private = await client.post("/api/v1/payments", json=upi(other_order), headers=keyed("shared"))
    assert public.status_code == private.status_code == 201, (public.text, private.text)
    assert "idempotent-replayed" not in private.headers
    assert public.json()["id"] != private.json()["id"]
    assert (public.json()["order_id"], private.json()["order_id"]) == (order_id, other_order)
    assert await count(db, Payment) == 2
    async with db.read() as session:
        keys = set(await session.scalars(select(IdempotencyKey.key)))
    assert keys == {"public:shared", "shared"}
    # Each replays its own response, and only on its own endpoint.
    again_private = await client.post(
        "/api/v1/payments", json=upi(other_order), headers=keyed("shared")
    )
    again_public = await anonymous.post(
        "/api/v1/payments/public", json=upi(order_id), headers=keyed("shared")
    )
    assert again_private.content == private.content
    assert again_public.content == public.content
    assert again_private.headers["idempotent-replayed"] == "true"
    assert again_public.headers["idempotent-replayed"] == "true"


async def test_a_public_key_cannot_block_the_merchants_request(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, order_id: str
) -> None:
    """The same key and the same body, public first: the merchant's request is not a replay or a
    conflict; it is a new attempt on the order, which takes one while another is pending."""
    public = await anonymous.post("/api/v1/payments/public", json=upi(order_id), headers=keyed("k"))
    assert public.status_code == 201
    private = await client.post("/api/v1/payments", json=upi(order_id), headers=keyed("k"))
    assert private.status_code == 201, private.text
    assert "idempotent-replayed" not in private.headers
    assert private.json()["id"] != public.json()["id"]
