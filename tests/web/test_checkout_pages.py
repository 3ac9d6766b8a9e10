"""The checkout's pages, the SDK file and the demo page over HTTP."""

import json

import httpx

from hazina.bootstrap import start
from hazina.worker import Worker
from tests.conftest import http_client, make_settings
from tests.databases import truncate_all
from tests.factories import successful_payment


async def test_the_checkout_page_names_its_order_and_can_be_framed(
    anonymous: httpx.AsyncClient,
) -> None:
    page = await anonymous.get("/checkout", params={"order_id": "order_abc", "embedded": "true"})
    assert page.status_code == 200
    assert 'data-order-id="order_abc"' in page.text
    assert 'data-embedded="true"' in page.text
    assert "frame-ancestors *" in page.headers["content-security-policy"]
    assert "x-frame-options" not in page.headers
    assert "set-cookie" not in page.headers  # merchants' pages frame it: no cookie of ours


async def test_the_checkout_escapes_the_order_id(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/checkout", params={"order_id": '"><script>x</script>'})
    assert "<script>x</script>" not in page.text
    assert "&#34;&gt;&lt;script&gt;x&lt;/script&gt;" in page.text


async def test_a_checkout_without_an_order_is_a_bad_request(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/checkout")
    assert page.status_code == 400
    assert "must name an order" in page.text


async def test_the_success_page_shows_the_payment(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)
    page = await anonymous.get("/success", params={"payment_id": payment["id"]})
    assert page.status_code == 200
    assert payment["id"] in page.text
    assert "₹500.00 · success" in page.text
    unknown = await anonymous.get("/failure", params={"payment_id": "pay_unknown"})
    assert unknown.status_code == 200
    assert "Payment failed" in unknown.text


async def test_checkout_js_defines_the_sdk(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/checkout.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "window.PaymentGateway = PaymentGateway;" in response.text


async def test_the_demo_creates_a_fresh_order_for_the_test_merchant(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    first = await anonymous.get("/demo")
    second = await anonymous.get("/demo")
    orders = []
    for page in (first, second):
        assert page.status_code == 200
        order_id = page.text.split('data-order-id="')[1].split('"')[0]
        orders.append((await client.get(f"/api/v1/orders/{order_id}")).json())
    assert orders[0]["id"] != orders[1]["id"]
    assert [(o["amount"], o["status"]) for o in orders] == [(50000, "created")] * 2
    assert '<script src="/checkout.js"></script>' in first.text


async def test_there_is_no_demo_in_production(database_url: str) -> None:
    settings = make_settings(database_url, env="production", session_secret="s" * 32)
    container = await start(settings)
    try:
        async with http_client(container) as client:
            response = await client.get("/demo")
        assert response.status_code == 404
    finally:
        await truncate_all(container.db)
        await container.close()


async def test_static_files_are_served(anonymous: httpx.AsyncClient) -> None:
    for name in ("hazina.css", "checkout-page.js", "dashboard.js", "demo.js"):
        response = await anonymous.get(f"/static/{name}")
        assert response.status_code == 200, name


async def test_the_api_still_answers_in_its_envelope(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert json.loads(response.text) == {
        "error": {"code": "NOT_FOUND_ERROR", "description": "Not found"}
    }
