"""PayPal end to end, with real processes: `hazina serve` (embedded worker), `hazina fake paypal`
as its own process, and a merchant's webhook receiver. On SQLite and PostgreSQL.

A single-tenant deployment (PAYPAL_CLIENT_ID/…); the fake signs its webhooks with its own
self-signed certificate, fetched from 127.0.0.1 (HAZINA_PAYPAL_CERT_HOSTS).
"""

import asyncio
import base64
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import func, select

from hazina.db.models import Event, InboundEvent, Job
from hazina.services.approvals.requests import COMPLETE_APPROVAL
from hazina.testing.sink import WebhookSink
from tests.e2e.servers import HazinaProcess, Hub, api, open_hub
from tests.e2e.test_providers import (
    configure_receiver,
    payment_of,
    start_fake,
    wait_for_delivery,
    wait_for_status,
)

pytestmark = [pytest.mark.slow]

CLIENT_ID = "AZhazinae2eclient"
CLIENT_SECRET = "EBhazinae2esecret"
WEBHOOK_ID = "1JE4291016473214C"
USD_25 = 2500


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as opened:
        await opened.prepare()
        yield opened


class PayPal:
    """The fake, its client registered with the server's `/hooks/paypal`."""

    def __init__(self, hub: Hub, fake_url: str) -> None:
        self.hub = hub
        self.url = fake_url

    async def serve(self, **env: str) -> HazinaProcess:
        server = await self.hub.serve(
            worker=True,
            HAZINA_PAYPAL_API_BASE=self.url,
            HAZINA_PAYPAL_CERT_HOSTS="127.0.0.1",
            PAYPAL_CLIENT_ID=CLIENT_ID,
            PAYPAL_CLIENT_SECRET=CLIENT_SECRET,
            PAYPAL_WEBHOOK_ID=WEBHOOK_ID,
            **env,
        )
        client = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "webhook_id": WEBHOOK_ID,
            "webhook_url": f"{server.url}/hooks/paypal",
        }
        assert (await self.post("/_control/clients", client)).status_code == 201
        return server

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as control:
            return await control.post(path, json=body)

    async def settings(self, **values: Any) -> None:
        assert (await self.post("/_control/settings", values)).status_code == 200

    async def webhooks(self, event_type: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as control:
            sent = (await control.get("/_control/webhooks")).json()
        return [s for s in sent if json.loads(s["body"])["event_type"] == event_type]

    async def press(self, payment: dict[str, Any], button: str) -> str:
        """What the customer's browser does on the approval page: the button's form POST;
        answers where PayPal sends the customer back to."""
        order_id = payment["provider_reference"]
        assert payment["next_action"]["url"] == f"{self.url}/checkoutnow?token={order_id}"
        response = await self.post(f"/checkoutnow/{order_id}/{button}")
        assert response.status_code == 303, response.text
        return response.headers["location"]


async def paypal_payment(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    order = await client.post("/api/v1/orders", json={"amount": USD_25, "currency": "USD"})
    assert order.status_code == 201, order.text
    return await attempt(client, order.json()["id"], **extra)


async def attempt(client: httpx.AsyncClient, order_id: str, **extra: Any) -> dict[str, Any]:
    created = await client.post(
        "/api/v1/payments", json={"order_id": order_id, "method": "paypal", **extra}
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    assert payment["status"] == "pending"
    assert payment["next_action"]["type"] == "redirect"
    return payment


async def come_back(server: HazinaProcess, location: str) -> httpx.Response:
    """The customer's browser follows PayPal's redirect to Hazina's return URL."""
    assert server.url is not None
    assert location.startswith(f"{server.url}/checkout/approved?")
    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as browser:
        return await browser.get(location)


async def wait_for_refund(hub: Hub, client: httpx.AsyncClient, created: httpx.Response) -> None:
    assert created.status_code == 201, created.text
    refund_id = created.json()["id"]

    async def processed() -> bool:
        found = await client.get(f"/api/v1/refunds/{refund_id}")
        return bool(found.json()["status"] == "processed")

    await hub.eventually(processed, within=30, what=f"refund {refund_id} processed")


async def count(hub: Hub, query: Any) -> int:
    async with hub.database() as db, db.read() as session:
        return int(await session.scalar(query) or 0)


def completion_jobs(payment_id: str) -> Any:
    return select(func.count(Job.id)).where(
        Job.kind == COMPLETE_APPROVAL, Job.payload["payment_id"].as_string() == payment_id
    )


def success_events(payment_id: str) -> Any:
    return select(func.count(Event.id)).where(
        Event.type == "payment.success", Event.resource_id == payment_id
    )


async def test_approve_capture_success_delivered_then_refund(hub: Hub, sink: WebhookSink):
    paypal = PayPal(hub, await start_fake(hub, "paypal"))
    server = await paypal.serve()
    async with api(server) as client:
        await configure_receiver(client, sink)
        payment = await paypal_payment(client)
        location = await paypal.press(payment, "approve")
        query = parse_qs(urlsplit(location).query)
        assert query["payment_id"] == [payment["id"]]
        assert query["token"] == [payment["provider_reference"]]
        landed = await come_back(server, location)
        assert landed.status_code == 200
        assert str(landed.url).endswith(f"/success?payment_id={payment['id']}")

        await wait_for_status(hub, client, payment["id"], "success")
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])
        detail = await payment_of(client, payment["id"])
        assert detail["amount_received"] == USD_25
        assert detail["captured"] is True
        order = (await client.get(f"/api/v1/orders/{payment['order_id']}")).json()
        assert order["status"] == "paid"
        # The return and CHECKOUT.ORDER.APPROVED both said "approved": one capture job, one
        # capture at PayPal, one success.
        assert await count(hub, completion_jobs(payment["id"])) == 1
        assert len(await paypal.webhooks("PAYMENT.CAPTURE.COMPLETED")) == 1
        assert await count(hub, success_events(payment["id"])) == 1

        refund = await client.post(
            f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000}
        )
        await wait_for_refund(hub, client, refund)
        refunded = await paypal.webhooks("PAYMENT.CAPTURE.REFUNDED")
        assert [json.loads(r["body"])["resource"]["amount"]["value"] for r in refunded] == ["10.00"]
        assert (await payment_of(client, payment["id"]))["amount_refunded"] == 1000


