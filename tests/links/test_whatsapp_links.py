"""Links sent over WhatsApp through the Graph fake (providers.md section 6), on both databases:
the template with the link's code as its URL button parameter, statuses through the signed hook
(de-duplicated, forged ones rejected), rate limits retried, permanent errors shown on the link,
text inside the customer's 24 h window, Meta's verification handshake."""

import dataclasses
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from hazina.api.app import create_app
from hazina.bootstrap import Container
from hazina.providers.whatsapp import WhatsAppProvider
from hazina.services.notifications.sending import Channels
from hazina.testing.whatsapp_fake import FakeWhatsApp, create_whatsapp_fake
from hazina.worker import Worker
from tests.conftest import AUTH
from tests.waiting import drain

GRAPH = "http://graph.test"
VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAGtesttoken0000000000"
APP_SECRET = "whatsapp-app-secret-0001"
VERIFY_TOKEN = "hazina-verify-123"
CUSTOMER = "+255712345678"


@dataclasses.dataclass
class Hub:
    api: httpx.AsyncClient
    fake: FakeWhatsApp
    control: httpx.AsyncClient
    worker: Worker
    account_id: str

    async def link(self, phone: str = CUSTOMER, **extra: Any) -> dict[str, Any]:
        body = {"amount": 125000, "currency": "INR", "customer": {"phone": phone}}
        response = await self.api.post(
            "/api/v1/payment-links", json=body | {"send": ["whatsapp"]} | extra
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def read(self, link_id: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.api.get(f"/api/v1/payment-links/{link_id}")).json()
        return body

    async def status(self, message_id: str, status: str, **error: Any) -> int:
        response = await self.control.post(
            f"/_control/messages/{message_id}/status", json={"status": status, **error}
        )
        code: int = response.json()["webhook_status"]
        return code


@pytest.fixture
async def hub(container: Container) -> AsyncIterator[Hub]:
    hazina = create_app(container)
    fake_app: Starlette = create_whatsapp_fake(
        statuses=(), webhook_transport=httpx.ASGITransport(app=hazina)
    )
    whatsapp = WhatsAppProvider(GRAPH, VERSION, 5.0, transport=httpx.ASGITransport(app=fake_app))
    wired = dataclasses.replace(
        container, notification_channels=Channels(whatsapp=whatsapp, email=None)
    )
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hazina), base_url="http://hazina.test", headers=AUTH
    )
    control = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake_app), base_url=GRAPH)
    credentials = {
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "phone_number_id": PHONE_NUMBER_ID,
        "verify_token": VERIFY_TOKEN,
        "template_name": "payment_link",
    }
    account = await api.put("/api/v1/provider-accounts/whatsapp", json={"credentials": credentials})
    assert account.status_code == 200, account.text
    account_id = account.json()["id"]
    registered = await control.post(
        "/_control/accounts",
        json={
            "phone_number_id": PHONE_NUMBER_ID,
            "access_token": TOKEN,
            "app_secret": APP_SECRET,
            "webhook_url": f"http://hazina.test/hooks/whatsapp/{account_id}",
        },
    )
    assert registered.status_code == 200
    state: FakeWhatsApp = fake_app.state.whatsapp
    yield Hub(api, state, control, Worker.from_container(wired), account_id)
    await api.aclose()
    await control.aclose()
    await whatsapp.aclose()


async def test_a_link_goes_as_the_template_with_its_code_and_its_statuses_show(
    hub: Hub,
) -> None:
    link = await hub.link(description="Invoice 42")
    assert [m["status"] for m in link["messages"]] == ["pending"]
    assert link["messages"][0]["recipient"] == "•••• 5678"
    await drain(hub.worker)
    [sent] = hub.fake.messages
    assert sent["type"] == "template"
    assert sent["to"] == "255712345678"
    template = sent["template"]
    assert template["name"] == "payment_link"
    assert template["language"] == {"code": "en_US"}
    body, button = template["components"]
    assert body["parameters"] == [{"type": "text", "text": "₹1,250.00"}]
    assert button["sub_type"] == "url"
    assert button["index"] == "0"
    assert button["parameters"] == [{"type": "text", "text": link["code"]}]
    assert (await hub.read(link["id"]))["messages"][0]["status"] == "sent"

    assert await hub.status(sent["id"], "delivered") == 200
    assert (await hub.read(link["id"]))["messages"][0]["status"] == "delivered"
    assert await hub.status(sent["id"], "read") == 200
    # Meta resends, and statuses arrive out of order: neither moves the message back.
    assert await hub.status(sent["id"], "read") == 200
    assert await hub.status(sent["id"], "delivered") == 200
    message = (await hub.read(link["id"]))["messages"][0]
    assert (message["status"], message["attempts"], message["error"]) == ("read", 1, None)
    inbound = (await hub.api.get("/api/v1/inbound-events", params={"limit": 10})).json()
    statuses = sorted(event["status"] for event in inbound["data"])
    assert statuses == ["duplicate", "duplicate", "processed", "processed"]


