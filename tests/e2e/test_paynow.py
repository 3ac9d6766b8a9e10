"""Paynow end to end, with real processes: `hazina serve` (embedded worker), `hazina fake
paynow` and a merchant's webhook receiver, on SQLite and PostgreSQL. A single-tenant
deployment: the integration comes from PAYNOW_*, status updates go to `/hooks/paynow`.

The fake runs Paynow's test numbers at a fiftieth of their delays (`--time-scale 0.02`)."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from sqlalchemy import func, select

from hazina.db.models import Event, InboundEvent
from hazina.testing.sink import WebhookSink
from tests.e2e.servers import HazinaProcess, Hub, api, free_port, open_hub
from tests.e2e.test_providers import (
    configure_receiver,
    payment_of,
    wait_for_delivery,
    wait_for_status,
)

pytestmark = [pytest.mark.slow]

INTEGRATION_ID = "24680"
INTEGRATION_KEY = "e2e-3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977"
AUTH_EMAIL = "shop@example.co.zw"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as opened:
        await opened.prepare()
        yield opened


class Paynow:
    """`hazina fake paynow` and a `hazina serve` whose default Paynow account is the fake's."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.url = ""

    async def start(self, **env: str) -> HazinaProcess:
        port = free_port()
        integration = f"{INTEGRATION_ID}:{INTEGRATION_KEY}:{AUTH_EMAIL}"
        fake = self.hub.start(
            "fake-paynow", "fake", "paynow", "--port", str(port),
            "--integration", integration, "--time-scale", "0.02",
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"

        async def up() -> bool:
            try:
                async with httpx.AsyncClient(timeout=1) as client:
                    await client.get(f"{self.url}/_control/transactions")
            except httpx.TransportError:
                return False
            return True

        await self.hub.eventually(up, within=20, what=f"{fake.name} listening")
        return await self.hub.serve(worker=True, **(self.env() | env))

    def env(self) -> dict[str, str]:
        return {
            "HAZINA_PAYNOW_API_BASE": self.url,
            "PAYNOW_INTEGRATION_ID": INTEGRATION_ID,
            "PAYNOW_INTEGRATION_KEY": INTEGRATION_KEY,
            "PAYNOW_AUTH_EMAIL": AUTH_EMAIL,
        }

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            response = await client.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def transaction(self, reference: str) -> dict[str, Any]:
        [found] = [
            t
            for t in await self.control("GET", "/_control/transactions")
            if t["reference"] == reference
        ]
        return dict(found)


async def start_payment(
    client: httpx.AsyncClient, method: str, phone: str | None = None, currency: str = "USD"
) -> httpx.Response:
    order = await client.post("/api/v1/orders", json={"amount": 1050, "currency": currency})
    assert order.status_code == 201, order.text
    body: dict[str, Any] = {"order_id": order.json()["id"], "method": method}
    if phone is not None:
        body["phone"] = phone
    return await client.post("/api/v1/payments", json=body)


async def count(hub: Hub, payment_id: str, event: str) -> int:
    async with hub.database() as db, db.read() as session:
        total = await session.scalar(
            select(func.count()).where(Event.resource_id == payment_id, Event.type == event)
        )
    return int(total or 0)


async def test_a_web_payment_paid_on_paynows_page_pays_the_order_and_is_delivered(
    hub: Hub, sink: WebhookSink
) -> None:
    paynow = Paynow(hub)
    server = await paynow.start()
    async with api(server) as client:
        await configure_receiver(client, sink)
        started = await start_payment(client, "paynow")
        assert started.status_code == 201, started.text
        payment = started.json()
        page = payment["next_action"]["url"]
        assert page.startswith(f"{paynow.url}/Payment/ConfirmPayment/")
        async with httpx.AsyncClient(timeout=30) as browser:
            assert (await browser.get(page)).status_code == 200
            paid = await browser.post(page, data={"action": "pay"})
        assert paid.status_code == 303
        assert paid.headers["location"] == f"{server.url}/success?payment_id={payment['id']}"
        await wait_for_status(hub, client, payment["id"], "success")
        order = (await client.get(f"/api/v1/orders/{payment['order_id']}")).json()
        assert order["status"] == "paid"
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])


