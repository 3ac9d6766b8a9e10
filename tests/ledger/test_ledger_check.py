"""`hazina ledger check` against the payments: each cross-check names the payment of a
hand-made inconsistency."""

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hazina.bootstrap import Container
from hazina.db.models import Payment
from hazina.services.ledger.check import check_ledger
from hazina.worker import Worker
from tests.ledger.helpers import assert_ledger_sound
from tests.ledger.test_ledger_api import pay_upi
from tests.waiting import drain


async def paid(client: httpx.AsyncClient, worker: Worker) -> str:
    order = await client.post("/api/v1/orders", json={"amount": 10000})
    return await pay_upi(client, worker, order.json()["id"])


async def change(container: Container, payment_id: str, **values: Any) -> None:
    """Behind the ledger's back, as only a bug (or a hand in the database) would."""
    async with container.db.transaction() as session:
        await session.execute(update(Payment).where(Payment.id == payment_id).values(**values))


async def problem(container: Container) -> str:
    result = await check_ledger(container.db)
    assert not result.ok
    assert result.problem is not None
    return result.problem


async def test_a_counted_success_without_a_charge_is_named(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    await paid(client, worker)
    order = await client.post("/api/v1/orders", json={"amount": 2500})
    unpaid = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "upi", "vpa": "user@paytm"},
    )
    await change(container, unpaid.json()["id"], status="success")
    assert await problem(container) == (
        f"payment {unpaid.json()['id']}: succeeded and counted, but the ledger has no charge for it"
    )
    # An authorisation not captured yet is not counted: nothing is missing.
    await change(container, unpaid.json()["id"], capture_method="manual", captured=False)
    await assert_ledger_sound(container.db)


@pytest.mark.parametrize(
    ("values", "described"),
    [
        ({"status": "failed"}, "it is failed (capture automatic"),
        ({"capture_method": "manual", "captured": False}, "(capture manual, captured False)"),
    ],
)
async def test_a_charge_on_a_payment_that_does_not_count_is_named(
    client: httpx.AsyncClient,
    worker: Worker,
    container: Container,
    values: dict[str, Any],
    described: str,
) -> None:
    payment_id = await paid(client, worker)
    await assert_ledger_sound(container.db)
    await change(container, payment_id, **values)
    found = await problem(container)
    assert found.startswith(f"payment {payment_id}: charged, but "), found
    assert described in found


async def test_refund_transfers_that_do_not_add_up_are_named(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    payment_id = await paid(client, worker)
    refund = await client.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": 5000})
    assert refund.status_code == 201, refund.text
    await drain(worker)
    await assert_ledger_sound(container.db)
    await change(container, payment_id, amount_refunded=4000)
    assert await problem(container) == (
        f"payment {payment_id}: refunds of 4000, but its refund transfers reverse 5000 "
        "(its charge records 5000)"
    )
