"""Tenancy swept from the route table: a new route is covered without editing this test.

Merchant A (the seeded test merchant) owns one object of every kind a path can name. For every
API route with a path id, merchant B and A's own live twin get 404 in the contract's envelope,
and every list (every GET without a path id) shows them none of A's ids. A path parameter this
file does not know fails the test: add how to create A's object to `make_objects`.
"""

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.routing import APIRoute, iter_route_contexts

from hazina.api.app import create_app
from hazina.bootstrap import Container
from hazina.db.models import InboundEvent
from hazina.services.merchants import TEST_MERCHANT_ID, find_twin, roll_api_secret
from hazina.worker import Worker
from tests.factories import other_merchant_headers
from tests.waiting import drain

HOOK = "https://merchant.example/hooks/hazina"
# Routes outside the API key's tenancy, each for a reason: the checkout's public reads answer
# anyone holding the id (by design: they show only status), provider hooks are authenticated by
# the provider's signature, and the dashboard by its session (tests/web checks its pages).
# A payment link's page (`/l/{code}`) answers anyone holding its unguessable code, like a checkout.
NOT_KEYED = ("/hooks/", "/dashboard/", "/l/")
PUBLIC = frozenset(
    {
        "/api/v1/orders/{order_id}/public",
        "/api/v1/payments/{payment_id}/public",
        "/api/v1/payments/public/{payment_id}",
    }
)
# Path parameters that name no object of A's: a provider is a name, and each merchant's
# `provider-accounts/{provider}` is its own account (and `…/generic/{name}` its own gateway).
NOT_IDS = frozenset({"provider", "name"})
# What a write must carry to get past validation to the lookup.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/payments/{payment_id}/capture"): {"amount": 50000},
    ("POST", "/api/v1/payments/{payment_id}/review"): {"action": "refund"},
    ("POST", "/api/v1/payments/{payment_id}/refunds"): {"amount": 100},
    ("PATCH", "/api/v1/webhook-endpoints/{endpoint_id}"): {"enabled": False},
    ("PUT", "/api/v1/accounts/{account_id}/contact"): {"email": "amina@example.com"},
    ("PUT", "/api/v1/payouts/schedules/{account_id}"): {
        "interval": "daily",
        "destination": {"type": "mobile_money", "phone": "+255712345678"},
    },
}


def keyed_routes(container: Container) -> list[tuple[str, str]]:
    """(method, path) of every route taking the API key, from the app's own route table."""
    found: list[tuple[str, str]] = []
    for context in iter_route_contexts(create_app(container).routes):
        route, path = context.original_route, context.path
        if not isinstance(route, APIRoute) or path is None or path.startswith(NOT_KEYED):
            continue
        found.extend((method, path) for method in sorted(route.methods or ()) if method != "HEAD")
    return found


def parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


