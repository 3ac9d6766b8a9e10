"""Provider payments end to end, with real processes: `hazina serve` (embedded worker), the
provider's fake as its own process (`hazina fake …`), and a merchant's webhook receiver.

A single-tenant deployment: the provider account comes from the environment, and the fake
posts its webhooks to `/hooks/{provider}`. On SQLite and PostgreSQL.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe as stripe_sdk
from sqlalchemy import func, select

from hazina.db.models import WebhookLog
from hazina.domain import ids
from hazina.testing.sink import WebhookSink
from tests.e2e.servers import HazinaProcess, Hub, api, free_port, open_hub

pytestmark = [pytest.mark.slow]

CLIENT_ID = "IDhazinae2e"
API_KEY = "SKhazinae2ekey"
CHECKSUM_KEY = "CHKhazinae2e"
TZS_1000 = 100_000  # minor units


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as opened:
        await opened.prepare()
        yield opened


async def start_fake(hub: Hub, provider: str) -> str:
    port = free_port()
    fake = hub.start(f"fake-{provider}", "fake", provider, "--port", str(port))
    url = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        try:
            async with httpx.AsyncClient(timeout=1) as client:
                await client.get(url)  # any answer: it listens
        except httpx.TransportError:
            return False
        return True

    await hub.eventually(up, within=20, what=f"{fake.name} listening")
    return url


async def configure_receiver(client: httpx.AsyncClient, sink: WebhookSink) -> None:
    response = await client.put("/api/v1/webhooks/config", json={"webhook_url": sink.url("/m")})
    assert response.status_code == 200, response.text


async def payment_of(client: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/payments/{payment_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for_status(
    hub: Hub, client: httpx.AsyncClient, payment_id: str, status: str
) -> None:
    async def reached() -> bool:
        return bool((await payment_of(client, payment_id))["status"] == status)

    await hub.eventually(reached, within=30, what=f"payment {payment_id} {status}")


async def wait_for_delivery(hub: Hub, sink: WebhookSink, event: str, payment_id: str) -> None:
    async def delivered() -> bool:
        payloads = [json.loads(r.body) for r in sink.at("/m")]
        return any(
            p["event"] == event and p["data"]["payment"]["id"] == payment_id for p in payloads
        )

    await hub.eventually(delivered, within=30, what=f"{event} delivered for {payment_id}")


class ClickPesa:
    def __init__(self, hub: Hub, fake_url: str) -> None:
        self.hub = hub
        self.fake_url = fake_url

    async def serve(self, **env: str) -> HazinaProcess:
        server = await self.hub.serve(
            worker=True,
            HAZINA_CLICKPESA_API_BASE=self.fake_url,
            CLICKPESA_CLIENT_ID=CLIENT_ID,
            CLICKPESA_API_KEY=API_KEY,
            CLICKPESA_WEBHOOK_SIGNING_KEY=CHECKSUM_KEY,
            **env,
        )
        async with httpx.AsyncClient(base_url=self.fake_url) as control:
            registered = await control.post(
                "/_control/clients",
                json={
                    "client_id": CLIENT_ID,
                    "api_key": API_KEY,
                    "checksum_key": CHECKSUM_KEY,
                    "webhook_url": f"{server.url}/hooks/clickpesa",
                },
            )
        assert registered.status_code == 201, registered.text
        return server

    async def complete(self, payment_id: str, status: str, *, deliver: bool = True) -> str:
        reference = ids.alphanumeric_reference(payment_id)
        async with httpx.AsyncClient(base_url=self.fake_url, timeout=30) as control:
            response = await control.post(
                f"/_control/payments/{reference}/complete",
                json={"status": status, "deliver": deliver},
            )
        assert response.status_code == 200, response.text
        return response.headers["x-fake-delivery-status"]


async def tzs_order(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/orders", json={"amount": TZS_1000, "currency": "TZS"})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


@pytest.mark.parametrize("phone", ["255712345678", None])
async def test_clickpesa_payment_by_ussd_push_or_link(hub: Hub, sink: WebhookSink, phone):
    clickpesa = ClickPesa(hub, await start_fake(hub, "clickpesa"))
    server = await clickpesa.serve()
    async with api(server) as client:
        await configure_receiver(client, sink)
        body = {"order_id": await tzs_order(client), "method": "clickpesa", "phone": phone}
        created = await client.post("/api/v1/payments", json=body)
        assert created.status_code == 201, created.text
        payment = created.json()
        assert payment["status"] == "pending"
        assert payment["provider_reference"] == ids.alphanumeric_reference(payment["id"])
        action = payment["next_action"]
        if phone:
            assert action["type"] == "ussd_push"
            assert action["phone"] == f"•••• {phone[-4:]}"  # masked in every response
        else:
            assert action["type"] == "redirect"
            assert action["url"].startswith(clickpesa.fake_url)

        assert await clickpesa.complete(payment["id"], "SUCCESS") == "200"
        await wait_for_status(hub, client, payment["id"], "success")
        order = (await client.get(f"/api/v1/orders/{payment['order_id']}")).json()
        assert order["status"] == "paid"
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])
        detail = await payment_of(client, payment["id"])
        assert detail["amount_received"] == TZS_1000

        refund = await client.post(
            f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000}
        )
        assert refund.status_code == 400
        assert "no refund API" in refund.json()["error"]["description"]


async def test_clickpesa_failure_is_delivered(hub: Hub, sink: WebhookSink):
    clickpesa = ClickPesa(hub, await start_fake(hub, "clickpesa"))
    server = await clickpesa.serve()
    async with api(server) as client:
        await configure_receiver(client, sink)
        body = {"order_id": await tzs_order(client), "method": "clickpesa", "phone": "0712345678"}
        payment = (await client.post("/api/v1/payments", json=body)).json()
        assert await clickpesa.complete(payment["id"], "FAILED") == "200"
        await wait_for_status(hub, client, payment["id"], "failed")
        await wait_for_delivery(hub, sink, "payment.failed", payment["id"])


async def test_a_lost_clickpesa_webhook_is_resolved_by_reconciliation(hub: Hub, sink: WebhookSink):
    clickpesa = ClickPesa(hub, await start_fake(hub, "clickpesa"))
    server = await clickpesa.serve(HAZINA_RECONCILE_SCHEDULE="[1]")
    async with api(server) as client:
        await configure_receiver(client, sink)
        body = {"order_id": await tzs_order(client), "method": "clickpesa", "phone": "255712345678"}
        payment = (await client.post("/api/v1/payments", json=body)).json()
        assert await clickpesa.complete(payment["id"], "SUCCESS", deliver=False) == "not-sent"
        await wait_for_status(hub, client, payment["id"], "success")
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])
        order = (await client.get(f"/api/v1/orders/{payment['order_id']}")).json()
        assert order["status"] == "paid"


STRIPE_KEY = "sk_test_hazinae2e"
STRIPE_WEBHOOK_SECRET = "whsec_hazinae2e"


class Stripe:
    def __init__(self, hub: Hub, fake_url: str) -> None:
        self.hub = hub
        self.fake_url = fake_url

    async def serve(self, **env: str) -> HazinaProcess:
        server = await self.hub.serve(
            worker=True,
            HAZINA_STRIPE_API_BASE=self.fake_url,
            STRIPE_SECRET_KEY=STRIPE_KEY,
            STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
            **env,
        )
        registered = await self.control(
            "webhook_endpoints",
            api_key=STRIPE_KEY,
            url=f"{server.url}/hooks/stripe",
            secret=STRIPE_WEBHOOK_SECRET,
        )
        assert registered["status"] == "enabled"
        return server

    async def control(self, path: str, **payload: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.fake_url, timeout=30) as control:
            response = await control.post(f"/_control/{path}", json=payload)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def stripe_payment(client: httpx.AsyncClient) -> dict[str, Any]:
    order = await client.post("/api/v1/orders", json={"amount": 2500, "currency": "USD"})
    assert order.status_code == 201, order.text
    body = {"order_id": order.json()["id"], "method": "stripe", "email": "buyer@example.com"}
    created = await client.post("/api/v1/payments", json=body)
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    assert payment["provider_reference"].startswith("cs_test_")
    assert payment["next_action"]["type"] == "redirect"
    return payment


async def test_stripe_checkout_pays_the_order_and_refunds(hub: Hub, sink: WebhookSink):
    stripe = Stripe(hub, await start_fake(hub, "stripe"))
    server = await stripe.serve()
    async with api(server) as client:
        await configure_receiver(client, sink)
        payment = await stripe_payment(client)
        completed = await stripe.control(
            f"checkout/sessions/{payment['provider_reference']}/complete", payment_status="paid"
        )
        assert {e["delivery"]["status"] for e in completed["events"]} == {200}
        await wait_for_status(hub, client, payment["id"], "success")
        order = (await client.get(f"/api/v1/orders/{payment['order_id']}")).json()
        assert order["status"] == "paid"
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])

        refund = await client.post(
            f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 1000}
        )
        assert refund.status_code == 201, refund.text
        refund_id = refund.json()["id"]

        async def processed() -> bool:
            body = (await client.get(f"/api/v1/refunds/{refund_id}")).json()
            return bool(body["status"] == "processed")

        await hub.eventually(processed, within=30, what="Stripe refund processed")
        refunds = await stripe.control("deliveries/flush")
        assert refunds is not None
        events = (await client.get("/api/v1/events", params={"limit": 100})).json()["data"]
        assert [e["type"] for e in events].count("refund.processed") == 1


async def test_a_lost_stripe_webhook_is_resolved_by_reconciliation(hub: Hub, sink: WebhookSink):
    stripe = Stripe(hub, await start_fake(hub, "stripe"))
    server = await stripe.serve(HAZINA_RECONCILE_SCHEDULE="[1]")
    async with api(server) as client:
        await configure_receiver(client, sink)
        payment = await stripe_payment(client)
        await stripe.control(
            f"checkout/sessions/{payment['provider_reference']}/complete",
            payment_status="paid",
            deliver=False,
        )
        await wait_for_status(hub, client, payment["id"], "success")
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])


def expired_event(completed: dict[str, Any]) -> dict[str, Any]:
    """The `checkout.session.expired` Stripe would send for the same session, signed with the
    `stripe` package's own signing."""
    session = completed["data"]["object"] | {"status": "expired", "payment_status": "unpaid"}
    event = completed | {
        "id": completed["id"] + "x",
        "type": "checkout.session.expired",
        "data": {"object": session},
    }
    body = json.dumps(event, indent=2)
    header = stripe_sdk.WebhookSignature.generate_signature_header(body, STRIPE_WEBHOOK_SECRET)
    return {"type": event["type"], "body": body, "signature": header}


