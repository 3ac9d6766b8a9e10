"""A merchant's own payment website as a generic gateway, end to end with real processes on
SQLite and PostgreSQL: `hazina serve` (embedded worker), `hazina fake generic` (a payment page
that posts the signed webhook), and the merchant's webhook receiver.

Shown here: the redirect to the filled template, the page's signed notification confirming
the payment (seed 004's answer) and `payment.success` delivered; an amount other than the
payment's → review; a signature older than the 5-minute tolerance, one by another key and an
unknown payment refused with nothing changed; a rotated secret's predecessor still verifying;
and the docs page's Python, Node and PHP snippets, run as written, accepted.
"""

import asyncio
import html
import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hazina.domain.gateways import sign
from hazina.testing.sink import WebhookSink
from tests.e2e.servers import HazinaProcess, Hub, api, open_hub
from tests.e2e.test_providers import configure_receiver, start_fake, wait_for_delivery

pytestmark = [pytest.mark.slow]

TEMPLATE = "/pay?ref={payment_id}&amount={amount}&currency={currency}&return={return_url}"
TEST_EMAIL = "test@example.com"
TEST_PASSWORD = "test_password_xyz789"  # Settings' default TEST_MERCHANT_PASSWORD
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(params=["sqlite", "postgres"])
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    async with open_hub(request.param, tmp_path) as opened:
        await opened.prepare()
        yield opened


class Gateway:
    """The fake payment website and the gateway account registered for it."""

    def __init__(self, fake_url: str, server: HazinaProcess, account: dict[str, Any]) -> None:
        self.fake_url = fake_url
        self.secret: str = account["signing_secret"]
        # The hook's path on the server the test started (its public URL may differ).
        self.hook = server.url + urlsplit(account["webhook_url"]).path

    async def pay(self, next_action: dict[str, Any], **changes: str) -> httpx.Response:
        """The customer on the page: its form as served, with `changes` (another amount)."""
        async with httpx.AsyncClient(timeout=30) as browser:
            page = await browser.get(next_action["url"])
            assert page.status_code == 200, page.text
            form = {
                name: html.unescape(value)
                for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', page.text)
            }
            return await browser.post(
                f"{self.fake_url}/pay", data={**form, "status": "completed", **changes}
            )

    async def notifications(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.fake_url) as control:
            data: list[dict[str, Any]] = (await control.get("/_control/notifications")).json()[
                "data"
            ]
        return data


async def register(hub: Hub, client: httpx.AsyncClient, server: HazinaProcess) -> Gateway:
    fake_url = await start_fake(hub, "generic")
    created = await client.put(
        "/api/v1/provider-accounts/generic/shop",
        json={"redirect_url_template": fake_url + TEMPLATE},
    )
    assert created.status_code == 201, created.text
    gateway = Gateway(fake_url, server, created.json())
    async with httpx.AsyncClient(base_url=fake_url) as control:
        configured = await control.post(
            "/_control/gateway",
            json={"webhook_url": gateway.hook, "signing_secret": gateway.secret},
        )
    assert configured.status_code == 200, configured.text
    return gateway


