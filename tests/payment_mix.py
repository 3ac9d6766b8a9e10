"""Payments of every kind the reporting filters tell apart, made over HTTP, then dated and
declined behind the API's back (as days passing and the sandbox declining would have done)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from hazina.db.database import Database
from hazina.db.models import Payment
from hazina.domain.clock import utc_now
from hazina.worker import Worker
from tests.waiting import drain

CARD = {
    "number": "4111111111111111",
    "expiry_month": "12",
    "expiry_year": str(datetime.now(UTC).year + 1),
    "cvv": "987",
    "holder_name": "John Doe",
}


@dataclass(frozen=True)
class Mix:
    today: date
    earlier: date  # three days ago: one payment at its first instant, one at its last
    ids: dict[str, str]  # name → payment id


async def _pay(client: httpx.AsyncClient, amount: int, receipt: str | None, **method: Any) -> str:
    order = await client.post("/api/v1/orders", json={"amount": amount, "receipt": receipt})
    assert order.status_code == 201, order.text
    payment = await client.post("/api/v1/payments", json={"order_id": order.json()["id"], **method})
    assert payment.status_code == 201, payment.text
    payment_id: str = payment.json()["id"]
    return payment_id


async def payment_mix(client: httpx.AsyncClient, worker: Worker, db: Database) -> Mix:
    """`alice` upi success 10,000 today; `card` card success 25,000 at the earlier day's first
    instant; `bob` upi failed 5,000 at its last; `old` upi success 7,500 forty days ago with a
    formula for a receipt; `big` card success 99,999 today with a LIKE wildcard in its receipt."""
    upi = {"method": "upi"}
    ids = {
        "alice": await _pay(client, 10_000, "INV-2026-001", vpa="Alice@okbank", **upi),
        "card": await _pay(client, 25_000, "inv-2026-002", method="card", card=CARD),
        "bob": await _pay(client, 5_000, None, vpa="bob@paytm", **upi),
        "old": await _pay(client, 7_500, "=HYPERLINK(1)", vpa="old@upi", **upi),
        "big": await _pay(client, 99_999, "50%_off", method="card", card=CARD),
    }
    await drain(worker)
    today = utc_now().date()
    earlier = today - timedelta(days=3)
    first = datetime.combine(earlier, time.min, tzinfo=UTC)
    moves = {
        "card": first,
        "bob": first + timedelta(days=1, microseconds=-1),
        "old": first - timedelta(days=37),
    }
    async with db.transaction() as session:
        for name, created in moves.items():
            await session.execute(
                update(Payment).where(Payment.id == ids[name]).values(created_at=created)
            )
        await session.execute(
            update(Payment).where(Payment.id == ids["bob"]).values(status="failed")
        )
    return Mix(today, earlier, ids)
