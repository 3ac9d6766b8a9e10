"""The ledger over HTTP with the sandbox: accounts, orders with splits, the charge and its
release, proportional refunds, and the clear 400s of bad terms."""

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.worker import Worker
from tests.factories import other_merchant_headers
from tests.ledger.helpers import assert_ledger_sound, balance_of, new_account, own_account
from tests.waiting import drain


def assert_refused(response: httpx.Response, message: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST_ERROR"
    assert message in error["description"]


async def pay_upi(client: httpx.AsyncClient, worker: Worker, order_id: str) -> str:
    payment = await client.post(
        "/api/v1/payments", json={"order_id": order_id, "method": "upi", "vpa": "user@paytm"}
    )
    assert payment.status_code == 201, payment.text
    await drain(worker)
    payment_id: str = payment.json()["id"]
    assert (await client.get(f"/api/v1/payments/{payment_id}")).json()["status"] == "success"
    return payment_id


async def test_a_split_order_pays_the_creator_the_fee_and_the_merchant(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    creator = await new_account(client, name="Amina", reference="creator-7")
    order = await client.post(
        "/api/v1/orders",
        json={
            "amount": 10000,
            "splits": [{"account_id": creator, "amount": 8000}],
            "platform_fee_bps": 1000,
        },
    )
    assert order.status_code == 201, order.text
    assert order.json()["splits"] == [{"account_id": creator, "amount": 8000}]
    assert order.json()["platform_fee"] == 1000
    payment_id = await pay_upi(client, worker, order.json()["id"])

    # The sandbox settles at once (HAZINA_SETTLEMENT_DELAY_SANDBOX=0): released by its job.
    assert await balance_of(client, creator) == {"pending": 0, "available": 8000, "reserved": 0}
    fee = await own_account(client, "platform_fee", "INR")
    revenue = await own_account(client, "revenue", "INR")
    clearing = await own_account(client, "clearing", "INR")
    assert fee["balance"]["available"] == 1000
    assert revenue["balance"]["available"] == 1000
    assert clearing["balance"]["available"] == -10000
    balance = (await client.get("/api/v1/balance")).json()
    assert balance["available"] == [{"currency": "INR", "amount": 2000}]

    transfers = await client.get("/api/v1/ledger/transfers", params={"payment_id": payment_id})
    kinds = sorted(t["kind"] for t in transfers.json()["data"])
    assert kinds == ["charge", "release"]
    for transfer in transfers.json()["data"]:
        assert sum(entry["amount"] for entry in transfer["entries"]) == 0

    refund = await client.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": 5000})
    assert refund.status_code == 201, refund.text
    await drain(worker)
    assert (await balance_of(client, creator))["available"] == 4000
    assert (await own_account(client, "platform_fee", "INR"))["balance"]["available"] == 500
    assert (await own_account(client, "revenue", "INR"))["balance"]["available"] == 500
    entries = (await client.get(f"/api/v1/accounts/{creator}/entries")).json()
    assert [(e["bucket"], e["amount"]) for e in entries["data"]] == [
        ("available", -4000),  # the refund
        ("available", 8000),  # the release
        ("pending", -8000),
        ("pending", 8000),  # the charge
    ]
    assert entries["data"][0]["transfer_kind"] == "refund"
    await assert_ledger_sound(container.db)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"splits": [{"account_id": "acct_missing000000000", "amount": 10}]}, "Unknown account"),
        ({"platform_fee": 10, "platform_fee_bps": 100}, "not both"),
        ({"platform_fee": 10001}, "more than the order amount"),
        ({"platform_fee_bps": 10001}, "platform_fee_bps must be between"),
        ({"purpose": "top_up"}, "needs customer_account_id"),
        ({"purpose": "gift"}, "purpose must be top_up"),
    ],
)
async def test_bad_terms_are_refused_and_create_nothing(
    client: httpx.AsyncClient, terms: dict[str, object], message: str
) -> None:
    response = await client.post("/api/v1/orders", json={"amount": 10000, **terms})
    assert_refused(response, message)


