"""A fake ClickPesa API: an ASGI app speaking providers.md section 3, field for field.

It holds clients, tokens and payments in memory (payouts: `clickpesa_payouts_fake`). Tests (and
`hazina fake clickpesa`) drive it through `/_control/…`: register a client, complete a payment
(which records the status for `GET /payments/{ref}` and POSTs the webhook to the client's URL),
expire every token.

Where ClickPesa's documentation is silent the fake invents, and says so here:
- a missing or wrong request checksum answers 400 `{"message": "Invalid checksum"}`;
- tokens are `Bearer <random>` rather than JWTs;
- a checkout link creates no payment record until it is completed, so its status query is 404.
It never imports `hazina.providers`: it is an independent reading of the wire format, sharing
only the pure checksum rule with the adapter.
"""

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hazina.domain.checksums import checksum_matches, compute_checksum

_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]+")
_PHONE = re.compile(r"255\d{9}")
_CHANNELS = ("M-PESA", "TIGO-PESA", "AIRTEL-MONEY", "HALOPESA")
WEBHOOK_TIMEOUT_SECONDS = 10.0


@dataclass(slots=True)
class FakeClient:
    client_id: str
    api_key: str
    checksum_key: str | None
    webhook_url: str | None


@dataclass(slots=True)
class FakeOrder:
    """One orderReference: a USSD push or a checkout link, and its payment once there is one."""

    client_id: str
    reference: str
    amount: str
    currency: str
    channel: str
    phone: str | None = None
    email: str | None = None
    payment_id: str | None = None
    payment_reference: str | None = None
    status: str | None = None
    message: str | None = None
    created_at: str = ""
    updated_at: str = ""


@dataclass(slots=True)
class FakeClickPesa:
    token_lifetime_seconds: float
    clock: Callable[[], float]
    webhook_transport: httpx.AsyncBaseTransport | None
    clients: dict[str, FakeClient] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # → client id, expiry
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    # Every /generate-token that issued a token, for tests that count token fetches.
    tokens_issued: int = 0


def _now() -> str:
    """ClickPesa's timestamp form: `2024-04-10T18:22:56.153Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


async def _json_body(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _state(request: Request) -> FakeClickPesa:
    state: FakeClickPesa = request.app.state.clickpesa
    return state


def _authorised(request: Request) -> FakeClient | None:
    state = _state(request)
    entry = state.tokens.get(request.headers.get("authorization", ""))
    if entry is None or state.clock() >= entry[1]:
        return None
    return state.clients.get(entry[0])


def _checksum_problem(client: FakeClient, body: dict[str, Any]) -> JSONResponse | None:
    if client.checksum_key is None:
        return None
    checksum = body.get("checksum")
    if not isinstance(checksum, str) or not checksum_matches(client.checksum_key, body, checksum):
        return _error(400, "Invalid checksum")
    return None


async def signed_request(request: Request) -> tuple[FakeClient, dict[str, Any]] | Response:
    """The authorised client and its JSON body with a valid checksum, or ClickPesa's error."""
    client = _authorised(request)
    if client is None:
        return _error(401, "Unauthorized")
    body = await _json_body(request)
    if body is None:
        return _error(400, "Invalid request body")
    if problem := _checksum_problem(client, body):
        return problem
    return client, body


def _reference_problem(state: FakeClickPesa, reference: Any) -> JSONResponse | None:
    if not isinstance(reference, str) or not _ALPHANUMERIC.fullmatch(reference):
        return _error(
            400,
            "Invalid Order Reference, should only contain alphanumeric characters "
            "and cannot be blank",
        )
    if reference in state.orders:
        return _error(
            409, f"Order reference {reference} already used: Create a different reference"
        )
    return None


async def generate_token(request: Request) -> Response:
    state = _state(request)
    client = state.clients.get(request.headers.get("client-id", ""))
    if client is None:
        return _error(403, "Invalid client details")
    if not secrets.compare_digest(request.headers.get("api-key", ""), client.api_key):
        return _error(403, "Invalid or Expired API-Key")
    token = "Bearer " + secrets.token_urlsafe(32)
    state.tokens[token] = (client.client_id, state.clock() + state.token_lifetime_seconds)
    state.tokens_issued += 1
    return JSONResponse({"success": True, "token": token})


