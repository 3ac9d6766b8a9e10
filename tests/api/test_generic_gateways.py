"""Generic gateways through the API on SQLite and PostgreSQL: registration (bad input is a 400
that changes nothing), the signing secret shown once and sealed to its own account, rotation's
overlap ending, the methods a checkout offers, and the hook's answers."""

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hazina.bootstrap import Container
from hazina.db.models import AuditLog, ProviderAccount
from hazina.domain.clock import utc_now
from hazina.domain.gateways import sign
from hazina.services.provider_accounts import CredentialsUnreadable, open_account
from tests.conftest import AUTH, http_client
from tests.factories import other_merchant_headers

TEMPLATE = (
    "https://pay.example/checkout?ref={payment_id}&amount={amount}&c={currency}&r={return_url}"
)


@pytest.fixture
async def client(container: Container) -> Any:
    async with http_client(container, AUTH) as authenticated:
        yield authenticated


async def register(client: httpx.AsyncClient, name: str = "shop") -> dict[str, Any]:
    response = await client.put(
        f"/api/v1/provider-accounts/generic/{name}", json={"redirect_url_template": TEMPLATE}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def pay(client: httpx.AsyncClient, method: str = "generic:shop") -> httpx.Response:
    order = await client.post("/api/v1/orders", json={"amount": 12345, "currency": "USD"})
    assert order.status_code == 201, order.text
    return await client.post(
        "/api/v1/payments", json={"order_id": order.json()["id"], "method": method}
    )


def notification(payment_id: str, secret: str, *, amount: str = "123.45") -> dict[str, Any]:
    body = json.dumps(
        {
            "payment_id": "gw_77",
            "transaction_id": payment_id,
            "status": "completed",
            "amount": amount,
            "currency": "USD",
            "metadata": {"note": "seed 004 sends decimals as numbers or strings"},
        }
    ).encode()
    return {
        "content": body,
        "headers": {"X-Hazina-Signature": sign(body, secret, int(time.time()))},
    }


@pytest.mark.parametrize(
    ("name", "template", "complaint"),
    [
        ("Shop", TEMPLATE, "lower-case"),
        ("a-name-far-too-long", TEMPLATE, "1 to 12"),
        ("shop", "https://pay.example/checkout", "{payment_id}"),
        ("shop", "ftp://pay.example/{payment_id}", "http"),
        ("shop", "https://pay.example/{payment_id}/{secret}", "Unknown placeholders"),
    ],
)
async def test_bad_registrations_are_refused_and_change_nothing(
    client: httpx.AsyncClient, name: str, template: str, complaint: str
) -> None:
    response = await client.put(
        f"/api/v1/provider-accounts/generic/{name}", json={"redirect_url_template": template}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert complaint in response.json()["error"]["description"]
    assert (await client.get("/api/v1/provider-accounts")).json()["data"] == []
    # Its secret is Hazina's to generate: the credentials route refuses the kind.
    typed = await client.put(
        "/api/v1/provider-accounts/generic", json={"credentials": {"signing_secret": "gwsec_x"}}
    )
    assert typed.status_code == 400


async def test_the_secret_is_shown_once_and_sealed_to_its_own_gateway(
    container: Container, client: httpx.AsyncClient
) -> None:
    shop, kiosk = await register(client), await register(client, "kiosk")
    secret = shop["signing_secret"]
    assert secret.startswith("gwsec_")
    assert shop["webhook_url"].endswith(f"/hooks/generic/{shop['id']}")
    again = await client.put(
        "/api/v1/provider-accounts/generic/shop",
        json={"redirect_url_template": TEMPLATE.replace("pay.example", "pay2.example")},
    )
    assert again.status_code == 200
    assert "signing_secret" not in again.json()
    listed = (await client.get("/api/v1/provider-accounts")).json()["data"]
    assert [account["method"] for account in listed] == ["generic:kiosk", "generic:shop"]
    assert secret not in json.dumps(listed)
    assert listed[1]["settings"]["redirect_url_template"].startswith("https://pay2.example")

    async with container.db.transaction() as session:
        rows = {
            row.name: row
            for row in await session.scalars(
                select(ProviderAccount).where(ProviderAccount.provider == "generic")
            )
        }
        assert secret not in json.dumps(rows["shop"].secrets)
        # A token copied into the other gateway's row does not open there.
        rows["kiosk"].secrets = dict(rows["shop"].secrets)
        with pytest.raises(CredentialsUnreadable):
            open_account(container.providers.vault, rows["kiosk"])
        await session.rollback()
    assert kiosk["id"] != shop["id"]


async def test_a_payment_redirects_to_the_filled_template(client: httpx.AsyncClient) -> None:
    await register(client)
    payment = await pay(client)
    assert payment.status_code == 201, payment.text
    url = payment.json()["next_action"]["url"]
    assert url.startswith(f"https://pay.example/checkout?ref={payment.json()['id']}&amount=123.45")
    assert "&c=USD&r=http" in url
    assert "%2Fsuccess%3Fpayment_id%3Dpay_" in url  # the return URL, percent-encoded

    nameless = await pay(client, "generic")
    unknown = await pay(client, "generic:other")
    assert (nameless.status_code, unknown.status_code) == (400, 400)
    assert "generic:{name}" in nameless.json()["error"]["description"]


async def test_rotation_keeps_the_old_secret_only_for_its_overlap(
    container: Container, client: httpx.AsyncClient
) -> None:
    shop = await register(client)
    hook = "/hooks/generic/" + shop["id"]
    rotated = await client.post("/api/v1/provider-accounts/generic/shop/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["signing_secret"]

    first = (await pay(client)).json()
    assert (await client.post(hook, **notification(first["id"], shop["signing_secret"]))).is_success
    async with container.db.transaction() as session:
        await session.execute(
            update(ProviderAccount)
            .where(ProviderAccount.id == shop["id"])
            .values(previous_secret_expires_at=utc_now() - timedelta(seconds=1))
        )
    second = (await pay(client)).json()
    late = await client.post(hook, **notification(second["id"], shop["signing_secret"]))
    assert late.status_code == 400
    assert (await client.get(f"/api/v1/payments/{second['id']}")).json()["status"] == "pending"
    fresh = await client.post(hook, **notification(second["id"], new_secret))
    assert fresh.status_code == 200, fresh.text
    assert fresh.json() == {
        "status": "success",
        "message": "Payment confirmed",
        "payment_id": "gw_77",
        "transaction_id": second["id"],
    }
    async with container.db.read() as session:
        actions = list(await session.scalars(select(AuditLog.action)))
    assert "provider_account.secret_rotated" in actions


async def test_another_merchant_cannot_touch_the_gateway(
    container: Container, client: httpx.AsyncClient
) -> None:
    await register(client)
    other = await other_merchant_headers(container)
    rotate = await client.post(
        "/api/v1/provider-accounts/generic/shop/rotate-secret", headers=other
    )
    delete = await client.delete("/api/v1/provider-accounts/generic/shop", headers=other)
    assert (rotate.status_code, delete.status_code) == (404, 404)
    # Pending payments keep it; then it goes.
    await pay(client)
    assert (await client.delete("/api/v1/provider-accounts/generic/shop")).status_code == 400
