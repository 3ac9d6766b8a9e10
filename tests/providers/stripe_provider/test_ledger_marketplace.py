"""The marketplace story over HTTP with the Stripe fake (#14): a creator, an order with a 10 %
platform fee, a Stripe payment → the creator has 9,000 pending and the fee 1,000; once Stripe's
settlement delay has passed → available (with `balance.available`); a half refund → both
halved; every figure equal to the entries `hazina ledger check` recomputes from, and the check
itself (the real command) passing. On SQLite and PostgreSQL."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db.models import Event, LedgerTransfer
from hazina.worker import Worker
from tests.conftest import TEST_MASTER_KEYS, make_settings
from tests.jobs import run_jobs_to_exhaustion
from tests.providers.stripe_provider.conftest import SECRET_KEY, WEBHOOK_SECRET, StripeServer

SETTLEMENT_DELAY = timedelta(days=2)
HAZINA = Path(sys.executable).parent / "hazina"


@pytest.fixture
def settings(database_url: str, stripe_server: StripeServer) -> Settings:
    return make_settings(
        database_url,
        stripe_api_base=stripe_server.url,
        settlement_delay_stripe=SETTLEMENT_DELAY.total_seconds(),
    )


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def figures(client: httpx.AsyncClient, account_id: str) -> dict[str, int]:
    """An account's balance, after checking it against the sum of its own entries."""
    account = await get(client, f"/api/v1/accounts/{account_id}")
    entries = await get(client, f"/api/v1/accounts/{account_id}/entries", limit=100)
    summed = {"pending": 0, "available": 0, "reserved": 0}
    for entry in entries["data"]:
        assert entry["currency"] == account["currency"]
        summed[entry["bucket"]] += entry["amount"]
    assert summed == account["balance"]
    balance: dict[str, int] = account["balance"]
    return balance


async def own(client: httpx.AsyncClient, kind: str) -> str:
    accounts = (await get(client, "/api/v1/balance"))["accounts"]
    [account_id] = [a["id"] for a in accounts if a["kind"] == kind and a["currency"] == "USD"]
    return str(account_id)


async def deliver(client: httpx.AsyncClient, hook: str, answer: dict[str, Any]) -> None:
    for event in answer["events"]:
        response = await client.post(
            hook, content=event["body"].encode(), headers={"Stripe-Signature": event["signature"]}
        )
        assert response.status_code == 200, response.text


def ledger_check(database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `hazina ledger check`, away from the repository's .env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZINA_")}
    env |= {"HAZINA_DATABASE_URL": database_url, "HAZINA_MASTER_KEYS": TEST_MASTER_KEYS}
    return subprocess.run(
        [str(HAZINA), "ledger", "check"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


async def test_a_marketplace_sale_its_settlement_and_a_half_refund(
    client: httpx.AsyncClient,
    container: Container,
    stripe_server: StripeServer,
    worker: Worker,
    tmp_path: Path,
) -> None:
    connected = await client.put(
        "/api/v1/provider-accounts/stripe",
        json={
            "mode": "test",
            "credentials": {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET},
        },
    )
    assert connected.status_code == 200, connected.text
    hook = "/hooks/" + connected.json()["webhook_url"].split("/hooks/", 1)[1]
    creator = await client.post(
        "/api/v1/accounts", json={"kind": "creator", "currency": "USD", "name": "Wanjiru"}
    )
    creator_id = creator.json()["id"]
    order = await client.post(
        "/api/v1/orders",
        json={
            "amount": 10000,
            "currency": "USD",
            "splits": [{"account_id": creator_id, "amount": 9000}],
            "platform_fee_bps": 1000,
        },
    )
    assert order.status_code == 201, order.text
    payment = await client.post(
        "/api/v1/payments", json={"order_id": order.json()["id"], "method": "stripe"}
    )
    assert payment.status_code == 201, payment.text
    session = payment.json()["provider_reference"]
    completed = await stripe_server.control(f"checkout/sessions/{session}/complete", deliver=False)
    await deliver(client, hook, completed)
    await deliver(client, hook, completed)  # Stripe retries: counted once
    payment_id = payment.json()["id"]
    assert (await get(client, f"/api/v1/payments/{payment_id}"))["status"] == "success"

    fee_id = await own(client, "platform_fee")
    assert await figures(client, creator_id) == {"pending": 9000, "available": 0, "reserved": 0}
    assert await figures(client, fee_id) == {"pending": 1000, "available": 0, "reserved": 0}
    assert (await figures(client, await own(client, "clearing")))["available"] == -10000

    # Stripe's two days pass (the charge is dated back; the release job then finds it due).
    async with container.db.transaction() as session_:
        charge = await session_.scalar(
            select(LedgerTransfer).where(LedgerTransfer.payment_id == payment_id)
        )
        assert charge is not None
        assert charge.kind == "charge"
        await session_.execute(
            update(LedgerTransfer)
            .where(LedgerTransfer.id == charge.id)
            .values(created_at=charge.created_at - SETTLEMENT_DELAY)
        )
    await run_jobs_to_exhaustion(worker)
    assert await figures(client, creator_id) == {"pending": 0, "available": 9000, "reserved": 0}
    assert await figures(client, fee_id) == {"pending": 0, "available": 1000, "reserved": 0}
    async with container.db.read() as read:
        announced = list(
            await read.scalars(select(Event.payload).where(Event.type == "balance.available"))
        )
    assert len(announced) == 1
    assert {"account_id": creator_id, "amount": 9000} in announced[0]["data"]["accounts"]

    refund = await client.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": 5000})
    assert refund.status_code == 201, refund.text
    await run_jobs_to_exhaustion(worker)
    assert (await get(client, f"/api/v1/refunds/{refund.json()['id']}"))["status"] == "processed"
    assert await figures(client, creator_id) == {"pending": 0, "available": 4500, "reserved": 0}
    assert await figures(client, fee_id) == {"pending": 0, "available": 500, "reserved": 0}
    transfers = await get(client, "/api/v1/ledger/transfers", payment_id=payment_id)
    assert sorted(t["kind"] for t in transfers["data"]) == ["charge", "refund", "release"]

    checked = ledger_check(container.settings.database_url, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "ledger check passed" in checked.stdout