async def initiate_ussd_push(request: Request) -> Response:
    state = _state(request)
    checked = await signed_request(request)
    if isinstance(checked, Response):
        return checked
    client, body = checked
    amount, currency, phone = body.get("amount"), body.get("currency"), body.get("phoneNumber")
    if not isinstance(amount, str) or not amount:
        return _error(400, "Amount is required")
    if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
        return _error(400, "Invalid / unsupported phone number")
    reference = body.get("orderReference")
    if problem := _reference_problem(state, reference):
        return problem
    assert isinstance(reference, str)
    now = _now()
    order = FakeOrder(
        client_id=client.client_id,
        reference=reference,
        amount=amount,
        currency=str(currency or "TZS"),
        channel=secrets.choice(_CHANNELS),
        phone=phone,
        payment_id=f"{reference[:10]}LCP{secrets.token_hex(3).upper()[:5]}",
        status="PROCESSING",
        created_at=now,
        updated_at=now,
    )
    state.orders[reference] = order
    return JSONResponse(
        {
            "id": order.payment_id,
            "status": order.status,
            "channel": order.channel,
            "orderReference": reference,
            "collectedAmount": amount,
            "collectedCurrency": order.currency,
            "createdAt": now,
            "clientId": client.client_id,
        }
    )


async def generate_checkout_url(request: Request) -> Response:
    state = _state(request)
    checked = await signed_request(request)
    if isinstance(checked, Response):
        return checked
    client, body = checked
    reference = body.get("orderReference")
    if reference in (None, ""):
        return _error(400, "Order reference is required")
    items = body.get("orderItems")
    total = body.get("totalPrice")
    if isinstance(items, list) and items:
        for item in items:
            for key in ("name", "price", "quantity"):
                if not isinstance(item, dict) or item.get(key) in (None, ""):
                    return _error(400, f"All items must have a {key}")
        total = str(sum(Decimal(str(item["price"])) * int(item["quantity"]) for item in items))
    if total in (None, ""):
        return _error(400, "Total Price is required")
    if problem := _reference_problem(state, reference):
        return problem
    assert isinstance(reference, str)
    now = _now()
    state.orders[reference] = FakeOrder(
        client_id=client.client_id,
        reference=reference,
        amount=str(total),
        currency=str(body.get("orderCurrency") or "TZS"),
        channel="CHECKOUT LINK",
        phone=body.get("customerPhone"),
        email=body.get("customerEmail"),
        created_at=now,
        updated_at=now,
    )
    link = str(request.url_for("checkout_page", reference=reference))
    return JSONResponse({"checkoutLink": link, "clientId": client.client_id})


async def query_payment(request: Request) -> Response:
    client = _authorised(request)
    if client is None:
        return _error(401, "Unauthorized")
    reference = request.path_params["reference"]
    order = _state(request).orders.get(reference)
    if order is None or order.client_id != client.client_id or order.status is None:
        return _error(404, f"Invalid or missing payment: {reference}")
    return JSONResponse(
        [
            {
                "id": order.payment_id,
                "status": order.status,
                "paymentReference": order.payment_reference,
                "orderReference": order.reference,
                "collectedAmount": order.amount,
                "collectedCurrency": order.currency,
                "message": order.message,
                "updatedAt": order.updated_at,
                "createdAt": order.created_at,
                "customer": {
                    "customerName": "John Doe",
                    "customerPhoneNumber": order.phone,
                    "customerEmail": order.email,
                },
            }
        ]
    )


async def checkout_page(request: Request) -> Response:
    """What a customer following the link would see; paying happens through `/_control/`."""
    order = _state(request).orders.get(request.path_params["reference"])
    if order is None:
        return HTMLResponse("<h1>Checkout link not found</h1>", status_code=404)
    return HTMLResponse(
        f"<h1>ClickPesa checkout (fake)</h1><p>Order {order.reference}: "
        f"{order.currency} {order.amount}</p><p>Status: {order.status or 'awaiting payment'}</p>"
    )


def webhook_payload(order: FakeOrder, shape: str) -> dict[str, Any]:
    """The documented samples: `event` for a received payment, `eventType` for a failed one;
    `older` is the 2025-03 shape (`paymentId`, `amount` with two decimals, `currency`)."""
    event = "PAYMENT FAILED" if order.status == "FAILED" else "PAYMENT RECEIVED"
    if shape == "older":
        return {
            "event": event,
            "data": {
                "paymentId": order.payment_id,
                "orderReference": order.reference,
                "amount": f"{Decimal(order.amount):.2f}",
                "currency": order.currency,
                "status": order.status,
                "customer": {"name": "John Doe", "email": order.email, "phone": order.phone},
                "createdAt": order.created_at,
                "updatedAt": order.updated_at,
            },
        }
    if order.status == "FAILED":
        return {
            "eventType": event,
            "data": {
                "id": order.payment_id,
                "status": order.status,
                "orderReference": order.reference,
                "message": order.message,
                "updatedAt": order.updated_at,
                "createdAt": order.created_at,
            },
        }
    return {
        "event": event,
        "data": {
            "id": order.payment_id,
            "status": order.status,
            "paymentReference": order.payment_reference,
            "orderReference": order.reference,
            "collectedAmount": order.amount,
            "collectedCurrency": order.currency,
            "message": order.message,
            "channel": order.channel,
            "updatedAt": order.updated_at,
            "createdAt": order.created_at,
            "customer": {
                "customerName": "John Doe",
                "customerEmail": order.email,
                "customerPhoneNumber": order.phone,
            },
        },
    }