async def test_a_storm_of_signed_stripe_events_makes_one_transition(hub: Hub, sink: WebhookSink):
    """One `checkout.session.completed`, signed by Stripe's scheme, sent 50 times at once with
    a `checkout.session.expired` for the same payment among them."""
    stripe = Stripe(hub, await start_fake(hub, "stripe"))
    server = await stripe.serve()
    async with api(server) as client:
        await configure_receiver(client, sink)
        payment = await stripe_payment(client)
        session = payment["provider_reference"]
        completed = await stripe.control(
            f"checkout/sessions/{session}/complete", payment_status="paid", deliver=False
        )
        success = next(e for e in completed["events"] if e["type"] == "checkout.session.completed")
        failure = expired_event(json.loads(success["body"]))

        async def send(event: dict[str, Any]) -> httpx.Response:
            return await client.post(
                "/hooks/stripe",
                content=event["body"].encode(),
                headers={"Stripe-Signature": event["signature"]},
            )

        storm = [success] * 25 + [failure] + [success] * 25
        responses = await asyncio.gather(*(send(event) for event in storm))
        assert {r.status_code for r in responses} == {200}
        assert [r.json()["status"] for r in responses].count("duplicate") == 49

        assert (await payment_of(client, payment["id"]))["status"] == "success"
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])
        events = (await client.get("/api/v1/events", params={"limit": 100})).json()["data"]
        mine = [e["type"] for e in events if e["resource_id"] == payment["id"]]
        assert mine.count("payment.success") == 1
        async with hub.database() as db, db.read() as session_:
            deliveries = await session_.scalar(
                select(func.count())
                .select_from(WebhookLog)
                .where(WebhookLog.event == "payment.success")
            )
        assert deliveries == 1


