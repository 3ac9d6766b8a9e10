"""Abandoned attempts, duplicates and review with a provider (tests.acme), over HTTP on SQLite
and PostgreSQL: a new attempt ends the old one at the provider; money that arrives anyway is
refunded or held for review, never counted twice; review is resolved by the merchant."""

import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.db.models import AuditLog, Event, Job, Refund
from hazina.domain.providers import Capability, ProviderFailure
from hazina.services import refunds
from hazina.services.reconciliation import RECONCILE_PAYMENT
from hazina.services.refund_reconciliation import fail_pending_refund
from hazina.services.registry import ProviderRegistry
from hazina.services.settlement import NEVER_CONFIRMED
from tests.acme import DEFAULT_ACCESS, AcmeProvider, sign, webhook
from tests.conftest import AUTH, http_client
from tests.envelopes import assert_error


async def new_order(api: httpx.AsyncClient, amount: int = 5000) -> str:
    order = await api.post("/api/v1/orders", json={"amount": amount, "currency": "USD"})
    assert order.status_code == 201, order.text
    order_id: str = order.json()["id"]
    return order_id


async def start(api: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    payment = await api.post("/api/v1/payments", json={"order_id": order_id, "method": "acme"})
    assert payment.status_code == 201, payment.text
    body: dict[str, Any] = payment.json()
    return body


async def report(api: httpx.AsyncClient, payment_id: str, status: str, **fields: Any) -> None:
    body = webhook(payment_id, status, **fields)
    response = await api.post("/hooks/acme", content=body, headers=sign(body))
    assert response.status_code == 200, response.text


async def get(api: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def events_of(db: Database, resource_id: str) -> list[str]:
    async with db.read() as session:
        rows = await session.scalars(
            select(Event.type).where(Event.resource_id == resource_id).order_by(Event.created_at)
        )
        return list(rows)


async def refunds_of(db: Database, payment_id: str) -> list[Refund]:
    async with db.read() as session:
        return list(await session.scalars(select(Refund).where(Refund.payment_id == payment_id)))


async def test_a_new_attempt_ends_the_abandoned_one_at_the_provider(
    api: httpx.AsyncClient, acme: AcmeProvider, db: Database
) -> None:
    order_id = await new_order(api)
    abandoned = await start(api, order_id)
    retried = await start(api, order_id)
    assert acme.cancelled == [abandoned["provider_reference"]]
    ended = await get(api, f"/api/v1/payments/{abandoned['id']}")
    assert (ended["status"], ended["error_code"]) == ("failed", "PAYMENT_EXPIRED")
    assert (await get(api, f"/api/v1/payments/{retried['id']}"))["status"] == "pending"

    await report(api, retried["id"], "paid", amount=5000, currency="USD")
    assert (await get(api, f"/api/v1/orders/{order_id}"))["status"] == "paid"
    # The ended attempt's money arrives after all: the order is paid, so it goes back.
    await report(api, abandoned["id"], "paid", amount=5000, currency="USD")
    late = await get(api, f"/api/v1/payments/{abandoned['id']}")
    assert (late["status"], late["review_reason"]) == ("refunded", "order_already_paid")
    assert late["amount_refunded"] == 5000
    [refund] = await refunds_of(db, abandoned["id"])
    assert (refund.amount, refund.status) == (5000, "pending")
    assert (await events_of(db, abandoned["id"]))[-1] == "payment.refunded"
    assert (await get(api, f"/api/v1/payments/{retried['id']}"))["status"] == "success"


async def test_an_attempt_the_provider_will_not_end_is_asked_about_instead(
    api: httpx.AsyncClient, acme: AcmeProvider, db: Database
) -> None:
    acme.refuse_cancels = ProviderFailure("This session was completed.")
    order_id = await new_order(api)
    first = await start(api, order_id)
    second = await start(api, order_id)
    assert second["status"] == "pending"
    assert (await get(api, f"/api/v1/payments/{first['id']}"))["status"] == "pending"
    async with db.read() as session:
        checks = [
            job.payload
            for job in await session.scalars(select(Job).where(Job.kind == RECONCILE_PAYMENT))
        ]
    # Beside the start's own schedule, a check of the refused one now.
    assert sum(1 for payload in checks if payload["payment_id"] == first["id"]) > sum(
        1 for payload in checks if payload["payment_id"] == second["id"]
    )


async def test_a_duplicate_a_provider_cannot_refund_goes_to_review(
    container: Container, acme: AcmeProvider, db: Database
) -> None:
    no_refunds = dataclasses.replace(
        acme, capabilities=acme.capabilities - {Capability.REFUND, Capability.CANCEL}
    )
    registry = ProviderRegistry(adapters={"acme": no_refunds}, defaults={"acme": DEFAULT_ACCESS})
    hub = dataclasses.replace(
        container, providers=dataclasses.replace(container.providers, registry=registry)
    )
    async with http_client(hub, AUTH) as api:
        order_id = await new_order(api)
        first, second = await start(api, order_id), await start(api, order_id)
        await report(api, first["id"], "paid", amount=5000, currency="USD")
        await report(api, second["id"], "paid", amount=5000, currency="USD")
        held = await get(api, f"/api/v1/payments/{second['id']}")
        assert (held["status"], held["review_reason"]) == ("review", "order_already_paid")
        assert await refunds_of(db, second["id"]) == []
        review = f"/api/v1/payments/{second['id']}/review"
        refused = await api.post(review, json={"action": "refund"})
        assert_error(
            refused,
            400,
            "BAD_REQUEST_ERROR",
            "acme has no refund API: return the money from the acme dashboard, then resolve "
            "this payment as refunded_elsewhere to record it",
        )
        accepted = await api.post(review, json={"action": "accept"})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "success"


@pytest.mark.parametrize(
    ("reported", "reason"),
    [
        ({"amount": 4000, "currency": "USD"}, "amount_mismatch"),
        ({"amount": 6000}, "amount_mismatch"),
        ({"amount": 5000, "currency": "EUR"}, "currency_mismatch"),
    ],
)
async def test_a_mismatched_payment_is_held_for_review_never_success(
    api: httpx.AsyncClient, db: Database, reported: dict[str, Any], reason: str
) -> None:
    order_id = await new_order(api)
    payment = await start(api, order_id)
    await report(api, payment["id"], "paid", **reported)
    held = await get(api, f"/api/v1/payments/{payment['id']}")
    assert (held["status"], held["review_reason"]) == ("review", reason)
    public = await get(api, f"/api/v1/payments/{payment['id']}/public")
    assert public["status"] == "review"
    assert (await get(api, f"/api/v1/orders/{order_id}"))["status"] != "paid"
    types = await events_of(db, payment["id"])
    assert "payment.review_required" in types
    assert "payment.success" not in types


async def test_accepting_a_review_pays_the_order_and_is_audited(
    api: httpx.AsyncClient, db: Database
) -> None:
    order_id = await new_order(api)
    payment = await start(api, order_id)
    await report(api, payment["id"], "paid", amount=6000, currency="USD")
    accepted = await api.post(f"/api/v1/payments/{payment['id']}/review", json={"action": "accept"})
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["review_reason"]) == (
        "success",
        "amount_mismatch",
    )
    assert (await get(api, f"/api/v1/orders/{order_id}"))["status"] == "paid"
    assert (await events_of(db, payment["id"]))[-1] == "payment.success"
    again = await api.post(f"/api/v1/payments/{payment['id']}/review", json={"action": "accept"})
    assert_error(
        again, 400, "BAD_REQUEST_ERROR", "Payment is not awaiting review: its status is success"
    )
    async with db.read() as session:
        audit = (
            await session.scalars(select(AuditLog).where(AuditLog.action.like("payment.review%")))
        ).all()
    assert [(row.action, row.target, row.details) for row in audit] == [
        (
            "payment.review_accepted",
            f"payment:{payment['id']}",
            {"review_reason": "amount_mismatch"},
        )
    ]


async def test_refunding_a_review_returns_what_was_received(
    api: httpx.AsyncClient, db: Database
) -> None:
    order_id = await new_order(api)
    payment = await start(api, order_id)
    await report(api, payment["id"], "paid", amount=4000, currency="USD")
    refunded = await api.post(f"/api/v1/payments/{payment['id']}/review", json={"action": "refund"})
    assert refunded.status_code == 200, refunded.text
    body = refunded.json()
    assert (body["status"], body["amount_refunded"]) == ("refunded", 4000)
    [refund] = await refunds_of(db, payment["id"])
    assert (refund.amount, refund.status, refund.reason) == (4000, "pending", "Refunded on review")
    assert (await events_of(db, payment["id"]))[-1] == "payment.refunded"
    assert (await get(api, f"/api/v1/orders/{order_id}"))["status"] != "paid"
    unknown = await api.post(f"/api/v1/payments/{payment['id']}/review", json={"action": "keep"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "BAD_REQUEST_ERROR"


async def paid_and_refunding(
    api: httpx.AsyncClient, hub: Container, amount: int
) -> tuple[str, str]:
    """A paid acme payment with a refund of `amount` that acme accepted and will settle
    later (its `process_refund` job run here, by hand)."""
    payment = await start(api, await new_order(api))
    await report(api, payment["id"], "paid", amount=5000, currency="USD")
    refund = await api.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": amount})
    assert refund.status_code == 201, refund.text
    refund_id: str = refund.json()["id"]
    await refunds.process_refund(hub.db, hub.sandbox, hub.providers, refund_id)
    return payment["id"], refund_id


def acme_refund(refund_id: str) -> str:
    """The reference acme gave the refund (tests.acme)."""
    return "acme_re_" + refund_id


async def test_a_refund_hazina_gave_up_on_counts_once_the_provider_returns_it(
    api: httpx.AsyncClient, hub: Container, db: Database
) -> None:
    payment_id, refund_id = await paid_and_refunding(api, hub, 3000)
    assert await fail_pending_refund(db, refund_id, NEVER_CONFIRMED)
    assert (await get(api, f"/api/v1/payments/{payment_id}"))["amount_refunded"] == 0
    # The provider sends the money back after all: it counts again, and only once.
    for _ in range(2):
        await report(api, payment_id, "refunded", refund=acme_refund(refund_id))
    refund = await get(api, f"/api/v1/refunds/{refund_id}")
    assert (refund["status"], refund.get("failure_reason")) == ("processed", None)
    payment = await get(api, f"/api/v1/payments/{payment_id}")
    assert (payment["status"], payment["amount_refunded"]) == ("success", 3000)
    assert (await events_of(db, refund_id)).count("refund.processed") == 1


async def test_a_late_return_beyond_what_was_received_goes_to_review(
    api: httpx.AsyncClient, hub: Container, db: Database
) -> None:
    payment_id, first = await paid_and_refunding(api, hub, 3000)
    assert await fail_pending_refund(db, first, NEVER_CONFIRMED)
    second = await api.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": 5000})
    assert second.status_code == 201, second.text
    second_id = second.json()["id"]
    await refunds.process_refund(hub.db, hub.sandbox, hub.providers, second_id)
    await report(api, payment_id, "refunded", refund=acme_refund(second_id))
    await report(api, payment_id, "refunded", refund=acme_refund(first))
    payment = await get(api, f"/api/v1/payments/{payment_id}")
    assert (payment["status"], payment["review_reason"]) == ("review", "over_refunded")
    assert payment["amount_refunded"] == 8000
    assert (await events_of(db, payment_id))[-1] == "payment.review_required"


async def test_a_refund_the_provider_refused_stays_failed(
    api: httpx.AsyncClient, hub: Container, db: Database
) -> None:
    payment_id, refund_id = await paid_and_refunding(api, hub, 3000)
    assert await fail_pending_refund(db, refund_id, "Refused by the provider: charge disputed")
    await report(api, payment_id, "refunded", refund=acme_refund(refund_id))
    assert (await get(api, f"/api/v1/refunds/{refund_id}"))["status"] == "failed"
    assert (await get(api, f"/api/v1/payments/{payment_id}"))["amount_refunded"] == 0