async def control_register_client(request: Request) -> Response:
    body = await _json_body(request) or {}
    client_id, api_key = body.get("client_id"), body.get("api_key")
    if not isinstance(client_id, str) or not isinstance(api_key, str):
        return _error(400, "client_id and api_key are required")
    _state(request).clients[client_id] = FakeClient(
        client_id, api_key, body.get("checksum_key") or None, body.get("webhook_url") or None
    )
    return JSONResponse({"client_id": client_id}, status_code=201)


async def control_complete_payment(request: Request) -> Response:
    """Body: `status` (SUCCESS, SETTLED or FAILED), `deliver` (default true), `shape`
    (`current` or `older`), `message`. Answers with the webhook body's exact bytes; the
    `x-fake-delivery-status` header tells what the client's webhook URL answered."""
    state = _state(request)
    reference = request.path_params["reference"]
    order = state.orders.get(reference)
    if order is None:
        return _error(404, f"Invalid or missing payment: {reference}")
    body = await _json_body(request) or {}
    status = str(body.get("status", "SUCCESS")).upper()
    if status not in ("SUCCESS", "SETTLED", "FAILED"):
        return _error(400, "status must be SUCCESS, SETTLED or FAILED")
    order.status = status
    order.message = body.get("message") or (
        "Insufficient balance" if status == "FAILED" else "success"
    )
    order.payment_id = order.payment_id or f"{reference[:10]}LCP{secrets.token_hex(3).upper()[:5]}"
    order.payment_reference = order.payment_reference or secrets.token_hex(9)
    order.updated_at = _now()
    payload = webhook_payload(order, str(body.get("shape", "current")))
    client = state.clients[order.client_id]
    if client.checksum_key is not None:
        payload["checksum"] = compute_checksum(client.checksum_key, payload)
    webhook = _body_bytes(payload)
    headers = {"x-fake-delivery-status": "not-sent"}
    if body.get("deliver", True) and client.webhook_url:
        headers["x-fake-delivery-status"] = await _deliver(state, client.webhook_url, webhook)
    return Response(webhook, media_type="application/json", headers=headers)


async def _deliver(state: FakeClickPesa, url: str, webhook: bytes) -> str:
    async with httpx.AsyncClient(
        transport=state.webhook_transport, timeout=WEBHOOK_TIMEOUT_SECONDS, trust_env=False
    ) as http:
        try:
            response = await http.post(
                url, content=webhook, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            return f"error: {type(exc).__name__}"
    return str(response.status_code)


async def control_expire_tokens(request: Request) -> Response:
    state = _state(request)
    expired = len(state.tokens)
    state.tokens.clear()
    return JSONResponse({"expired": expired})


def create_clickpesa_fake(
    token_lifetime_seconds: float = 3600.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The fake as an ASGI app; its state is `app.state.clickpesa` (a `FakeClickPesa`).
    `webhook_transport` lets a test deliver webhooks in-process instead of over the network."""
    # Imported here: the payouts module builds on this one's helpers.
    from hazina.testing.clickpesa_payouts_fake import FakePayouts, payout_routes

    app = Starlette(
        routes=[
            *payout_routes(),
            Route("/generate-token", generate_token, methods=["POST"]),
            Route("/payments/initiate-ussd-push-request", initiate_ussd_push, methods=["POST"]),
            Route("/checkout-link/generate-checkout-url", generate_checkout_url, methods=["POST"]),
            Route("/payments/{reference}", query_payment, methods=["GET"]),
            Route("/checkout/{reference}", checkout_page, methods=["GET"], name="checkout_page"),
            Route("/_control/clients", control_register_client, methods=["POST"]),
            Route(
                "/_control/payments/{reference}/complete",
                control_complete_payment,
                methods=["POST"],
            ),
            Route("/_control/expire-tokens", control_expire_tokens, methods=["POST"]),
        ]
    )
    app.state.clickpesa = FakeClickPesa(token_lifetime_seconds, clock, webhook_transport)
    app.state.clickpesa_payouts = FakePayouts()
    return app


def serve_clickpesa_fake(
    host: str = "127.0.0.1", port: int = 8765, token_lifetime_seconds: float = 3600.0
) -> None:
    """Run the fake standalone until interrupted (`hazina fake clickpesa --port …`)."""
    uvicorn.run(create_clickpesa_fake(token_lifetime_seconds), host=host, port=port)