async def test_stripe_signatures_are_checked_on_the_raw_body(hub: Hub):
    stripe = Stripe(hub, await start_fake(hub, "stripe"))
    server = await stripe.serve()
    async with api(server) as client:
        payment = await stripe_payment(client)
        completed = await stripe.control(
            f"checkout/sessions/{payment['provider_reference']}/complete",
            payment_status="paid",
            deliver=False,
        )
        event = completed["events"][0]
        reserialised = json.dumps(json.loads(event["body"]), separators=(",", ":")).encode()
        assert reserialised != event["body"].encode()  # same JSON, other bytes
        forged = await client.post(
            "/hooks/stripe", content=reserialised, headers={"Stripe-Signature": event["signature"]}
        )
        assert forged.status_code == 400
        unsigned = await client.post("/hooks/stripe", content=event["body"].encode())
        assert unsigned.status_code == 400
        assert (await payment_of(client, payment["id"]))["status"] == "pending"


async def test_hazina_reconcile_settles_what_the_provider_knows(hub: Hub, sink: WebhookSink):
    """The operator's command: a webhook that never came, and no scheduled check due yet."""
    clickpesa = ClickPesa(hub, await start_fake(hub, "clickpesa"))
    provider_env = {
        "HAZINA_CLICKPESA_API_BASE": clickpesa.fake_url,
        "CLICKPESA_CLIENT_ID": CLIENT_ID,
        "CLICKPESA_API_KEY": API_KEY,
        "CLICKPESA_WEBHOOK_SIGNING_KEY": CHECKSUM_KEY,
    }
    server = await clickpesa.serve()
    async with api(server) as client:
        body = {"order_id": await tzs_order(client), "method": "clickpesa", "phone": "255712345678"}
        paid = (await client.post("/api/v1/payments", json=body)).json()
        body = {"order_id": await tzs_order(client), "method": "clickpesa", "phone": "255712345678"}
        waiting = (await client.post("/api/v1/payments", json=body)).json()
        assert await clickpesa.complete(paid["id"], "SUCCESS", deliver=False) == "not-sent"

        command = hub.start("reconcile", "reconcile", "--since", "1h", **provider_env)
        command.stopping = True
        code, output = await command.exit_code(within=60), command.output()
        assert code == 0, output
        assert "reconciled: 1 applied, 1 recorded" in output
        assert (await payment_of(client, paid["id"]))["status"] == "success"
        assert (await payment_of(client, waiting["id"]))["status"] == "pending"