async def test_a_reversed_capture_holds_the_payment_for_review(hub: Hub, sink: WebhookSink):
    paypal = PayPal(hub, await start_fake(hub, "paypal"))
    server = await paypal.serve()
    async with api(server) as client:
        await configure_receiver(client, sink)
        payment = await paypal_payment(client)
        await come_back(server, await paypal.press(payment, "approve"))
        await wait_for_status(hub, client, payment["id"], "success")
        (completed,) = await paypal.webhooks("PAYMENT.CAPTURE.COMPLETED")
        capture_id = json.loads(completed["body"])["resource"]["id"]

        reversed_ = await paypal.post(f"/_control/captures/{capture_id}/reverse")
        assert reversed_.status_code == 200, reversed_.text
        (sent,) = await paypal.webhooks("PAYMENT.CAPTURE.REVERSED")
        assert sent["status"] == 200
        await wait_for_status(hub, client, payment["id"], "review")
        held = await payment_of(client, payment["id"])
        assert held["review_reason"] == "returned_at_provider"
        await wait_for_delivery(hub, sink, "payment.review_required", payment["id"])


async def test_cancel_returns_to_the_checkout_for_another_attempt(hub: Hub, sink: WebhookSink):
    paypal = PayPal(hub, await start_fake(hub, "paypal"))
    server = await paypal.serve()
    async with api(server) as client:
        await configure_receiver(client, sink)
        first = await paypal_payment(client)
        location = await paypal.press(first, "cancel")
        assert location.startswith(f"{server.url}/checkout?order_id={first['order_id']}")
        async with httpx.AsyncClient(timeout=30) as browser:
            assert (await browser.get(location)).status_code == 200

        second = await attempt(client, first["order_id"])
        assert second["provider_reference"] != first["provider_reference"]
        await come_back(server, await paypal.press(second, "approve"))
        await wait_for_status(hub, client, second["id"], "success")
        await wait_for_delivery(hub, sink, "payment.success", second["id"])
        assert (await payment_of(client, first["id"]))["status"] == "pending"
        assert await count(hub, completion_jobs(first["id"])) == 0