async def make_objects(
    client: httpx.AsyncClient, container: Container, worker: Worker
) -> dict[str, str]:
    """One object of A's per path parameter name, each in a state its routes act on."""
    order = (await client.post("/api/v1/orders", json={"amount": 50000})).json()
    body = {"order_id": order["id"], "method": "upi", "vpa": "user@paytm"}
    payment = (await client.post("/api/v1/payments", json=body)).json()
    account = {"kind": "creator", "currency": "INR"}
    creator = (await client.post("/api/v1/accounts", json=account)).json()["id"]
    splits = [{"account_id": creator, "amount": 20000}]
    earning = (await client.post("/api/v1/orders", json={"amount": 50000, "splits": splits})).json()
    paid = {"order_id": earning["id"], "method": "upi", "vpa": "user@paytm"}
    assert (await client.post("/api/v1/payments", json=paid)).status_code == 201
    await drain(worker)  # success: capturable and refundable; the creator's earnings available
    destination = {"type": "mobile_money", "phone": "+255712345678"}
    payout = await client.post(
        "/api/v1/payouts",
        json={"account_id": creator, "amount": 1000, "currency": "INR", "destination": destination},
    )
    assert payout.status_code == 201, payout.text
    refund = await client.post(f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 100})
    assert refund.status_code == 201, refund.text
    assert (await client.put("/api/v1/webhooks/config", json={"webhook_url": HOOK})).is_success
    assert (await client.post("/api/v1/webhooks/test")).is_success
    endpoint = await client.post("/api/v1/webhook-endpoints", json={"url": HOOK + "/2"})
    assert endpoint.status_code == 201, endpoint.text
    inbound_event_id = "ie_sweepAAAAAAAAAAAA"
    async with container.db.transaction() as session:  # no provider hook needed for a row
        session.add(
            InboundEvent(
                id=inbound_event_id,
                provider="stripe",
                merchant_id=TEST_MERCHANT_ID,
                status="failed",
                body=b"{}",
                events=[],
                received_at=datetime.now(UTC),
            )
        )
    link = await client.post("/api/v1/payment-links", json={"amount": 50000})
    assert link.status_code == 201, link.text
    return {
        "account_id": creator,
        "payout_id": payout.json()["id"],
        "link_id": link.json()["id"],
        "order_id": order["id"],
        "payment_id": payment["id"],
        "refund_id": refund.json()["id"],
        "event_id": (await client.get("/api/v1/events")).json()["data"][0]["id"],
        "webhook_id": (await client.get("/api/v1/webhooks")).json()["data"][0]["id"],
        "endpoint_id": endpoint.json()["id"],
        "inbound_event_id": inbound_event_id,
    }


async def live_twin_headers(container: Container) -> dict[str, str]:
    """A's other mode: the same account's live key, with a secret rolled to be known."""
    twin = await find_twin(container.db, TEST_MERCHANT_ID, livemode=True)
    secret = await roll_api_secret(container.db, twin.id, actor="test", cache=container.credentials)
    return {"X-Api-Key": twin.api_key, "X-Api-Secret": secret}


async def test_no_route_shows_a_merchants_objects_to_another_or_to_its_other_mode(
    client: httpx.AsyncClient, container: Container, worker: Worker
) -> None:
    routes = keyed_routes(container)
    unknown = {
        name
        for _, path in routes
        if path not in PUBLIC
        for name in parameters(path)
        if name not in NOT_IDS
    } - {
        "order_id",
        "payment_id",
        "refund_id",
        "event_id",
        "webhook_id",
        "endpoint_id",
        "inbound_event_id",
        "link_id",
        "account_id",
        "payout_id",
    }
    assert not unknown, f"no way to make A's object for {unknown}: add it to make_objects"
    objects = await make_objects(client, container, worker)
    strangers = {
        "merchant B": await other_merchant_headers(container),
        "A's live twin": await live_twin_headers(container),
    }

    leaks = []
    swept = 0
    for method, path in routes:
        names = parameters(path)
        if path in PUBLIC or not names or set(names) & NOT_IDS:
            continue
        url = path.format(**{name: objects[name] for name in names})
        for who, headers in strangers.items():
            response = await client.request(
                method, url, json=BODIES.get((method, path)), headers=headers
            )
            swept += 1
            if response.status_code != 404 or response.json()["error"]["code"] != (
                "NOT_FOUND_ERROR"
            ):
                leaks.append(f"{who}: {method} {path} -> {response.status_code} {response.text}")
    for method, path in routes:
        if method != "GET" or parameters(path):
            continue
        for who, headers in strangers.items():
            response = await client.get(path, headers=headers)
            shown = [name for name, object_id in objects.items() if object_id in response.text]
            if shown:
                leaks.append(f"{who}: GET {path} shows A's {shown}")

    assert leaks == []
    assert swept >= 2 * 15  # the table really was walked
    # Nothing the strangers sent changed A's objects.
    for name in ("order_id", "payment_id", "refund_id", "endpoint_id"):
        path = next(p for m, p in routes if m == "GET" and parameters(p) == [name])
        assert (await client.get(path.format(**{name: objects[name]}))).status_code == 200
    payment = (await client.get(f"/api/v1/payments/{objects['payment_id']}")).json()
    assert (payment["status"], payment["captured"], payment["amount_refunded"]) == (
        "success",
        False,
        100,
    )
