"""Creators told when they earn and when a payout of their money ends, on SQLite and PostgreSQL:
exactly one notification per earning and per payout end, written in the transaction that
causes it; none for a creator without a contact or when the merchant's preference is off; a
duplicate of the causing report (a provider's webhook again, a payout report again) doubles
nothing. Rows are read from the outbox; tests/e2e/test_payouts_e2e.py sends them by SMTP."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, select

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.db.models import Notification
from hazina.domain.providers import ProviderEvent, ProviderEventKind
from hazina.services.merchants import TEST_MERCHANT_ID
from hazina.services.notifications.preferences import Preferences, save_preferences
from hazina.services.payouts.settlement import apply_payout_report
from hazina.services.settlement import Outcome, Scope
from hazina.worker import Worker
from tests.acme import webhook
from tests.integration.test_inbound import notify
from tests.ledger.helpers import new_account
from tests.payouts.helpers import FAILING_PHONE, create_payout, funded_creator, mobile, payout
from tests.waiting import drain

CREATOR_KINDS = ("creator_earned", "creator_payout")


async def prefer(
    db: Database, *, earning_channels: tuple[str, ...] = (), payout_channels: tuple[str, ...] = ()
) -> None:
    wanted = Preferences(earning_channels=earning_channels, payout_channels=payout_channels)
    await save_preferences(db, TEST_MERCHANT_ID, wanted, smtp_configured=True)


async def give_contact(client: httpx.AsyncClient, account_id: str, **contact: str) -> None:
    saved = await client.put(f"/api/v1/accounts/{account_id}/contact", json=contact)
    assert saved.status_code == 200, saved.text


async def creator_messages(db: Database) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(kind, channel, recipient, subject, content) of every creator notification, oldest first."""
    async with db.read() as session:
        rows = await session.scalars(
            select(Notification)
            .where(Notification.kind.in_(CREATOR_KINDS))
            .order_by(Notification.created_at, Notification.id)
        )
        return [(m.kind, m.channel, m.recipient, m.subject_id, m.content) for m in rows]


@contextmanager
def statements_on(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the database's writer runs while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def split_acme_payment(api: httpx.AsyncClient, splits: list[dict[str, Any]]) -> str:
    order = await api.post(
        "/api/v1/orders", json={"amount": 10000, "currency": "USD", "splits": splits}
    )
    assert order.status_code == 201, order.text
    payment = await api.post(
        "/api/v1/payments", json={"order_id": order.json()["id"], "method": "acme"}
    )
    assert payment.status_code == 201, payment.text
    payment_id: str = payment.json()["id"]
    return payment_id


async def test_an_earning_tells_each_creator_with_a_contact_once(
    api: httpx.AsyncClient, hub: Container
) -> None:
    await prefer(hub.db, earning_channels=("email",), payout_channels=("email",))
    told = await new_account(api, currency="USD", name="Amina")
    silent = await new_account(api, currency="USD", name="Baraka")  # no contact
    await give_contact(api, told, name="Amina", email="amina@example.com", phone="+255712345678")
    payment_id = await split_acme_payment(
        api, [{"account_id": told, "amount": 8000}, {"account_id": silent, "amount": 1000}]
    )

    paid = webhook(payment_id, "paid", amount=10000, currency="USD")
    statuses = [(await notify(api, paid)).json()["status"] for _ in range(2)]
    # The provider again under a new event id: a success that changes nothing.
    again = webhook(payment_id, "paid", amount=10000, currency="USD")
    statuses.append((await notify(api, again)).json()["status"])
    assert statuses[:2] == ["processed", "duplicate"]
    assert (await api.get(f"/api/v1/payments/{payment_id}")).json()["status"] == "success"

    [message] = await creator_messages(hub.db)
    kind, channel, recipient, subject, content = message
    assert (kind, channel, recipient, subject) == (
        "creator_earned",
        "email",
        "amina@example.com",
        told,
    )
    assert content["amount"] == "$80.00"
    assert content["payment_id"] == payment_id
    assert content["pending"] is True


async def test_a_payment_without_splits_reads_no_creator_contact(
    api: httpx.AsyncClient, hub: Container
) -> None:
    """The hot path stays lean: a plain order's success never looks for creators."""
    await prefer(hub.db, earning_channels=("email",), payout_channels=("email",))
    payment_id = await split_acme_payment(api, [])
    paid = webhook(payment_id, "paid", amount=10000, currency="USD")
    with statements_on(hub.db) as seen:
        assert (await notify(api, paid)).json()["status"] == "processed"
    assert any("ledger_transfers" in sql for sql in seen)  # the charge was posted here
    assert not [sql for sql in seen if "creator_contacts" in sql]
    assert await creator_messages(hub.db) == []


async def test_no_earning_message_when_the_preference_is_off(
    api: httpx.AsyncClient, hub: Container
) -> None:
    await prefer(hub.db, payout_channels=("email",))  # earnings: off
    creator = await new_account(api, currency="USD")
    await give_contact(api, creator, email="amina@example.com")
    payment_id = await split_acme_payment(api, [{"account_id": creator, "amount": 8000}])
    paid = webhook(payment_id, "paid", amount=10000, currency="USD")
    assert (await notify(api, paid)).json()["status"] == "processed"
    assert await creator_messages(hub.db) == []


async def test_each_payout_end_tells_its_creator_once(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    await prefer(container.db, payout_channels=("email",))  # earnings: off
    creator = await funded_creator(client, worker, 1_000_000)
    await give_contact(client, creator, email="amina@example.com")
    paid = (await create_payout(client, creator, 100_000)).json()["id"]
    failed = (await create_payout(client, creator, 100_000, mobile(FAILING_PHONE))).json()["id"]
    await drain(worker)
    assert (await payout(client, paid))["status"] == "paid"
    assert (await payout(client, failed))["status"] == "failed"

    # The provider says so again, twice: recorded, then a duplicate; no second message.
    report = ProviderEvent(
        kind=ProviderEventKind.PAYOUT_PAID,
        dedup_key=f"sandbox:again:{paid}",
        raw_type="sandbox",
        raw_status="paid",
        payout_id=paid,
    )
    outcomes = []
    for _ in range(2):
        async with container.db.transaction() as session:
            applied = await apply_payout_report(
                session, Scope("sandbox", TEST_MERCHANT_ID, None), report, None
            )
        outcomes.append(applied.outcome)
    assert outcomes == [Outcome.RECORDED, Outcome.DUPLICATE]

    messages = await creator_messages(container.db)
    ends = sorted((m[3], m[4]["payout_id"], m[4]["status"], m[4]["amount"]) for m in messages)
    assert ends == sorted(
        [
            (creator, paid, "paid", "TSh 1,000.00"),
            (creator, failed, "failed", "TSh 1,000.00"),
        ]
    )
    assert {(m[0], m[1], m[2]) for m in messages} == {
        ("creator_payout", "email", "amina@example.com")
    }


async def test_no_payout_message_for_a_creator_without_a_contact(
    client: httpx.AsyncClient, worker: Worker, container: Container
) -> None:
    await prefer(container.db, earning_channels=("email",), payout_channels=("email",))
    creator = await funded_creator(client, worker, 1_000_000)
    created = await create_payout(client, creator, 100_000)
    await drain(worker)
    assert (await payout(client, created.json()["id"]))["status"] == "paid"
    assert await creator_messages(container.db) == []
