"""Email through a real SMTP server (aiosmtpd) on both databases: a link sent by email, and once
its order is paid, the merchant told and the buyer's receipt, each a notification row written
in the payment's transaction and sent by the worker."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.worker import Worker
from tests.conftest import http_client, make_settings
from tests.e2e.servers import free_port
from tests.mailbox import Mailbox, smtp_server, text_of
from tests.waiting import drain
from tests.web.conftest import log_in, post_form


@pytest.fixture(scope="module")
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    with smtp_server(smtp_port) as box:
        yield box


@pytest.fixture
def settings(database_url: str, smtp_port: int) -> Settings:
    return make_settings(
        database_url, smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none"
    )


async def test_a_link_by_email_then_the_merchant_and_buyer_told_it_was_paid(
    container: Container, client: httpx.AsyncClient, worker: Worker, mailbox: Mailbox
) -> None:
    async with http_client(container) as dashboard:
        assert (await log_in(dashboard)).status_code == 303
        saved = await post_form(
            dashboard,
            "/dashboard/links",
            "/dashboard/links/notifications",
            {
                "merchant_email": "owner@shop.example",
                "paid_channels": "email",
                "receipt_channels": "email",
            },
        )
        assert saved.status_code == 303
    body: dict[str, Any] = {
        "amount": 50000,
        "description": "Tea",
        "methods": ["upi"],
        "customer": {"name": "Asha", "email": "asha@example.com"},
        "send": ["email"],
    }
    link = (await client.post("/api/v1/payment-links", json=body)).json()
    await drain(worker)
    [request] = mailbox.to("asha@example.com")
    assert request["Subject"] == "Payment request: ₹500.00"
    assert link["url"] in text_of(request)

    paid = await client.post(
        "/api/v1/payments/public",
        json={"order_id": link["order_id"], "method": "upi", "vpa": "asha@upi"},
    )
    assert paid.status_code == 201
    await drain(worker)
    [told] = mailbox.to("owner@shop.example")
    assert told["Subject"] == f"Paid: ₹500.00 for order {link['order_id']}"
    assert link["id"] in text_of(told)
    receipt = mailbox.to("asha@example.com")[1]
    assert receipt["Subject"] == "Receipt: ₹500.00"
    assert paid.json()["id"] in text_of(receipt)
    shown = (await client.get(f"/api/v1/payment-links/{link['id']}")).json()
    assert shown["status"] == "paid"
    kinds = sorted((m["kind"], m["channel"], m["status"]) for m in shown["messages"])
    assert kinds == [
        ("order_paid", "email", "sent"),
        ("payment_link", "email", "sent"),
        ("receipt", "email", "sent"),
    ]
    # Each message was sent once: the payment's success caused them once.
    assert len(mailbox.received) == 3


async def test_no_settings_no_messages(
    client: httpx.AsyncClient, worker: Worker, mailbox: Mailbox
) -> None:
    link = (await client.post("/api/v1/payment-links", json={"amount": 50000})).json()
    await client.post(
        "/api/v1/payments/public",
        json={"order_id": link["order_id"], "method": "upi", "vpa": "asha@upi"},
    )
    await drain(worker)
    assert mailbox.received == []
    assert (await client.get(f"/api/v1/payment-links/{link['id']}")).json()["messages"] == []


async def test_settings_refuse_a_bad_phone_naming_the_field(container: Container) -> None:
    async with http_client(container) as dashboard:
        await log_in(dashboard)
        refused = await post_form(
            dashboard,
            "/dashboard/links",
            "/dashboard/links/notifications",
            {"merchant_phone": "0712", "paid_channels": "whatsapp"},
        )
        assert refused.status_code == 400
        assert "merchant_phone:" in refused.text
