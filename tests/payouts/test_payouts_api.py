"""Payouts over HTTP with the sandbox payout provider, on SQLite and PostgreSQL: every ending,
the money reserved, posted, voided or given back exactly once, and the ledger check after each."""

import asyncio

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.worker import Worker
from tests.factories import other_merchant_headers
from tests.ledger.helpers import assert_ledger_sound, balance_of
from tests.payouts.helpers import (
    FAILING_PHONE,
    REVERSED_PHONE,
    create_payout,
    event_types,
    funded_creator,
    mobile,
    payout,
)
from tests.waiting import drain

BANK = {
    "type": "bank",
    "account_number": "0150123456789",
    "account_name": "Amina Juma",
    "bic": "EQBLTZTZ",
    "transfer_type": "RTGS",
}


def assert_refused(response: httpx.Response, message: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["description"]


async def test_a_paid_payout_reserves_then_posts_amount_and_fee(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    creator = await funded_creator(client, worker, 100000)
    created = await create_payout(client, creator, 50000)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "pending"
    assert body["fee"] == 500  # the sandbox's 1 %
    assert body["destination"] == {"type": "mobile_money", "masked": "•••• 5678"}
    assert body["provider"] == "sandbox"
    assert await balance_of(client, creator) == {
        "pending": 0,
        "available": 49500,
        "reserved": 50500,
    }
    await assert_ledger_sound(container.db)
    await drain(worker)
    assert (await payout(client, body["id"]))["status"] == "paid"
    assert await balance_of(client, creator) == {"pending": 0, "available": 49500, "reserved": 0}
    assert await event_types(client, body["id"]) == [
        "payout.created",
        "payout.processing",
        "payout.paid",
    ]
    await assert_ledger_sound(container.db)


async def test_a_bank_payout_is_paid(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    creator = await funded_creator(client, worker, 100000)
    created = await create_payout(client, creator, 20000, BANK)
    assert created.status_code == 201, created.text
    assert created.json()["destination"] == {
        "type": "bank",
        "masked": "EQBLTZTZ •••• 6789",
        "bic": "EQBLTZTZ",
        "account_name": "Amina Juma",
    }
    await drain(worker)
    assert (await payout(client, created.json()["id"]))["status"] == "paid"
    await assert_ledger_sound(container.db)


@pytest.mark.parametrize(
    ("phone", "ending", "events"),
    [
        (FAILING_PHONE, "failed", ["payout.failed"]),
        (REVERSED_PHONE, "reversed", ["payout.paid", "payout.reversed"]),
    ],
)
async def test_money_that_did_not_arrive_is_credited_back_once(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    phone: str,
    ending: str,
    events: list[str],
) -> None:
    creator = await funded_creator(client, worker, 100000)
    created = await create_payout(client, creator, 50000, mobile(phone))
    assert created.status_code == 201, created.text
    await drain(worker)
    found = await payout(client, created.json()["id"])
    assert found["status"] == ending
    assert found["failure_reason"].startswith("Sandbox: ")
    assert await balance_of(client, creator) == {"pending": 0, "available": 100000, "reserved": 0}
    assert await event_types(client, found["id"]) == [
        "payout.created",
        "payout.processing",
        *events,
    ]
    await assert_ledger_sound(container.db)


async def test_an_account_that_cannot_cover_amount_and_fee_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    creator = await funded_creator(client, worker, 10000)
    # 10000 + its 1 % fee is 10100: more than the 10000 available.
    assert_refused(await create_payout(client, creator, 10000), "Insufficient funds")
    assert (await client.get("/api/v1/payouts")).json()["total"] == 0
    assert await balance_of(client, creator) == {"pending": 0, "available": 10000, "reserved": 0}
    await assert_ledger_sound(container.db)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"destination": mobile("12345")}, "destination.phone"),
        ({"destination": {"type": "pigeon"}}, "destination.type"),
        ({"destination": {**BANK, "bic": "nope"}}, "destination.bic"),
        ({"destination": {**BANK, "transfer_type": "SWIFT"}}, "transfer_type"),
        ({"destination": {**BANK, "account_name": ""}}, "account_name"),
        ({"amount": 0}, "amount"),
        ({"amount": 100.5}, "amount"),
        ({"currency": "KES"}, "holds TZS, not KES"),
        ({"account_id": "acct_unknown"}, "Unknown account"),
        ({"provider": "pigeon"}, "provider must be one of"),
    ],
)
async def test_bad_requests_are_clear_400s(
    client: httpx.AsyncClient, worker: Worker, change: dict[str, object], message: str
) -> None:
    creator = await funded_creator(client, worker, 10000)
    body = {
        "account_id": creator,
        "amount": 1000,
        "currency": "TZS",
        "destination": mobile(),
        **change,
    }
    assert_refused(await client.post("/api/v1/payouts", json=body), message)
    assert (await client.get("/api/v1/payouts")).json()["total"] == 0