async def test_authorise_then_capture_later(hub: Hub, sink: WebhookSink):
    paypal = PayPal(hub, await start_fake(hub, "paypal"))
    server = await paypal.serve()
    async with api(server) as client:
        await configure_receiver(client, sink)
        payment = await paypal_payment(client, capture=False)
        await come_back(server, await paypal.press(payment, "approve"))
        await wait_for_status(hub, client, payment["id"], "success")
        assert (await payment_of(client, payment["id"]))["captured"] is False
        assert await paypal.webhooks("PAYMENT.CAPTURE.COMPLETED") == []  # authorised only

        captured = await client.post(
            f"/api/v1/payments/{payment['id']}/capture", json={"amount": 2000}
        )
        assert captured.status_code == 200, captured.text
        assert captured.json()["captured"] is True
        again = await client.post(
            f"/api/v1/payments/{payment['id']}/capture", json={"amount": 2000}
        )
        assert again.status_code == 200  # captured once

        refund = await client.post(
            f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 500}
        )
        await wait_for_refund(hub, client, refund)


async def test_a_lost_webhook_is_settled_by_reconciliation(hub: Hub, sink: WebhookSink):
    paypal = PayPal(hub, await start_fake(hub, "paypal"))
    # The first status query a second after the start; the final one far later.
    server = await paypal.serve(HAZINA_RECONCILE_SCHEDULE="[1, 3600]")
    await paypal.settings(deliver=False)
    async with api(server) as client:
        await configure_receiver(client, sink)
        payment = await paypal_payment(client)
        # Approved, but neither the webhook arrives nor does the customer come back.
        approved = await paypal.post(f"/_control/orders/{payment['provider_reference']}/approve")
        assert approved.json()["status"] == "APPROVED"
        await wait_for_status(hub, client, payment["id"], "success")
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])
        assert await count(hub, completion_jobs(payment["id"])) == 1


def resign(webhook: dict[str, Any], body: bytes, key: rsa.RSAPrivateKey) -> dict[str, str]:
    headers = dict(webhook["headers"])
    crc = zlib.crc32(body) & 0xFFFFFFFF
    message = (
        f"{headers['PAYPAL-TRANSMISSION-ID']}|{headers['PAYPAL-TRANSMISSION-TIME']}|"
        f"{WEBHOOK_ID}|{crc}"
    ).encode()
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    headers["PAYPAL-TRANSMISSION-SIG"] = base64.b64encode(signature).decode()
    return headers


async def test_forged_webhooks_are_rejected_and_30_duplicates_apply_once(
    hub: Hub, sink: WebhookSink
):
    paypal = PayPal(hub, await start_fake(hub, "paypal"))
    server = await paypal.serve()
    await paypal.settings(deliver=False)  # the test delivers them
    async with api(server) as client:
        await configure_receiver(client, sink)
        payment = await paypal_payment(client)
        assert (
            await paypal.post(f"/_control/orders/{payment['provider_reference']}/approve")
        ).status_code == 200
        (genuine,) = await paypal.webhooks("CHECKOUT.ORDER.APPROVED")
        body = genuine["body"].encode()
        altered = body.replace(b'"status": "APPROVED"', b'"status": "APPROVEd"', 1)
        assert len(altered) == len(body)
        assert altered != body
        fake_port = urlsplit(paypal.url).port
        elsewhere = {
            **genuine["headers"],
            # The same certificate, served by the same fake, but named by a host not allowed.
            "PAYPAL-CERT-URL": f"http://localhost:{fake_port}{urlsplit(genuine['headers']['PAYPAL-CERT-URL']).path}",
        }
        forgeries = [
            (
                body,
                resign(
                    genuine, body, rsa.generate_private_key(public_exponent=65537, key_size=2048)
                ),
            ),
            (altered, genuine["headers"]),
            (body, elsewhere),
        ]
        assert server.url is not None
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as provider:
            for forged_body, headers in forgeries:
                answer = await provider.post("/hooks/paypal", content=forged_body, headers=headers)
                assert answer.status_code == 400, answer.text
                assert answer.json()["status"] == "rejected"
            assert (await payment_of(client, payment["id"]))["status"] == "pending"
            assert await count(hub, completion_jobs(payment["id"])) == 0
            rejected = select(func.count(InboundEvent.id)).where(InboundEvent.status == "rejected")
            assert await count(hub, rejected) == 3

            answers = await asyncio.gather(
                *(
                    provider.post("/hooks/paypal", content=body, headers=genuine["headers"])
                    for _ in range(30)
                )
            )
        assert [a.status_code for a in answers] == [200] * 30
        statuses = sorted(a.json()["status"] for a in answers)
        assert statuses == ["duplicate"] * 29 + ["processed"]
        await wait_for_status(hub, client, payment["id"], "success")
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])
        assert await count(hub, completion_jobs(payment["id"])) == 1
        assert await count(hub, success_events(payment["id"])) == 1
