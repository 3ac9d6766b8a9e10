"""What the public routes must not give away: a customer's phone or email, an inactive
merchant's orders."""

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update

from hazina.bootstrap import Container
from hazina.db.models import Merchant
from hazina.domain.providers import PaymentStart, ProviderAccess, StartedPayment
from hazina.services.registry import ProviderRegistry
from tests.acme import DEFAULT_ACCESS, AcmeProvider, reference_of
from tests.conftest import AUTH, http_client
from tests.envelopes import assert_error

PHONE = "255712345678"
EMAIL = "buyer@example.com"


class PushingAcme(AcmeProvider):
    """Answers like ClickPesa's USSD push, echoing the customer's phone and email back."""

    async def start_payment(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        action = {
            "type": "ussd_push",
            "phone": start.customer_phone,
            "email": start.customer_email,
            "message": "Confirm the payment on your phone by entering your PIN.",
        }
        return StartedPayment(reference_of(start.payment_id), action)


@pytest.fixture
def hub(container: Container) -> Container:
    registry = ProviderRegistry(adapters={"acme": PushingAcme()}, defaults={"acme": DEFAULT_ACCESS})
    providers = dataclasses.replace(container.providers, registry=registry)
    return dataclasses.replace(container, providers=providers)


@pytest.fixture
async def merchant_api(hub: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub, AUTH) as client:
        yield client


@pytest.fixture
async def public_api(hub: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub) as client:
        yield client


async def new_order(merchant_api: httpx.AsyncClient) -> str:
    order = await merchant_api.post("/api/v1/orders", json={"amount": 5000, "currency": "USD"})
    assert order.status_code == 201, order.text
    order_id: str = order.json()["id"]
    return order_id


def assert_no_contact(response: httpx.Response) -> None:
    assert PHONE[-8:] not in response.text
    assert EMAIL not in response.text


async def test_public_payment_responses_carry_no_phone_or_email(
    merchant_api: httpx.AsyncClient, public_api: httpx.AsyncClient
) -> None:
    body = {"order_id": await new_order(merchant_api), "method": "acme", "phone": PHONE}
    created = await public_api.post("/api/v1/payments/public", json={**body, "email": EMAIL})
    assert created.status_code == 201, created.text
    assert_no_contact(created)
    payment_id = created.json()["id"]
    for path in (f"/api/v1/payments/{payment_id}/public", f"/api/v1/payments/public/{payment_id}"):
        polled = await public_api.get(path)
        assert polled.status_code == 200, polled.text
        assert_no_contact(polled)
        # Enough for the checkout's USSD instructions: the customer recognises the number.
        assert polled.json()["next_action"] == {
            "type": "ussd_push",
            "phone": "•••• 5678",
            "message": "Confirm the payment on your phone by entering your PIN.",
        }


async def test_an_inactive_merchants_orders_cannot_be_paid_publicly(
    hub: Container, merchant_api: httpx.AsyncClient, public_api: httpx.AsyncClient
) -> None:
    order_id = await new_order(merchant_api)
    assert (await public_api.get(f"/api/v1/orders/{order_id}/public")).status_code == 200
    async with hub.db.transaction() as session:
        await session.execute(update(Merchant).values(is_active=False))

    shown = await public_api.get(f"/api/v1/orders/{order_id}/public")
    assert_error(shown, 404, "NOT_FOUND_ERROR", "Order not found")
    for method in ({"method": "upi", "vpa": "user@paytm"}, {"method": "acme", "phone": PHONE}):
        paid = await public_api.post(
            "/api/v1/payments/public", json={"order_id": order_id, **method}
        )
        assert_error(paid, 404, "NOT_FOUND_ERROR", "Order not found")
    page = await public_api.get("/checkout", params={"order_id": order_id})
    assert page.status_code == 200
    assert 'data-test-id="method-' not in page.text  # nothing offered; its script says not found