@pytest.mark.parametrize(
    ("method", "phone", "outcome"),
    [
        ("ecocash", "0771111111", "success"),
        ("ecocash", "0772222222", "success"),
        ("onemoney", "0773333333", "failed"),
    ],
)
async def test_express_test_numbers_reach_their_documented_outcomes(
    hub: Hub, sink: WebhookSink, method: str, phone: str, outcome: str
) -> None:
    server = await Paynow(hub).start()
    async with api(server) as client:
        await configure_receiver(client, sink)
        started = await start_payment(client, method, phone, currency="ZWG")
        assert started.status_code == 201, started.text
        payment = started.json()
        assert payment["next_action"]["type"] == "ussd_push"
        assert payment["next_action"]["phone"].endswith(phone[-4:])
        await wait_for_status(hub, client, payment["id"], outcome)
        await wait_for_delivery(hub, sink, f"payment.{outcome}", payment["id"])
        # 0774444444: Paynow refuses at once; the payment fails with its reason.
        refused = await start_payment(client, method, "0774444444", currency="ZWG")
        assert refused.status_code == 400
        assert refused.json()["error"]["description"] == "Paynow: Insufficient balance"


async def test_innbucks_code_shown_and_paid(hub: Hub, sink: WebhookSink) -> None:
    paynow = Paynow(hub)
    server = await paynow.start()
    async with api(server) as client:
        await configure_receiver(client, sink)
        started = await start_payment(client, "innbucks")
        assert started.status_code == 201, started.text
        payment = started.json()
        action = payment["next_action"]
        assert action["type"] == "authorization_code"
        assert action["deep_link"].endswith(f"pymInnCode={action['code']}")
        assert action["qr_svg"].startswith("<svg")
        public = (await client.get(f"/api/v1/payments/{payment['id']}/public")).json()
        assert public["next_action"]["code"] == action["code"]
        # The customer pays with the code in the InnBucks app.
        await paynow.control("POST", f"/_control/innbucks/{action['code']}/pay")
        await wait_for_status(hub, client, payment["id"], "success")
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])


async def test_lost_tampered_and_duplicated_status_updates(hub: Hub, sink: WebhookSink) -> None:
    """A lost update is settled by `hazina reconcile`; a tampered one is answered 200, stored
    rejected and changes nothing; 30 copies of a genuine one at once make one transition."""
    paynow = Paynow(hub)
    server = await paynow.start()
    await paynow.control("POST", "/_control/ipn", json={"lose": True})
    async with api(server) as client:
        await configure_receiver(client, sink)
        lost = (await start_payment(client, "ecocash", "0771111111")).json()
        copied = (await start_payment(client, "onemoney", "0779876543")).json()

        # Lost: paid at Paynow, no update came; the operator's command asks the poll URL.
        async def paid_at_paynow() -> bool:
            return bool((await paynow.transaction(lost["id"]))["status"] == "Paid")

        await hub.eventually(paid_at_paynow, within=30, what="paid at Paynow")
        command = hub.start("reconcile", "reconcile", "--since", "1h", **paynow.env())
        command.stopping = True
        code, output = await command.exit_code(within=60), command.output()
        assert code == 0, output
        assert "1 applied" in output
        assert (await payment_of(client, lost["id"]))["status"] == "success"

        # Tampered: the amount changed after hashing.
        transaction = await paynow.transaction(copied["id"])
        settled = await paynow.control(
            "POST",
            f"/_control/transactions/{transaction['paynowreference']}",
            json={"status": "Paid"},
        )
        assert settled["delivery"] == "lost"
        genuine = settled["ipn"]
        pairs = parse_qsl(genuine, keep_blank_values=True)
        tampered = urlencode([(k, "0.01" if k == "amount" else v) for k, v in pairs])
        async with httpx.AsyncClient(base_url=str(server.url), timeout=30) as provider:
            answer = await provider.post("/hooks/paynow", content=tampered, headers=FORM)
            assert answer.status_code == 200
            assert answer.json()["status"] == "rejected"
            assert (await payment_of(client, copied["id"]))["status"] == "pending"

            copies = await asyncio.gather(
                *(provider.post("/hooks/paynow", content=genuine, headers=FORM) for _ in range(30))
            )
        assert [c.status_code for c in copies] == [200] * 30
        assert sorted(c.json()["status"] for c in copies) == ["duplicate"] * 29 + ["processed"]
        assert (await payment_of(client, copied["id"]))["status"] == "success"
        assert await count(hub, copied["id"], "payment.success") == 1
        await wait_for_delivery(hub, sink, "payment.success", copied["id"])
        async with hub.database() as db, db.read() as session:
            rejected = await session.get_one(InboundEvent, answer.json()["id"])
        assert rejected.status == "rejected"
        deliveries = [json.loads(r.body) for r in sink.at("/m")]
        assert (
            sum(
                d["event"] == "payment.success" and d["data"]["payment"]["id"] == copied["id"]
                for d in deliveries
            )
            == 1
        )
