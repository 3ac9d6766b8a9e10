"""A merchant's own Stripe account, end to end through the API: credentials saved in the
vault, a payment started with them, the signed notification received at the account's hook
URL. Another merchant's account can never move this merchant's payment, and no secret reaches
a log line along the way. On SQLite and PostgreSQL, against the Stripe fake over HTTP."""

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hazina.bootstrap import Container
from hazina.config import Settings
from hazina.db.models import InboundEvent, ProviderAccount
from hazina.worker import Worker
from tests.conftest import AUTH, http_client, make_settings
from tests.factories import other_merchant_headers
from tests.providers.stripe_provider.conftest import SECRET_KEY, WEBHOOK_SECRET, StripeServer
from tests.waiting import wait_until

OTHER_SECRET_KEY = "sk_test_othermerchant77"
OTHER_WEBHOOK_SECRET = "whsec_othermerchant77"


@pytest.fixture
def settings(database_url: str, stripe_server: StripeServer) -> Settings:
    return make_settings(database_url, stripe_api_base=stripe_server.url)


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(container, AUTH) as authenticated:
        yield authenticated


async def connect(
    client: httpx.AsyncClient, secret_key: str, webhook_secret: str, **headers: str
) -> str:
    """Save a Stripe account; returns the path of its hook URL."""
    response = await client.put(
        "/api/v1/provider-accounts/stripe",
        json={
            "mode": "test",
            "credentials": {"secret_key": secret_key, "webhook_secret": webhook_secret},
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["webhook_url"]
    assert url.endswith(f"/hooks/stripe/{response.json()['id']}")
    return "/hooks/" + url.split("/hooks/", 1)[1]


async def pay_by_stripe(client: httpx.AsyncClient, **headers: str) -> dict[str, Any]:
    order = await client.post(
        "/api/v1/orders", json={"amount": 2500, "currency": "USD"}, headers=headers
    )
    assert order.status_code == 201, order.text
    payment = await client.post(
        "/api/v1/payments",
        json={"order_id": order.json()["id"], "method": "stripe"},
        headers=headers,
    )
    assert payment.status_code == 201, payment.text
    body: dict[str, Any] = payment.json()
    return body


def resign(body: str, secret: str) -> str:
    """What an attacker holding only their own account's webhook secret could send."""
    timestamp = int(time.time())
    signed = f"{timestamp}.{body}".encode()
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


async def test_a_merchant_account_collects_and_only_its_hook_can_settle_it(
    container: Container,
    client: httpx.AsyncClient,
    stripe_server: StripeServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = await connect(client, SECRET_KEY, WEBHOOK_SECRET)
    other = await other_merchant_headers(container)
    await stripe_server.control(
        "webhook_endpoints", api_key=OTHER_SECRET_KEY, url=None, secret=OTHER_WEBHOOK_SECRET
    )
    other_hook = await connect(client, OTHER_SECRET_KEY, OTHER_WEBHOOK_SECRET, **other)

    payment = await pay_by_stripe(client)
    assert payment["next_action"]["type"] == "redirect"
    # Its credentials verify the payment's webhooks: not removable while it is pending.
    kept = await client.delete("/api/v1/provider-accounts/stripe")
    assert kept.status_code == 400
    assert payment["id"] in kept.json()["error"]["description"]
    session = payment["provider_reference"]
    completed = await stripe_server.control(
        f"checkout/sessions/{session}/complete", payment_status="paid", deliver=False
    )
    event = next(e for e in completed["events"] if e["type"] == "checkout.session.completed")
    assert (
        json.loads(event["body"])["data"]["object"]["metadata"]["hazina_payment_id"]
        == (payment["id"])
    )

    # The other merchant's account, with a valid signature of its own, claims this payment.
    hijack = await client.post(
        other_hook,
        content=event["body"].encode(),
        headers={"Stripe-Signature": resign(event["body"], OTHER_WEBHOOK_SECRET)},
    )
    assert hijack.status_code == 500
    assert hijack.json()["status"] == "failed"
    # The deployment has no default Stripe account: /hooks/stripe does not exist.
    no_default = await client.post(
        "/hooks/stripe",
        content=event["body"].encode(),
        headers={"Stripe-Signature": event["signature"]},
    )
    assert no_default.status_code == 404
    assert (await client.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "pending"

    received = await client.post(
        hook, content=event["body"].encode(), headers={"Stripe-Signature": event["signature"]}
    )
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "processed"
    assert (await client.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "success"
    order = (await client.get(f"/api/v1/orders/{payment['order_id']}")).json()
    assert order["status"] == "paid"

    refund = await client.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 500})
    assert refund.status_code == 201
    stop = asyncio.Event()
    running = asyncio.create_task(Worker.from_container(container).run(stop))

    async def refunded() -> bool:
        body = (await client.get(f"/api/v1/refunds/{refund.json()['id']}")).json()
        return bool(body["status"] == "processed")

    try:
        await wait_until(refunded)
    finally:
        stop.set()
        await running

    logged = caplog.text
    assert caplog.records
    for secret in (SECRET_KEY, WEBHOOK_SECRET, OTHER_SECRET_KEY, OTHER_WEBHOOK_SECRET):
        assert secret not in logged
    assert event["signature"] not in logged
    assert AUTH["X-Api-Secret"] not in logged


async def test_credentials_that_no_longer_open_keep_the_body_for_a_retry(
    container: Container, client: httpx.AsyncClient
) -> None:
    hook = await connect(client, SECRET_KEY, WEBHOOK_SECRET)
    async with container.db.transaction() as session:
        account = await session.scalar(select(ProviderAccount))
        assert account is not None
        # As if sealed by a key no longer in the ring.
        account.secrets = dict.fromkeys(account.secrets, "v1.gone.AAAA.AAAA")
    body = b'{"id": "evt_kept", "type": "checkout.session.completed"}'
    response = await client.post(hook, content=body, headers={"Stripe-Signature": "t=1,v1=0"})
    assert response.status_code == 500
    async with container.db.read() as session:
        stored = await session.get_one(InboundEvent, response.json()["id"])
    assert (stored.status, stored.body) == ("failed", body)
    assert stored.error is not None
    assert "does not decrypt" in stored.error


async def _completion(stripe_server: StripeServer, payment: dict[str, Any]) -> dict[str, Any]:
    """The signed `checkout.session.completed` the fake would send for a payment, not sent."""
    completed = await stripe_server.control(
        f"checkout/sessions/{payment['provider_reference']}/complete",
        payment_status="paid",
        deliver=False,
    )
    event: dict[str, Any] = next(
        e for e in completed["events"] if e["type"] == "checkout.session.completed"
    )
    return event


async def test_another_merchant_reusing_an_event_id_cannot_pre_empt_it(
    container: Container, client: httpx.AsyncClient, stripe_server: StripeServer
) -> None:
    """Receipts are keyed per account: merchant B, who signs its own account's notifications,
    sends one about its own payment under the id of merchant A's notification still on its
    way. A's notification is then applied, not taken for a duplicate."""
    hook = await connect(client, SECRET_KEY, WEBHOOK_SECRET)
    other = await other_merchant_headers(container)
    await stripe_server.control(
        "webhook_endpoints", api_key=OTHER_SECRET_KEY, url=None, secret=OTHER_WEBHOOK_SECRET
    )
    other_hook = await connect(client, OTHER_SECRET_KEY, OTHER_WEBHOOK_SECRET, **other)
    mine = await pay_by_stripe(client)
    theirs = await pay_by_stripe(client, **other)
    pending = await _completion(stripe_server, mine)
    their_event = json.loads((await _completion(stripe_server, theirs))["body"])

    their_event["id"] = json.loads(pending["body"])["id"]
    forged = json.dumps(their_event)
    pre_empt = await client.post(
        other_hook,
        content=forged.encode(),
        headers={"Stripe-Signature": resign(forged, OTHER_WEBHOOK_SECRET)},
    )
    assert pre_empt.status_code == 200, pre_empt.text
    assert pre_empt.json()["status"] == "processed"
    received = await client.post(
        hook, content=pending["body"].encode(), headers={"Stripe-Signature": pending["signature"]}
    )
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "processed"
    assert (await client.get(f"/api/v1/payments/{mine['id']}")).json()["status"] == "success"
    # A repeat within one account is still a duplicate.
    again = await client.post(
        hook, content=pending["body"].encode(), headers={"Stripe-Signature": pending["signature"]}
    )
    assert again.json()["status"] == "duplicate"


async def test_a_notification_cannot_use_hazinas_own_event_ids(
    client: httpx.AsyncClient, stripe_server: StripeServer
) -> None:
    """Whoever holds an account's signing key chooses its event ids; one named like Hazina's
    final check would pre-empt that check, so it is refused as malformed."""
    hook = await connect(client, SECRET_KEY, WEBHOOK_SECRET)
    payment = await pay_by_stripe(client)
    event = json.loads((await _completion(stripe_server, payment))["body"])
    event["id"] = f"hazina:reconcile-final:{payment['id']}"
    forged = json.dumps(event)

    refused = await client.post(
        hook, content=forged.encode(), headers={"Stripe-Signature": resign(forged, WEBHOOK_SECRET)}
    )
    assert refused.status_code == 400
    assert refused.json()["status"] == "rejected"
    assert (await client.get(f"/api/v1/payments/{payment['id']}")).json()["status"] == "pending"
