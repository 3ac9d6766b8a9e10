"""Payment links over HTTP: created with their order, read, cancelled, paid, on both databases."""

from datetime import timedelta
from typing import Any

import httpx

from hazina.bootstrap import Container
from hazina.domain.clock import iso_z, utc_now
from hazina.worker import Worker
from tests.conftest import http_client
from tests.factories import other_merchant_headers
from tests.waiting import drain

LINK = {
    "amount": 125000,
    "currency": "INR",
    "description": "Invoice 42",
    "reference": "inv-42",
    "customer": {"name": "Asha", "phone": "+255 712 345 678", "email": "asha@example.com"},
}


async def create(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    return await client.post("/api/v1/payment-links", json=LINK | overrides)


async def test_a_link_is_an_active_page_for_a_new_order(client: httpx.AsyncClient) -> None:
    response = await create(client)
    assert response.status_code == 201, response.text
    link = response.json()
    assert link["id"].startswith("plink_")
    assert link["status"] == "active"
    assert len(link["code"]) == 16
    assert link["url"].endswith(f"/l/{link['code']}")
    # The customer's contacts are stored in E.164 and shown masked.
    assert link["customer"] == {"name": "Asha", "phone": "•••• 5678", "email": "a•••@example.com"}
    assert link["messages"] == []
    order = await client.get(f"/api/v1/orders/{link['order_id']}")
    assert order.json()["amount"] == 125000
    assert order.json()["receipt"] == "inv-42"
    assert (await client.get(f"/api/v1/payment-links/{link['id']}")).json() == link
    listed = (await client.get("/api/v1/payment-links")).json()
    assert listed["total"] == 1
    assert listed["data"] == [link]


async def test_a_phone_that_does_not_parse_is_refused_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    response = await create(client, customer={"phone": "12"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert response.json()["error"]["description"].startswith("customer.phone:")
    assert (await client.get("/api/v1/payment-links")).json()["total"] == 0


async def test_bad_requests_change_nothing(client: httpx.AsyncClient) -> None:
    cases: list[dict[str, Any]] = [
        {"amount": 10},
        {"amount": 1.5},
        {"currency": "ZZZ"},
        {"methods": ["bitcoin"]},
        {"expires_at": iso_z(utc_now() - timedelta(minutes=1))},
        {"expires_at": iso_z(utc_now() + timedelta(days=400))},
        {"send": ["sms"]},
        {"send": ["whatsapp"], "customer": {"email": "a@example.com"}},
        # No WhatsApp account connected, no SMTP server configured.
        {"send": ["whatsapp"]},
        {"send": ["email"]},
    ]
    for case in cases:
        response = await create(client, **case)
        assert response.status_code == 400, (case, response.text)
        assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert (await client.get("/api/v1/payment-links")).json()["total"] == 0
    orders = await client.get("/api/v1/payment-links")
    assert orders.json()["data"] == []


async def test_idempotency_key_creates_one_link(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "link-1"}
    first = await client.post("/api/v1/payment-links", json=LINK, headers=headers)
    again = await client.post("/api/v1/payment-links", json=LINK, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/api/v1/payment-links", json=LINK | {"amount": 999}, headers=headers)
    assert other.status_code == 409
    assert (await client.get("/api/v1/payment-links")).json()["total"] == 1


async def test_cancel_is_idempotent_and_final(client: httpx.AsyncClient) -> None:
    link = (await create(client)).json()
    cancelled = await client.post(f"/api/v1/payment-links/{link['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/payment-links/{link['id']}/cancel")
    assert again.json() == cancelled.json()
    resend = await client.post(f"/api/v1/payment-links/{link['id']}/send", json={})
    assert resend.status_code == 409


async def test_a_paid_order_pays_its_link(client: httpx.AsyncClient, worker: Worker) -> None:
    link = (await create(client, methods=["upi"])).json()
    payment = await client.post(
        "/api/v1/payments/public",
        json={"order_id": link["order_id"], "method": "upi", "vpa": "asha@upi"},
    )
    assert payment.status_code == 201, payment.text
    await drain(worker)
    paid = (await client.get(f"/api/v1/payment-links/{link['id']}")).json()
    assert paid["status"] == "paid"
    cancel = await client.post(f"/api/v1/payment-links/{link['id']}/cancel")
    assert cancel.status_code == 409
    assert cancel.json()["error"]["code"] == "CONFLICT_ERROR"


async def test_an_unknown_link_is_not_found(client: httpx.AsyncClient) -> None:
    for path in ("", "/cancel", "/send"):
        method = client.get if not path else client.post
        response = await method(f"/api/v1/payment-links/plink_nothere{path}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"


async def test_another_merchant_never_reaches_a_link(
    client: httpx.AsyncClient, container: Container
) -> None:
    link = (await create(client)).json()
    async with http_client(container, await other_merchant_headers(container)) as stranger:
        assert (await stranger.get("/api/v1/payment-links")).json()["total"] == 0
        for method, path in [
            ("GET", ""),
            ("POST", "/cancel"),
            ("POST", "/send"),
        ]:
            response = await stranger.request(method, f"/api/v1/payment-links/{link['id']}{path}")
            assert response.status_code == 404, (method, path)
    assert (await client.get(f"/api/v1/payment-links/{link['id']}")).json()["status"] == "active"
