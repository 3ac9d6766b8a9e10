"""A fake PayPal REST API: an ASGI app speaking providers.md section 2, field for field.

It holds clients, tokens, orders, captures and refunds in memory, serves a hosted approval page
(`/checkoutnow?token=…` with Approve and Cancel), and POSTs webhooks signed the way PayPal signs
them (2.7 B) with the private key of a self-signed certificate it makes at start and serves at
its own `PAYPAL-CERT-URL`. `PayPal-Request-Id` replays answer 200 with the first answer.

Tests (and `hazina fake paypal`) drive it through `/_control/…`: register a client, approve an
order without a browser, choose the next capture's outcome, turn webhooks off, read the webhooks
sent (headers and raw body, to resend or tamper with). It never imports `hazina.providers`: it
is an independent reading of the wire format.

Where PayPal's documentation is silent the fake invents, and says so here: tokens are random
strings; ids are 17 upper-case characters; an order lapses never.
"""

import base64
import json
import secrets
import time
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hazina.testing.paypal_state import (
    CERT_PATH,
    FakeClient,
    FakePayPal,
    amount_ok,
    error,
    now,
    paypal_id,
    signing_identity,
)


def create_paypal_fake(token_lifetime_seconds: int = 32400) -> Starlette:
    fake = FakePayPal(token_lifetime_seconds)
    fake.key, fake.certificate = signing_identity()

    def base(request: Request) -> None:
        fake.base_url = str(request.base_url).rstrip("/")

    async def token(request: Request) -> Response:
        base(request)
        authorization = request.headers.get("authorization", "")
        try:
            client_id, _, secret = (
                base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
            )
        except ValueError:
            client_id, secret = "", ""
        client = fake.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            body = {"error": "invalid_client", "error_description": "Client Authentication failed"}
            return JSONResponse(body, status_code=401)
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        issued = f"A21AA{secrets.token_urlsafe(24)}"
        fake.tokens[issued] = (client_id, time.monotonic() + fake.token_lifetime_seconds)
        fake.tokens_issued += 1
        return JSONResponse(
            {
                "scope": "https://uri.paypal.com/services/payments/payment",
                "access_token": issued,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": fake.token_lifetime_seconds,
                "nonce": f"{now()}{secrets.token_hex(8)}",
            }
        )

    async def authorised(request: Request) -> tuple[FakeClient | None, Response | None]:
        base(request)
        client = fake.client_of(request)
        if client is None:
            body = {
                "error": "invalid_token",
                "error_description": "Token signature verification failed",
            }
            return None, JSONResponse(body, status_code=401)
        return client, None

    def replayed(client: FakeClient, request: Request) -> Response | None:
        request_id = request.headers.get("paypal-request-id")
        found = fake.replies.get((client.client_id, request.url.path, request_id or ""))
        return (
            None if found is None or request_id is None else JSONResponse(found[1], status_code=200)
        )

    def remember(
        client: FakeClient, request: Request, status: int, body: dict[str, Any]
    ) -> Response:
        request_id = request.headers.get("paypal-request-id")
        if request_id is not None:
            fake.replies[(client.client_id, request.url.path, request_id)] = (status, body)
        return JSONResponse(body, status_code=status)

    async def create_order(request: Request) -> Response:
        client, refused = await authorised(request)
        if client is None:
            return refused or error(401)
        if (again := replayed(client, request)) is not None:
            return again
        try:
            body = await request.json()
            units = body["purchase_units"]
            valid = body["intent"] in ("CAPTURE", "AUTHORIZE") and 1 <= len(units) <= 10
            valid = valid and all(amount_ok(unit.get("amount")) for unit in units)
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            return error(400, "INVALID_PARAMETER_SYNTAX", "The order request is malformed.")
        order_id = paypal_id()
        context = body.get("payment_source", {}).get("paypal", {}).get("experience_context", {})
        order = {
            "id": order_id,
            "intent": body["intent"],
            "status": "PAYER_ACTION_REQUIRED",
            "purchase_units": [
                {"reference_id": u.get("reference_id", "default"), **u} for u in units
            ],
            "create_time": now(),
            "_return_url": context.get("return_url"),
            "_cancel_url": context.get("cancel_url"),
        }
        fake.orders[order_id] = order
        fake.order_clients[order_id] = client.client_id
        answer = {
            "id": order_id,
            "status": order["status"],
            "payment_source": {"paypal": {}},
            "links": [
                fake.link(f"/v2/checkout/orders/{order_id}", "self"),
                fake.link(f"/checkoutnow?{urlencode({'token': order_id})}", "payer-action"),
            ],
        }
        return remember(client, request, 201, answer)

    def public(order: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in order.items() if not k.startswith("_")}
        shown["links"] = [fake.link(f"/v2/checkout/orders/{order['id']}", "self")]
        return shown

    def owned_order(client: FakeClient, order_id: str) -> dict[str, Any] | None:
        if fake.order_clients.get(order_id) != client.client_id:
            return None
        return fake.orders.get(order_id)

    async def get_order(request: Request) -> Response:
        client, refused = await authorised(request)
        if client is None:
            return refused or error(401)
        order = owned_order(client, request.path_params["order_id"])
        return error(404) if order is None else JSONResponse(public(order))

    async def complete_order(request: Request) -> Response:
        """`/capture` and `/authorize` of an approved order."""
        client, refused = await authorised(request)
        if client is None:
            return refused or error(401)
        if (again := replayed(client, request)) is not None:
            return again
        order = owned_order(client, request.path_params["order_id"])
        if order is None:
            return error(404)
        action = request.path_params["action"]
        if (action == "capture") != (order["intent"] == "CAPTURE"):
            return error(
                422, "ACTION_DOES_NOT_MATCH_INTENT", "The action does not match the order's intent."
            )
        if order["status"] == "COMPLETED":
            issue = "ORDER_ALREADY_CAPTURED" if action == "capture" else "ORDER_ALREADY_AUTHORIZED"
            return error(
                422,
                issue,
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
            )
        if order["status"] != "APPROVED":
            return error(
                422, "ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment."
            )
        unit = order["purchase_units"][0]
        money = {
            "id": paypal_id(),
            "amount": unit["amount"],
            "custom_id": unit.get("custom_id"),
            "create_time": now(),
            "update_time": now(),
        }
        if action == "capture":
            status = fake.next_capture_status
            money |= {"status": status, "final_capture": True}
            if status == "PENDING":
                money["status_details"] = {"reason": "PENDING_REVIEW"}
            money["links"] = [
                fake.link(f"/v2/payments/captures/{money['id']}", "self"),
                fake.link(f"/v2/checkout/orders/{order['id']}", "up"),
            ]
            unit["payments"] = {"captures": [money]}
            fake.captures[money["id"]] = (order["id"], money)
        else:
            money |= {"status": "CREATED", "expiration_time": now()}
            unit["payments"] = {"authorizations": [money]}
            fake.authorizations[money["id"]] = (order["id"], money)
        order["status"] = "COMPLETED"
        answer = remember(client, request, 201, public(order))
        if action == "capture":
            kind = {"COMPLETED": "COMPLETED", "PENDING": "PENDING", "DECLINED": "DENIED"}[
                money["status"]
            ]
            resource = {
                **money,
                "_type": "capture",
                "supplementary_data": {"related_ids": {"order_id": order["id"]}},
            }
            await fake.send_webhook(client, f"PAYMENT.CAPTURE.{kind}", resource)
        return answer

    async def capture_authorization(request: Request) -> Response:
        client, refused = await authorised(request)
        if client is None:
            return refused or error(401)
        if (again := replayed(client, request)) is not None:
            return again
        found = fake.authorizations.get(request.path_params["authorization_id"])
        if found is None or fake.order_clients.get(found[0]) != client.client_id:
            return error(404)
        order_id, authorization = found
        if authorization["status"] != "CREATED":
            return error(
                422, "AUTHORIZATION_ALREADY_CAPTURED", "Authorization has already been captured."
            )
        body = await request.json()
        amount = body.get("amount") or authorization["amount"]
        if not amount_ok(amount) or Decimal(amount["value"]) > Decimal(
            authorization["amount"]["value"]
        ):
            return error(
                422, "CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds the authorized amount."
            )
        authorization["status"] = "CAPTURED"
        capture = {
            "id": paypal_id(),
            "status": "COMPLETED",
            "amount": amount,
            "final_capture": True,
            "custom_id": authorization.get("custom_id"),
            "create_time": now(),
            "update_time": now(),
            "links": [fake.link(f"/v2/payments/authorizations/{authorization['id']}", "up")],
        }
        unit = fake.orders[order_id]["purchase_units"][0]
        unit["payments"]["captures"] = [capture]
        fake.captures[capture["id"]] = (order_id, capture)
        return remember(client, request, 201, capture)

    async def refund_capture(request: Request) -> Response:
        client, refused = await authorised(request)
        if client is None:
            return refused or error(401)
        if (again := replayed(client, request)) is not None:
            return again
        found = fake.captures.get(request.path_params["capture_id"])
        if found is None or fake.order_clients.get(found[0]) != client.client_id:
            return error(404)
        capture = found[1]
        body = await request.json()
        amount = body.get("amount") or capture["amount"]
        refunded = sum(
            Decimal(r["amount"]["value"])
            for r in fake.refunds.values()
            if r["_capture"] == capture["id"]
        )
        if not amount_ok(amount) or refunded + Decimal(amount["value"]) > Decimal(
            capture["amount"]["value"]
        ):
            return error(
                422,
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has "
                "not yet been refunded.",
            )
        refund_id = paypal_id()
        refund = {
            "id": refund_id,
            "status": "COMPLETED",
            "amount": amount,
            "custom_id": body.get("custom_id"),
            "create_time": now(),
            "update_time": now(),
            "links": [
                fake.link(f"/v2/payments/refunds/{refund_id}", "self"),
                fake.link(f"/v2/payments/captures/{capture['id']}", "up"),
            ],
            "_capture": capture["id"],
        }
        fake.refunds[refund_id] = refund
        total = refunded + Decimal(amount["value"])
        capture["status"] = (
            "REFUNDED" if total == Decimal(capture["amount"]["value"]) else "PARTIALLY_REFUNDED"
        )
        shown = {k: v for k, v in refund.items() if not k.startswith("_")}
        answer = remember(client, request, 201, shown)
        await fake.send_webhook(client, "PAYMENT.CAPTURE.REFUNDED", {**shown, "_type": "refund"})
        return answer

    async def get_refund(request: Request) -> Response:
        client, refused = await authorised(request)
        if client is None:
            return refused or error(401)
        refund = fake.refunds.get(request.path_params["refund_id"])
        if refund is None:
            return error(404)
        return JSONResponse({k: v for k, v in refund.items() if not k.startswith("_")})

    async def certificate(request: Request) -> Response:
        return Response(fake.certificate, media_type="application/x-pem-file")

    async def verify_signature(request: Request) -> Response:
        """The postback API (2.7 A), checked against the webhooks this fake sent."""
        client, refused = await authorised(request)
        if client is None:
            return refused or error(401)
        body = await request.json()
        sent = next(
            (
                s
                for s in fake.sent
                if s.headers["PAYPAL-TRANSMISSION-ID"] == body.get("transmission_id")
            ),
            None,
        )
        ok = (
            sent is not None
            and body.get("webhook_id") == client.webhook_id
            and body.get("transmission_sig") == sent.headers["PAYPAL-TRANSMISSION-SIG"]
            and body.get("webhook_event") == json.loads(sent.body)
        )
        return JSONResponse({"verification_status": "SUCCESS" if ok else "FAILURE"})

    async def approval_page(request: Request) -> Response:
        base(request)
        order_id = request.query_params.get("token", "")
        order = fake.orders.get(order_id)
        if order is None:
            return HTMLResponse("<h1>This order does not exist</h1>", status_code=404)
        amount = order["purchase_units"][0]["amount"]
        shown = escape(f"{amount['currency_code']} {amount['value']}")
        action = f"/checkoutnow/{escape(order_id)}"
        html = (
            "<!doctype html><html><head><title>PayPal (fake)</title></head><body>"
            f'<h1>Pay with PayPal (fake)</h1><p id="amount">{shown}</p>'
            f'<form method="post" action="{action}/approve"><button id="approve">Approve</button>'
            f'</form><form method="post" action="{action}/cancel">'
            '<button id="cancel">Cancel and return</button></form></body></html>'
        )
        return HTMLResponse(html)

    async def approve(order_id: str) -> dict[str, Any] | None:
        order = fake.orders.get(order_id)
        if order is None or order["status"] != "PAYER_ACTION_REQUIRED":
            return order
        order["status"] = "APPROVED"
        order["payer"] = {
            "name": {"given_name": "Fake", "surname": "Buyer"},
            "email_address": "buyer@example.com",
            "payer_id": "FAKEPAYER0001",
        }
        client = fake.clients[fake.order_clients[order_id]]
        resource = {**public(order), "_type": "checkout-order"}
        resource["links"].append(
            fake.link(f"/v2/checkout/orders/{order_id}/capture", "capture", "POST")
        )
        await fake.send_webhook(client, "CHECKOUT.ORDER.APPROVED", resource)
        return order

    async def approve_page(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        order = await approve(order_id)
        if order is None:
            return HTMLResponse("<h1>This order does not exist</h1>", status_code=404)
        query = urlencode({"token": order_id, "PayerID": "FAKEPAYER0001"})
        separator = "&" if "?" in (order["_return_url"] or "") else "?"
        return RedirectResponse(f"{order['_return_url']}{separator}{query}", status_code=303)

    async def cancel_page(request: Request) -> Response:
        order = fake.orders.get(request.path_params["order_id"])
        if order is None:
            return HTMLResponse("<h1>This order does not exist</h1>", status_code=404)
        separator = "&" if "?" in (order["_cancel_url"] or "") else "?"
        return RedirectResponse(
            f"{order['_cancel_url']}{separator}token={order['id']}", status_code=303
        )

    # -- control --------------------------------------------------------------------------

    async def control_client(request: Request) -> Response:
        base(request)
        body = await request.json()
        fake.clients[body["client_id"]] = FakeClient(
            body["client_id"], body["client_secret"], body["webhook_id"], body.get("webhook_url")
        )
        return JSONResponse({"client_id": body["client_id"]}, status_code=201)

    async def control_settings(request: Request) -> Response:
        body = await request.json()
        fake.deliver = bool(body.get("deliver", fake.deliver))
        fake.next_capture_status = str(body.get("capture_status", fake.next_capture_status))
        if body.get("expire_tokens"):
            fake.tokens.clear()
        return JSONResponse({"deliver": fake.deliver, "capture_status": fake.next_capture_status})

    async def control_approve(request: Request) -> Response:
        base(request)
        order = await approve(request.path_params["order_id"])
        return error(404) if order is None else JSONResponse(public(order))

    async def control_webhooks(request: Request) -> Response:
        return JSONResponse(
            [{"headers": s.headers, "body": s.body.decode(), "status": s.status} for s in fake.sent]
        )

    async def control_reverse(request: Request) -> Response:
        """A chargeback: the capture's money taken back, told by PAYMENT.CAPTURE.REVERSED
        (whose resource is the refund PayPal made, with no custom_id of the merchant's)."""
        base(request)
        found = fake.captures.get(request.path_params["capture_id"])
        if found is None:
            return error(404)
        order_id, capture = found
        refund_id = paypal_id()
        refund = {
            "id": refund_id,
            "status": "COMPLETED",
            "amount": capture["amount"],
            "create_time": now(),
            "update_time": now(),
            "links": [
                fake.link(f"/v2/payments/refunds/{refund_id}", "self"),
                fake.link(f"/v2/payments/captures/{capture['id']}", "up"),
            ],
            "_capture": capture["id"],
        }
        fake.refunds[refund_id] = refund
        capture["status"] = "REFUNDED"
        client = fake.clients[fake.order_clients[order_id]]
        shown = {k: v for k, v in refund.items() if not k.startswith("_")}
        await fake.send_webhook(client, "PAYMENT.CAPTURE.REVERSED", {**shown, "_type": "refund"})
        return JSONResponse(shown)

    async def control_stats(request: Request) -> Response:
        return JSONResponse({"tokens_issued": fake.tokens_issued})

    async def index(request: Request) -> Response:
        return JSONResponse({"fake": "paypal"})

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/v1/oauth2/token", token, methods=["POST"]),
            Route("/v2/checkout/orders", create_order, methods=["POST"]),
            Route("/v2/checkout/orders/{order_id}", get_order),
            Route("/v2/checkout/orders/{order_id}/{action:str}", complete_order, methods=["POST"]),
            Route(
                "/v2/payments/authorizations/{authorization_id}/capture",
                capture_authorization,
                methods=["POST"],
            ),
            Route("/v2/payments/captures/{capture_id}/refund", refund_capture, methods=["POST"]),
            Route("/v2/payments/refunds/{refund_id}", get_refund),
            Route(CERT_PATH, certificate),
            Route("/v1/notifications/verify-webhook-signature", verify_signature, methods=["POST"]),
            Route("/checkoutnow", approval_page),
            Route("/checkoutnow/{order_id}/approve", approve_page, methods=["POST"]),
            Route("/checkoutnow/{order_id}/cancel", cancel_page, methods=["POST"]),
            Route("/_control/clients", control_client, methods=["POST"]),
            Route("/_control/settings", control_settings, methods=["POST"]),
            Route("/_control/orders/{order_id}/approve", control_approve, methods=["POST"]),
            Route("/_control/webhooks", control_webhooks),
            Route("/_control/stats", control_stats),
            Route("/_control/captures/{capture_id}/reverse", control_reverse, methods=["POST"]),
        ]
    )
    app.state.fake = fake
    return app


def serve_paypal_fake(
    host: str = "127.0.0.1", port: int = 8766, token_lifetime_seconds: int = 32400
) -> None:
    """Run the fake standalone until interrupted (`hazina fake paypal --port …`)."""
    uvicorn.run(create_paypal_fake(token_lifetime_seconds), host=host, port=port)
