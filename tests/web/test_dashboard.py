"""The dashboard's pages and forms over HTTP: figures, the secret roll, transactions, refunds,
webhooks and docs, each confined to the logged-in user's merchant."""

import html
import re
import uuid

import httpx
import markupsafe
from sqlalchemy import select

from hazina.bootstrap import Container
from hazina.db.database import Database
from hazina.db.models import AuditLog
from hazina.services.merchants import TEST_MERCHANT_ID, create_merchant
from hazina.worker import Worker
from tests.conftest import AUTH, http_client
from tests.factories import pending_payment, successful_payment
from tests.web.conftest import csrf_of, log_in, post_form


def texts_of(page: httpx.Response, test_id: str) -> list[str]:
    """The text of every element carrying `data-test-id`, tags stripped."""
    found = re.findall(rf'data-test-id="{test_id}"[^>]*>(.*?)</', page.text, re.DOTALL)
    return [html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found]


async def test_the_figures_come_from_the_database(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, worker: Worker
) -> None:
    empty = await dashboard.get("/dashboard")
    assert texts_of(empty, "total-transactions") == ["0"]
    assert texts_of(empty, "total-amount") == ["₹0"]
    assert texts_of(empty, "success-rate") == ["0%"]

    await successful_payment(client, worker, 20_000_000)
    await successful_payment(client, worker, 30_000_000)
    await pending_payment(client, 700)
    page = await dashboard.get("/dashboard")
    assert texts_of(page, "total-transactions") == ["3"]
    assert texts_of(page, "total-amount") == ["₹5,00,000"]
    assert texts_of(page, "success-rate") == ["67%"]


async def test_rolling_the_secret_shows_the_new_one_once(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, db: Database
) -> None:
    assert texts_of(await dashboard.get("/dashboard"), "api-secret") == ["secret_" + "•" * 16]
    rolled = await post_form(dashboard, "/dashboard", "/dashboard/roll-secret")
    assert rolled.status_code == 200
    [secret] = texts_of(rolled, "api-secret")
    assert re.fullmatch(r"secret_test_[A-Za-z0-9_-]{43}", secret)
    assert "will not be shown again" in rolled.text
    assert secret not in (await dashboard.get("/dashboard")).text

    assert (await client.get("/api/v1/payments")).status_code == 401  # the old secret
    headers = {"X-Api-Key": AUTH["X-Api-Key"], "X-Api-Secret": secret}
    assert (await client.get("/api/v1/payments", headers=headers)).status_code == 200
    async with db.read() as session:
        audit = await session.scalar(select(AuditLog).where(AuditLog.action == "api_secret.rolled"))
    assert audit is not None
    assert audit.merchant_id == TEST_MERCHANT_ID
    assert audit.actor.startswith("dashboard_user:")
    assert secret not in str(audit.details)


