"""The database's own guard behind the ledger's checks (migration 0012's partial unique
indexes): a payment is charged once, a hold ended (posted or voided) once."""

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.db.models import LedgerTransfer, Order, Payment
from hazina.domain.clock import utc_now
from hazina.services.ledger import charges, holds
from hazina.worker import Worker
from tests.ledger.test_ledger_api import pay_upi


async def charge_again(db: Database, payment_id: str) -> None:
    """As a bug past has_charge would: charge the payment again."""
    async with db.transaction() as session:
        payment = await session.get_one(Payment, payment_id)
        order = await session.get_one(Order, payment.order_id)
        await charges.post_charge(session, payment, order)


async def test_a_second_charge_for_a_payment_is_refused_by_the_database(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    order = await client.post("/api/v1/orders", json={"amount": 10000})
    payment_id = await pay_upi(client, worker, order.json()["id"])
    with pytest.raises(IntegrityError):
        await charge_again(container.db, payment_id)
    async with container.db.read() as session:
        kinds = (
            await session.scalars(
                select(LedgerTransfer.kind).where(LedgerTransfer.payment_id == payment_id)
            )
        ).all()
    assert sorted(kinds) == ["charge", "release"]


@pytest.mark.parametrize("second", [holds.POST, holds.VOID])
async def test_a_hold_is_ended_once(
    client: httpx.AsyncClient, worker: Worker, container: Container, second: str
) -> None:
    order = await client.post("/api/v1/orders", json={"amount": 10000})
    payment_id = await pay_upi(client, worker, order.json()["id"])
    async with container.db.read() as session:
        payment = await session.get_one(Payment, payment_id)
    row = {
        "merchant_id": payment.merchant_id,
        "livemode": False,
        "status": "posted",
        "currency": "INR",
        "amount": 0,
        "pending_id": "ltx_hold0000000000000",
        "reversed": 0,
        "created_at": utc_now(),
    }
    async with container.db.transaction() as session:
        await session.execute(insert(LedgerTransfer).values(id="ltx_end1", kind=holds.POST, **row))
    with pytest.raises(IntegrityError):
        async with container.db.transaction() as session:
            await session.execute(insert(LedgerTransfer).values(id="ltx_end2", kind=second, **row))
