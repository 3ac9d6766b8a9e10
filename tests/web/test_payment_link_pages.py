"""The payment link pages over HTTP: `/l/{code}` (checkout, receipt, closed) and the dashboard's
"Payment links" page with its create form, on both databases."""

import html
import re
from datetime import timedelta

import httpx
from sqlalchemy import update

from hazina.bootstrap import Container
from hazina.db.models import Order, PaymentLink
from hazina.domain.clock import utc_now
from hazina.worker import Worker
from tests.waiting import drain
from tests.web.conftest import post_form


def link_of(page: httpx.Response) -> str:
    match = re.search(r'data-test-id="payment-link-url"[^>]*>([A-Za-z0-9]+)</a>', page.text)
    assert match, page.text
    return match.group(1)


async def test_the_dashboard_creates_a_link_and_lists_it(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    empty = await dashboard.get("/dashboard/links")
    assert empty.status_code == 200
    assert "No payment links yet." in empty.text
    created = await post_form(
        dashboard,
        "/dashboard/links",
        "/dashboard/links",
        {
            "amount": "1,250.50",
            "currency": "INR",
            "description": "Invoice <42>",
            "customer_name": "Asha",
            "customer_phone": "+255712345678",
        },
    )
    assert created.status_code == 303
    page = await dashboard.get("/dashboard/links")
    code = link_of(page)
    assert "Invoice &lt;42&gt;" in page.text  # escaped, never markup
    listed = (await client.get("/api/v1/payment-links")).json()["data"]
    assert [link["code"] for link in listed] == [code]
    assert listed[0]["amount"] == 125050


async def test_a_bad_form_says_why_and_keeps_what_was_typed(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    refused = await post_form(
        dashboard,
        "/dashboard/links",
        "/dashboard/links",
        {"amount": "500", "currency": "INR", "customer_phone": "12345", "description": "Kept"},
    )
    assert refused.status_code == 400
    assert "customer.phone:" in html.unescape(refused.text)
    assert 'value="Kept"' in refused.text
    assert (await client.get("/api/v1/payment-links")).json()["total"] == 0


async def test_the_link_page_is_the_checkout_then_the_receipt(
    client: httpx.AsyncClient, visitor: httpx.AsyncClient, worker: Worker
) -> None:
    link = (
        await client.post(
            "/api/v1/payment-links",
            json={"amount": 50000, "description": "Tea", "methods": ["upi"]},
        )
    ).json()
    page = await visitor.get(f"/l/{link['code']}")
    assert page.status_code == 200
    assert f'data-order-id="{link["order_id"]}"' in page.text
    assert 'data-test-id="method-upi"' in page.text
    assert 'data-test-id="method-card"' not in page.text  # the link allows UPI only
    assert "Tea" in page.text
    paid = await visitor.post(
        "/api/v1/payments/public",
        json={"order_id": link["order_id"], "method": "upi", "vpa": "a@upi"},
    )
    assert paid.status_code == 201
    await drain(worker)
    receipt = await visitor.get(f"/l/{link['code']}")
    assert receipt.status_code == 200
    assert 'data-test-id="link-receipt"' in receipt.text
    assert paid.json()["id"] in receipt.text
    assert 'data-test-id="method-upi"' not in receipt.text


async def test_a_cancelled_or_unknown_link_says_so(
    client: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    link = (await client.post("/api/v1/payment-links", json={"amount": 50000})).json()
    await client.post(f"/api/v1/payment-links/{link['id']}/cancel")
    closed = await visitor.get(f"/l/{link['code']}")
    assert closed.status_code == 410
    assert "This payment link was cancelled" in closed.text
    assert link["order_id"] not in closed.text
    unknown = await visitor.get("/l/doesnotexist1234")
    assert unknown.status_code == 404
    assert "This payment link does not exist." in unknown.text


async def test_an_expired_link_says_so_and_a_late_payment_still_pays_it(
    client: httpx.AsyncClient, visitor: httpx.AsyncClient, container: Container, worker: Worker
) -> None:
    link = (await client.post("/api/v1/payment-links", json={"amount": 50000})).json()
    # A customer started paying before the link expired; the money arrives after.
    started = await visitor.post(
        "/api/v1/payments/public",
        json={"order_id": link["order_id"], "method": "upi", "vpa": "a@upi"},
    )
    assert started.status_code == 201
    past = utc_now() - timedelta(seconds=1)
    async with container.db.transaction() as session:
        await session.execute(
            update(PaymentLink).where(PaymentLink.id == link["id"]).values(expires_at=past)
        )
        await session.execute(
            update(Order).where(Order.id == link["order_id"]).values(link_expires_at=past)
        )
    assert (await client.get(f"/api/v1/payment-links/{link['id']}")).json()["status"] == "expired"
    closed = await visitor.get(f"/l/{link['code']}")
    assert closed.status_code == 410
    assert "This payment link has expired" in closed.text
    # No new attempt; the one in flight still pays it: money that arrived is never ignored.
    again = await visitor.post(
        "/api/v1/payments/public",
        json={"order_id": link["order_id"], "method": "upi", "vpa": "a@upi"},
    )
    assert again.status_code == 400
    await drain(worker)
    assert (await client.get(f"/api/v1/payment-links/{link['id']}")).json()["status"] == "paid"
    assert (await visitor.get(f"/l/{link['code']}")).status_code == 200