async def test_rolling_the_secret_needs_the_csrf_token(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    assert (await dashboard.post("/dashboard/roll-secret")).status_code == 403
    assert (await client.get("/api/v1/payments")).status_code == 200


async def test_the_transactions_table_lists_the_merchants_payments(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker, 123_456)
    page = await dashboard.get("/dashboard/transactions")
    assert f'data-test-id="transaction-row" data-payment-id="{payment["id"]}"' in page.text
    assert texts_of(page, "payment-id") == [payment["id"]]
    assert texts_of(page, "order-id") == [payment["order_id"]]
    assert texts_of(page, "amount") == ["₹1,234.56"]
    assert texts_of(page, "method") == ["upi"]
    assert texts_of(page, "status") == ["success"]
    created = payment["created_at"].replace("T", " ").removesuffix("Z")
    assert texts_of(page, "created-at") == [created]


async def test_the_transactions_table_is_paginated(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for _ in range(21):
        await pending_payment(client, 500)
    first = await dashboard.get("/dashboard/transactions")
    assert len(texts_of(first, "payment-id")) == 20
    assert "1–20 of 21" in first.text
    second = await dashboard.get("/dashboard/transactions", params={"offset": 20})
    assert len(texts_of(second, "payment-id")) == 1
    assert "21–21 of 21" in second.text


async def test_a_payment_shows_its_events_and_takes_a_refund(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker, 50_000)
    page_path = f"/dashboard/transactions/{payment['id']}"
    page = await dashboard.get(page_path)
    for event in ("payment.created", "payment.pending", "payment.success"):
        assert event in page.text

    too_much = await post_form(
        dashboard, page_path, f"{page_path}/refunds", {"amount": "500.01", "reason": ""}
    )
    assert too_much.status_code == 400
    assert "Refund amount exceeds available amount" in too_much.text
    assert 'value="500.01"' in too_much.text  # what was typed stays in the form

    too_precise = await post_form(dashboard, page_path, f"{page_path}/refunds", {"amount": "1.234"})
    assert too_precise.status_code == 400
    assert "amount must have at most 2 decimals for INR" in too_precise.text

    done = await post_form(
        dashboard, page_path, f"{page_path}/refunds", {"amount": "120.50", "reason": "damaged"}
    )
    assert done.status_code == 303
    refunds = (await client.get(f"/api/v1/payments/{payment['id']}/refunds")).json()["data"]
    assert [(r["amount"], r["reason"]) for r in refunds] == [(12050, "damaged")]
    after = await dashboard.get(page_path)
    assert "Refund of ₹120.50 created." in after.text


async def test_a_refund_needs_the_csrf_token(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient, worker: Worker
) -> None:
    payment = await successful_payment(client, worker)
    path = f"/dashboard/transactions/{payment['id']}/refunds"
    assert (await dashboard.post(path, data={"amount": "1.00"})).status_code == 403
    refunds = (await client.get(f"/api/v1/payments/{payment['id']}/refunds")).json()
    assert refunds["total"] == 0


async def test_a_user_sees_only_its_own_merchants_payments(
    dashboard: httpx.AsyncClient, container: Container, client: httpx.AsyncClient
) -> None:
    other = await create_merchant(
        container.db,
        container.providers.vault,
        name="Other Shop",
        email=f"shop-{uuid.uuid4().hex[:6]}@example.com",
        actor="test",
        owner_password="other-password",
    )
    headers = {"X-Api-Key": other.merchant.api_key, "X-Api-Secret": other.api_secret}
    async with http_client(container, headers) as their_api:
        theirs = await pending_payment(their_api)
    mine = await pending_payment(client)

    missing = await dashboard.get(f"/dashboard/transactions/{theirs['id']}")
    assert missing.status_code == 404
    assert "Payment not found" in missing.text
    listed = await dashboard.get("/dashboard/transactions")
    assert theirs["id"] not in listed.text
    assert mine["id"] in listed.text
    refund = await post_form(
        dashboard,
        "/dashboard/transactions",
        f"/dashboard/transactions/{theirs['id']}/refunds",
        {"amount": "1.00"},
    )
    assert refund.status_code == 404

    # The other merchant's owner (made with its merchant) sees its payment, and not ours.
    dashboard.cookies.clear()
    assert (await log_in(dashboard, other.merchant.email, "other-password")).status_code == 303
    assert (await dashboard.get(f"/dashboard/transactions/{theirs['id']}")).status_code == 200
    assert (await dashboard.get(f"/dashboard/transactions/{mine['id']}")).status_code == 404


async def test_the_webhook_form_saves_tests_regenerates_and_retries(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    page = "/dashboard/webhooks"
    saved = await post_form(dashboard, page, page, {"webhook_url": "http://127.0.0.1:9/hook"})
    assert saved.status_code == 303
    config = (await client.get("/api/v1/webhooks/config")).json()
    assert config["webhook_url"] == "http://127.0.0.1:9/hook"
    shown = await dashboard.get(page)
    assert texts_of(shown, "webhook-secret") == [config["webhook_secret"]]
    assert "Webhook URL saved." in shown.text

    assert (await post_form(dashboard, page, f"{page}/test")).status_code == 303
    deliveries = (await client.get("/api/v1/webhooks")).json()["data"]
    assert [d["event"] for d in deliveries] == ["webhook.test"]
    listed = await dashboard.get(page)
    assert texts_of(listed, "webhook-event") == ["webhook.test"]

    retried = await post_form(dashboard, page, f"{page}/{deliveries[0]['id']}/retry")
    assert retried.status_code == 303
    assert "Webhook retry scheduled." in (await dashboard.get(page)).text

    regenerated = await post_form(dashboard, page, f"{page}/regenerate-secret")
    assert regenerated.status_code == 303
    new_secret = (await client.get("/api/v1/webhooks/config")).json()["webhook_secret"]
    assert new_secret != config["webhook_secret"]


async def test_an_invalid_webhook_url_shows_the_description_and_what_was_typed(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    typed = 'ftp://example.com/"><script>alert(1)</script>'
    page = await post_form(
        dashboard, "/dashboard/webhooks", "/dashboard/webhooks", {"webhook_url": typed}
    )
    assert page.status_code == 400
    assert "webhook_url must be an absolute http or https URL" in page.text
    assert "<script>alert(1)</script>" not in page.text  # escaped, never markup
    assert str(markupsafe.escape(typed)) in page.text
    assert (await client.get("/api/v1/webhooks/config")).json()["webhook_url"] is None


async def test_the_webhook_forms_need_the_csrf_token(
    dashboard: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for path in ("", "/test", "/regenerate-secret", "/00000000-0000-0000-0000-000000000000/retry"):
        response = await dashboard.post(
            f"/dashboard/webhooks{path}", data={"webhook_url": "http://127.0.0.1:9/x"}
        )
        assert response.status_code == 403, path
    assert (await client.get("/api/v1/webhooks/config")).json()["webhook_url"] is None


async def test_retrying_another_merchants_delivery_is_not_found(
    dashboard: httpx.AsyncClient,
) -> None:
    response = await post_form(
        dashboard, "/dashboard/webhooks", f"/dashboard/webhooks/{uuid.uuid4()}/retry"
    )
    assert response.status_code == 404
    assert "Webhook not found" in response.text


async def test_the_docs_use_this_server_and_this_merchant(dashboard: httpx.AsyncClient) -> None:
    page = await dashboard.get("/dashboard/docs")
    text = html.unescape(page.text)
    assert "curl -s -X POST http://hazina.test/api/v1/orders" in text
    assert "X-Api-Key: key_test_abc123" in text
    assert '<script src="http://hazina.test/checkout.js"></script>' in text
    assert "hmac.new(SECRET, body, hashlib.sha256).hexdigest()" in text


async def test_the_dashboard_cannot_be_framed(dashboard: httpx.AsyncClient) -> None:
    page = await dashboard.get("/dashboard")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_the_csrf_token_is_not_reused_across_sessions(
    container: Container, dashboard: httpx.AsyncClient
) -> None:
    token = csrf_of(await dashboard.get("/dashboard"))
    async with http_client(container) as other:
        await log_in(other)
        response = await other.post("/dashboard/roll-secret", data={"csrf_token": token})
    assert response.status_code == 403


async def test_a_script_may_send_the_csrf_token_as_a_header(
    dashboard: httpx.AsyncClient,
) -> None:
    token = csrf_of(await dashboard.get("/dashboard"))
    response = await dashboard.post("/dashboard/roll-secret", headers={"X-CSRF-Token": token})
    assert response.status_code == 200