async def start_payment(client: httpx.AsyncClient, amount: int = 50000) -> dict[str, Any]:
    order = await client.post("/api/v1/orders", json={"amount": amount, "currency": "INR"})
    assert order.status_code == 201, order.text
    created = await client.post(
        "/api/v1/payments", json={"order_id": order.json()["id"], "method": "generic:shop"}
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    return payment


async def status_of(client: httpx.AsyncClient, payment_id: str) -> str:
    status: str = (await client.get(f"/api/v1/payments/{payment_id}")).json()["status"]
    return status


def signed_body(transaction_id: str, amount: str = "500.00", gateway_id: str = "gw_e2e") -> bytes:
    return json.dumps(
        {
            "payment_id": gateway_id,
            "transaction_id": transaction_id,
            "status": "completed",
            "amount": float(amount),
            "currency": "INR",
            "metadata": {},
        }
    ).encode()


async def post_hook(gateway: Gateway, body: bytes, signature: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as sender:
        return await sender.post(
            gateway.hook,
            content=body,
            headers={"Content-Type": "application/json", "X-Hazina-Signature": signature},
        )


async def test_the_payment_page_confirms_through_its_signed_webhook(
    hub: Hub, sink: WebhookSink
) -> None:
    server = await hub.serve(worker=True)
    async with api(server) as client:
        await configure_receiver(client, sink)
        gateway = await register(hub, client, server)
        # Shown once: the list masks it.
        listed = (await client.get("/api/v1/provider-accounts")).json()["data"]
        shop = next(account for account in listed if account.get("name") == "shop")
        assert gateway.secret not in json.dumps(listed)
        assert shop["method"] == "generic:shop"

        payment = await start_payment(client)
        action = payment["next_action"]
        assert action["type"] == "redirect"
        query = parse_qs(urlsplit(action["url"]).query)
        assert (query["ref"], query["amount"], query["currency"]) == (
            [payment["id"]],
            ["500.00"],
            ["INR"],
        )
        assert query["return"] == [f"{server.url}/success?payment_id={payment['id']}"]

        paid = await gateway.pay(action)
        # Back to the checkout's outcome page once the merchant's answer came.
        assert paid.status_code == 303
        assert paid.headers["location"] == query["return"][0]
        (notification,) = await gateway.notifications()
        assert notification["status"] == 200
        assert notification["answer"] == {
            "status": "success",
            "message": "Payment confirmed",
            "payment_id": json.loads(notification["body"])["payment_id"],
            "transaction_id": payment["id"],
        }
        assert await status_of(client, payment["id"]) == "success"
        await wait_for_delivery(hub, sink, "payment.success", payment["id"])

        # The same notification again (a gateway's retry): acknowledged, applied once.
        again = await post_hook(gateway, notification["body"].encode(), notification["signature"])
        assert again.status_code == 200, again.text
        successes = await client.get("/api/v1/events", params={"type": "payment.success"})
        assert [e["resource_id"] for e in successes.json()["data"]].count(payment["id"]) == 1


async def test_a_different_amount_goes_to_review_and_bad_notifications_change_nothing(
    hub: Hub,
) -> None:
    server = await hub.serve(worker=True)
    async with api(server) as client:
        gateway = await register(hub, client, server)

        short = await start_payment(client)
        answered = await gateway.pay(short["next_action"], amount="499.00")
        assert answered.status_code == 303
        assert await status_of(client, short["id"]) == "review"
        review = (await client.get(f"/api/v1/payments/{short['id']}")).json()
        assert review.get("review_reason") == "amount_mismatch"
        order = (await client.get(f"/api/v1/orders/{short['order_id']}")).json()
        assert order["status"] != "paid"

        pending = await start_payment(client)
        body = signed_body(pending["id"])
        now = int(time.time())
        refused = {
            # A replay: signed correctly, 301 seconds ago.
            "stale": (body, sign(body, gateway.secret, now - 301)),
            "other key": (body, sign(body, "gwsec_not-the-gateways-secret", now)),
            "altered": (body.replace(b"500.0", b"5.0"), sign(body, gateway.secret, now)),
            "no header": (body, ""),
        }
        for what, (content, signature) in refused.items():
            response = await post_hook(gateway, content, signature)
            assert response.status_code == 400, (what, response.text)
            assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR", what
        unknown = signed_body("pay_0000000000000000")
        missing = await post_hook(gateway, unknown, sign(unknown, gateway.secret, now))
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"]["code"] == "NOT_FOUND_ERROR"
        assert await status_of(client, pending["id"]) == "pending"

        # A rotated secret: the new one is shown once, and the old one still verifies.
        rotated = await client.post("/api/v1/provider-accounts/generic/shop/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["signing_secret"]
        assert new_secret != gateway.secret
        by_old = await post_hook(gateway, body, sign(body, gateway.secret, int(time.time())))
        assert by_old.status_code == 200, by_old.text
        assert await status_of(client, pending["id"]) == "success"
        other = await start_payment(client)
        by_new_body = signed_body(other["id"], gateway_id="gw_rotated")
        by_new = await post_hook(
            gateway, by_new_body, sign(by_new_body, new_secret, int(time.time()))
        )
        assert by_new.status_code == 200, by_new.text


async def logged_in_docs(server: HazinaProcess) -> str:
    assert server.url is not None
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as browser:
        form = await browser.get("/login")
        token = _CSRF.search(form.text)
        assert token, form.text
        await browser.post(
            "/login",
            data={"email": TEST_EMAIL, "password": TEST_PASSWORD, "csrf_token": token.group(1)},
        )
        docs = await browser.get("/dashboard/docs")
    assert docs.status_code == 200, docs.text
    return docs.text


def snippet(page: str, name: str) -> str:
    found = re.search(
        rf'data-test-id="code-snippet-gateway-{name}"><code>(.*?)</code></pre>', page, re.S
    )
    assert found, name
    return html.unescape(found.group(1))


async def run_snippet(script: str, env: dict[str, str]) -> str:
    # The placeholders' exports are the lines a merchant fills in; here the environment does.
    lines = [line for line in script.splitlines() if not line.startswith("export ")]
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        "\n".join(lines),
        env=os.environ | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


@pytest.mark.parametrize("language", ["python", "node", "php"])
async def test_the_docs_snippets_sign_notifications_hazina_accepts(hub: Hub, language: str) -> None:
    server = await hub.serve(worker=True)
    async with api(server) as client:
        gateway = await register(hub, client, server)
        script = snippet(await logged_in_docs(server), language)
        payment = await start_payment(client)

        output = await run_snippet(
            script,
            {
                "GATEWAY_SECRET": gateway.secret,
                "GATEWAY_WEBHOOK_URL": gateway.hook,
                "PAYMENT_ID": payment["id"],
                "AMOUNT": "500.00",
                "CURRENCY": "INR",
            },
        )

        answer = json.loads(output)
        assert answer["status"] == "success", output
        assert answer["transaction_id"] == payment["id"]
        assert await status_of(client, payment["id"]) == "success"
