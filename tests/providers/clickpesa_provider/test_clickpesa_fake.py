"""The ClickPesa fake speaks providers.md section 3: its answers, errors and webhooks."""

import json

import httpx
import pytest
from clickpesa import WebhookValidator

from hazina.domain.checksums import compute_checksum
from hazina.testing.sink import WebhookSink
from tests.providers.clickpesa_provider.conftest import (
    API_KEY,
    CHECKSUM_KEY,
    CLIENT_ID,
    Clock,
    register,
)

BAD_REFERENCE = (
    "Invalid Order Reference, should only contain alphanumeric characters and cannot be blank"
)
USSD = "/payments/initiate-ussd-push-request"
LINK = "/checkout-link/generate-checkout-url"
PUSH = {
    "amount": "1000",
    "currency": "TZS",
    "orderReference": "ORD123",
    "phoneNumber": "255712345678",
}


async def token(control: httpx.AsyncClient) -> dict[str, str]:
    response = await control.post(
        "/generate-token", headers={"client-id": CLIENT_ID, "api-key": API_KEY}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["token"].startswith("Bearer ")
    return {"Authorization": body["token"]}


@pytest.mark.parametrize(
    ("client_id", "api_key", "message"),
    [
        ("nobody", API_KEY, "Invalid client details"),
        (CLIENT_ID, "wrong", "Invalid or Expired API-Key"),
    ],
)
async def test_bad_credentials_get_403(control, client_id, api_key, message):
    await register(control)
    response = await control.post(
        "/generate-token", headers={"client-id": client_id, "api-key": api_key}
    )
    assert (response.status_code, response.json()) == (403, {"message": message})


async def test_tokens_expire_after_their_lifetime(control, clock: Clock):
    await register(control)
    auth = await token(control)
    assert (await control.get("/payments/ORD123", headers=auth)).status_code == 404
    clock.now += 3600
    response = await control.get("/payments/ORD123", headers=auth)
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    assert (
        await control.get("/payments/ORD123", headers={"Authorization": "Bearer forged"})
    ).status_code == 401


async def test_expire_tokens_forces_401(control):
    await register(control)
    auth = await token(control)
    await control.post("/_control/expire-tokens")
    assert (await control.post(USSD, headers=auth, json=PUSH)).status_code == 401


async def test_a_ussd_push_answers_as_documented(control):
    await register(control)
    auth = await token(control)
    response = await control.post(USSD, headers=auth, json=PUSH)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "id", "status", "channel", "orderReference",
        "collectedAmount", "collectedCurrency", "createdAt", "clientId",
    }  # fmt: skip
    assert (body["status"], body["orderReference"], body["collectedAmount"]) == (
        "PROCESSING",
        "ORD123",
        "1000",
    )
    assert body["clientId"] == CLIENT_ID
    [record] = (await control.get("/payments/ORD123", headers=auth)).json()
    assert (record["status"], record["id"]) == ("PROCESSING", body["id"])


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"phoneNumber": "0712345678"}, 400, "Invalid / unsupported phone number"),
        ({"orderReference": "ORD-123"}, 400, BAD_REFERENCE),
        ({"orderReference": ""}, 400, BAD_REFERENCE),
    ],
)  # fmt: skip
async def test_ussd_push_validation_messages(control, change, status, message):
    await register(control)
    response = await control.post(USSD, headers=await token(control), json={**PUSH, **change})
    assert (response.status_code, response.json()) == (status, {"message": message})


async def test_a_reused_reference_is_409(control):
    await register(control)
    auth = await token(control)
    await control.post(USSD, headers=auth, json=PUSH)
    for path, body in ((USSD, PUSH), (LINK, {"totalPrice": "1000", "orderReference": "ORD123"})):
        response = await control.post(path, headers=auth, json=body)
        assert (response.status_code, response.json()) == (
            409, {"message": "Order reference ORD123 already used: Create a different reference"},
        )  # fmt: skip