async def test_a_forged_status_is_rejected_and_changes_nothing(hub: Hub) -> None:
    link = await hub.link()
    await drain(hub.worker)
    [sent] = hub.fake.messages
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "statuses": [
                                {"id": sent["id"], "status": "read", "timestamp": "1700000000"}
                            ]
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(payload).encode()
    forged = "sha256=" + hmac.new(b"not-the-app-secret", raw, hashlib.sha256).hexdigest()
    for headers in ({"X-Hub-Signature-256": forged}, {}):
        response = await hub.api.post(
            f"/hooks/whatsapp/{hub.account_id}", content=raw, headers=headers
        )
        assert response.status_code == 400
    assert (await hub.read(link["id"]))["messages"][0]["status"] == "sent"
    genuine = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    accepted = await hub.api.post(
        f"/hooks/whatsapp/{hub.account_id}",
        content=raw,
        headers={"X-Hub-Signature-256": genuine},
    )
    assert accepted.status_code == 200
    assert (await hub.read(link["id"]))["messages"][0]["status"] == "read"


async def test_permanent_errors_fail_the_message_at_once_and_say_why(hub: Hub) -> None:
    mismatch = await hub.link(phone="+255712342000")  # 132000
    await drain(hub.worker)
    message = (await hub.read(mismatch["id"]))["messages"][0]
    assert message["status"] == "failed"
    assert message["attempts"] == 1
    assert message["error"].startswith("WhatsApp error 132000:")
    assert hub.fake.messages == []
    # Undeliverable is reported later, by a failed status carrying its error.
    later = await hub.link()
    await drain(hub.worker)
    [sent] = hub.fake.messages
    code = await hub.status(sent["id"], "failed", code=131026, message="Message undeliverable")
    assert code == 200
    message = (await hub.read(later["id"]))["messages"][0]
    assert message["status"] == "failed"
    assert message["error"] == "WhatsApp error 131026: Message undeliverable"


async def test_rate_limits_are_retried_until_sent_or_given_up(hub: Hub) -> None:
    passing = await hub.link(phone="+255712340429")  # refused twice, then accepted
    lasting = await hub.link(phone="+255712340430")  # refused every time
    await drain(hub.worker, timeout=60)
    sent = (await hub.read(passing["id"]))["messages"][0]
    assert (sent["status"], sent["attempts"], sent["error"]) == ("sent", 3, None)
    failed = (await hub.read(lasting["id"]))["messages"][0]
    assert failed["status"] == "failed"
    assert failed["attempts"] == 8  # every attempt the job had
    assert failed["error"].startswith("WhatsApp error 130429:")
    assert [m["to"] for m in hub.fake.messages] == ["255712340429"]


async def test_a_customer_who_wrote_today_gets_text(hub: Hub) -> None:
    wrote = await hub.control.post(
        "/_control/incoming",
        json={"phone_number_id": PHONE_NUMBER_ID, "from": "255712345678", "text": "Hi"},
    )
    assert wrote.json()["webhook_status"] == 200
    link = await hub.link()
    await drain(hub.worker)
    [sent] = hub.fake.messages
    assert sent["type"] == "text"
    assert link["url"] in sent["text"]["body"]
    assert "₹1,250.00" in sent["text"]["body"]


async def test_the_verification_handshake(hub: Hub) -> None:
    url = f"/hooks/whatsapp/{hub.account_id}"
    ok = await hub.api.get(
        url,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"},
    )
    assert (ok.status_code, ok.text) == (200, "1158")
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    ):
        assert (await hub.api.get(url, params=params)).status_code == 403
    unknown = await hub.api.get(
        "/hooks/whatsapp/pa_nothere",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    )
    assert unknown.status_code == 403