async def test_the_idempotency_key_makes_one_payout(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    creator = await funded_creator(client, worker, 100000)
    key = {"Idempotency-Key": "payout-1"}
    first = await create_payout(client, creator, 1000, headers=key)
    again = await create_payout(client, creator, 1000, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    other = await create_payout(client, creator, 2000, headers=key)
    assert_refused(other, "different request", status=409)
    assert (await client.get("/api/v1/payouts")).json()["total"] == 1
    assert (await balance_of(client, creator))["reserved"] == 1010


async def test_a_pending_payout_can_be_canceled_and_its_money_comes_back(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    creator = await funded_creator(client, worker, 100000)
    created = (await create_payout(client, creator, 50000)).json()
    canceled = await client.post(f"/api/v1/payouts/{created['id']}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert await balance_of(client, creator) == {"pending": 0, "available": 100000, "reserved": 0}
    await drain(worker)  # its start job finds it canceled and sends nothing
    assert (await payout(client, created["id"]))["status"] == "canceled"
    again = await client.post(f"/api/v1/payouts/{created['id']}/cancel")
    assert_refused(again, "can no longer be canceled", status=409)
    await assert_ledger_sound(container.db)


async def test_a_sent_payout_cannot_be_canceled(client: httpx.AsyncClient, worker: Worker) -> None:
    creator = await funded_creator(client, worker, 100000)
    created = (await create_payout(client, creator, 50000)).json()
    await drain(worker)
    response = await client.post(f"/api/v1/payouts/{created['id']}/cancel")
    assert_refused(response, "is paid and can no longer be canceled", status=409)


async def test_another_merchant_sees_none_of_it(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    creator = await funded_creator(client, worker, 100000)
    created = (await create_payout(client, creator, 1000)).json()
    headers = await other_merchant_headers(container)
    for path in (f"/api/v1/payouts/{created['id']}",):
        assert (await client.get(path, headers=headers)).status_code == 404
    cancel = await client.post(f"/api/v1/payouts/{created['id']}/cancel", headers=headers)
    assert cancel.status_code == 404
    listed = await client.get("/api/v1/payouts", headers=headers)
    assert listed.json()["total"] == 0
    # Nor can it pay out of this merchant's account.
    stolen = await create_payout(client, creator, 1000, headers=headers)
    assert_refused(stolen, "Unknown account")


async def test_concurrent_payouts_never_reserve_more_than_the_balance(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    """20 at once against a balance that covers 5 (amount + fee each): exactly 5 accepted."""
    creator = await funded_creator(client, worker, 5 * 10100)
    answers = await asyncio.gather(*(create_payout(client, creator, 10000) for _ in range(20)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] * 5 + [400] * 15, [a.text for a in answers if a.status_code != 201]
    assert await balance_of(client, creator) == {"pending": 0, "available": 0, "reserved": 50500}
    await drain(worker)
    assert (await balance_of(client, creator))["reserved"] == 0
    await assert_ledger_sound(container.db)