async def test_splits_must_name_this_merchants_creators_in_the_orders_currency(
    client: httpx.AsyncClient, container: Container
) -> None:
    dollars = await new_account(client, currency="USD")
    wallet = await new_account(client, kind="customer")
    async with httpx.AsyncClient(
        transport=client._transport,
        base_url="http://hazina.test",
        headers=await other_merchant_headers(container),
    ) as other:
        theirs = await new_account(other)
    cases = [
        (dollars, "holds USD, not the order's INR"),
        (wallet, "splits go to creator accounts"),
        (theirs, "Unknown account"),
    ]
    for account_id, message in cases:
        response = await client.post(
            "/api/v1/orders",
            json={"amount": 10000, "splits": [{"account_id": account_id, "amount": 100}]},
        )
        assert_refused(response, message)
    assert (await client.get(f"/api/v1/accounts/{theirs}")).status_code == 404


async def test_a_top_up_credits_the_wallet_once_and_credit_pays_orders_without_overdrawing(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    wallet = await new_account(client, kind="customer", reference="cust-42")
    top_up = await client.post(
        "/api/v1/orders",
        json={"amount": 5000, "purpose": "top_up", "customer_account_id": wallet},
    )
    assert top_up.status_code == 201, top_up.text
    await pay_upi(client, worker, top_up.json()["id"])
    assert await balance_of(client, wallet) == {"pending": 0, "available": 5000, "reserved": 0}

    order = await client.post("/api/v1/orders", json={"amount": 3000})
    spend = {"order_id": order.json()["id"], "method": "credit", "account_id": wallet}
    paid = await client.post("/api/v1/payments", json=spend)
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "success"
    assert (await client.get(f"/api/v1/orders/{order.json()['id']}")).json()["status"] == "paid"
    assert (await balance_of(client, wallet))["available"] == 2000

    second = await client.post("/api/v1/orders", json={"amount": 3000})
    refused = await client.post(
        "/api/v1/payments",
        json={"order_id": second.json()["id"], "method": "credit", "account_id": wallet},
    )
    assert_refused(refused, f"Insufficient funds in account {wallet}")
    assert (await client.get(f"/api/v1/orders/{second.json()['id']}")).json()["status"] == "created"
    assert (await balance_of(client, wallet))["available"] == 2000

    refund = await client.post(
        f"/api/v1/payments/{paid.json()['id']}/refunds", json={"amount": 1000}
    )
    assert refund.status_code == 201, refund.text
    await drain(worker)
    assert (await client.get(f"/api/v1/refunds/{refund.json()['id']}")).json()["status"] == (
        "processed"
    )
    assert (await balance_of(client, wallet))["available"] == 3000
    # The merchant's revenue: 3000 spent, 1000 given back.
    assert (await own_account(client, "revenue", "INR"))["balance"]["available"] == 2000
    await assert_ledger_sound(container.db)


async def test_a_merchant_keeping_fees_on_refunds_reverses_only_the_creators_share(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    assert (await client.get("/api/v1/ledger/settings")).json()["keep_fees_on_refunds"] is False
    kept = await client.put("/api/v1/ledger/settings", json={"keep_fees_on_refunds": True})
    assert kept.status_code == 200, kept.text
    assert kept.json() == {"object": "ledger_settings", "keep_fees_on_refunds": True}
    creator = await new_account(client)
    order = await client.post(
        "/api/v1/orders",
        json={
            "amount": 10000,
            "splits": [{"account_id": creator, "amount": 8000}],
            "platform_fee": 1000,
        },
    )
    payment_id = await pay_upi(client, worker, order.json()["id"])
    refund = await client.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": 5000})
    assert refund.status_code == 201, refund.text
    await drain(worker)
    assert (await balance_of(client, creator))["available"] == 4000
    assert (await own_account(client, "platform_fee", "INR"))["balance"]["available"] == 1000
    assert (await own_account(client, "revenue", "INR"))["balance"]["available"] == 0
    refused = await client.put("/api/v1/ledger/settings", json={"keep_fees_on_refunds": "yes"})
    assert refused.status_code == 400
    await assert_ledger_sound(container.db)


async def test_the_checkout_cannot_spend_a_customers_credit(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    wallet = await new_account(client, kind="customer")
    order = await client.post("/api/v1/orders", json={"amount": 1000})
    response = await anonymous.post(
        "/api/v1/payments/public",
        json={"order_id": order.json()["id"], "method": "credit", "account_id": wallet},
    )
    assert_refused(response, "Method credit is the merchant's to use")