async def test_checksums_are_required_when_the_client_enabled_them(control):
    await register(control, checksum_key=CHECKSUM_KEY)
    auth = await token(control)
    unsigned = await control.post(USSD, headers=auth, json=PUSH)
    assert (unsigned.status_code, unsigned.json()) == (400, {"message": "Invalid checksum"})
    wrong = await control.post(USSD, headers=auth, json={**PUSH, "checksum": "0" * 64})
    assert wrong.status_code == 400
    # The providers.md vector is this very payload under the key `secret-key`.
    await register(control, checksum_key="secret-key")
    auth = await token(control)
    digest = "99fd7367f82d4af014dbd4371f5cb4957c17b737540aaab238ed1fe44caf1b6c"
    assert (
        await control.post(USSD, headers=auth, json={**PUSH, "checksum": digest})
    ).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"totalPrice": "1000", "orderCurrency": "TZS"}, "Order reference is required"),
        ({"orderReference": "ORD1", "orderCurrency": "TZS"}, "Total Price is required"),
        (
            {"orderReference": "ORD1", "orderItems": [{"name": "Tea", "quantity": 1}]},
            "All items must have a price",
        ),
    ],
)
async def test_checkout_link_validation_messages(control, body, message):
    await register(control)
    response = await control.post(LINK, headers=await token(control), json=body)
    assert (response.status_code, response.json()) == (400, {"message": message})


async def test_a_checkout_link_points_at_the_fakes_checkout_page(control):
    await register(control)
    body = {
        "orderReference": "ORD9",
        "orderCurrency": "TZS",
        "orderItems": [{"name": "Tea", "price": "500", "quantity": 2}],
    }
    response = await control.post(LINK, headers=await token(control), json=body)
    assert response.status_code == 200
    link = response.json()["checkoutLink"]
    assert link == "http://clickpesa.test/third-parties/checkout/ORD9"
    page = await control.get(link)
    assert "TZS 1000" in page.text


async def test_an_unknown_payment_is_404_with_its_reference(control):
    await register(control)
    response = await control.get("/payments/NOPE1", headers=await token(control))
    assert (response.status_code, response.json()) == (
        404,
        {"message": "Invalid or missing payment: NOPE1"},
    )
    missing = await control.post("/_control/payments/NOPE1/complete", json={})
    assert missing.status_code == 404


async def test_completing_delivers_the_signed_webhook_to_the_client(control):
    async with WebhookSink() as sink:
        await register(control, checksum_key=CHECKSUM_KEY, webhook_url=sink.url("/hooks/clickpesa"))
        auth = await token(control)
        signed = {**PUSH, "checksum": compute_checksum(CHECKSUM_KEY, PUSH)}
        assert (await control.post(USSD, headers=auth, json=signed)).status_code == 200
        response = await control.post(
            "/_control/payments/ORD123/complete", json={"status": "SUCCESS"}
        )
        assert response.headers["x-fake-delivery-status"] == "200"
        await sink.wait_for(1, "/hooks/clickpesa")
    [received] = sink.at("/hooks/clickpesa")
    assert received.body == response.content
    payload = json.loads(received.body)
    assert payload["event"] == "PAYMENT RECEIVED"
    assert payload["data"]["collectedAmount"] == "1000"
    # The independent SDK agrees with the fake's checksum over the body without it.
    checksum = payload.pop("checksum")
    assert WebhookValidator.verify(payload, checksum, CHECKSUM_KEY)
    [record] = (await control.get("/payments/ORD123", headers=auth)).json()
    assert record["status"] == "SUCCESS"


async def test_deliver_false_only_returns_the_body(control):
    async with WebhookSink() as sink:
        await register(control, webhook_url=sink.url("/hooks/clickpesa"))
        await control.post(USSD, headers=await token(control), json=PUSH)
        response = await control.post(
            "/_control/payments/ORD123/complete",
            json={"status": "FAILED", "deliver": False, "shape": "older"},
        )
    assert response.headers["x-fake-delivery-status"] == "not-sent"
    assert sink.received == []
    payload = json.loads(response.content)
    assert payload["event"] == "PAYMENT FAILED"
    assert payload["data"]["amount"] == "1000.00"
    assert "checksum" not in payload
