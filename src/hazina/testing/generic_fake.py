"""A payment website that speaks Hazina's generic gateway protocol, as an ASGI app.

The customer's side is a page: a gateway registered in Hazina with the redirect URL template
`http://HOST:PORT/pay?ref={payment_id}&amount={amount}&currency={currency}&return={return_url}`
sends the customer here. Pay (or Decline) posts seed 004's payload to the webhook URL, signed
`X-Hazina-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">` with the gateway's signing
secret, then redirects (303) to the return URL. The form carries the amount, so a test can
post another one (a gateway reporting a different sum).

Control calls (not part of any gateway's API):

- `POST /_control/gateway` `{"webhook_url", "signing_secret"}`: where notifications go and
  what signs them (Hazina generates the secret, so it is set after the gateway is registered).
- `GET /_control/notifications`: every notification sent: its exact body, its signature
  header and the answer (status and JSON).
"""

import html
import json
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hazina.domain.gateways import SIGNATURE_HEADER, sign

DELIVERY_TIMEOUT_SECONDS = 10.0
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f4f4f0;margin:0}}
main{{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px}}
.fake{{font-size:.8rem;color:#777}} .amount{{font-size:2rem;font-weight:600}}
button{{width:100%;padding:.7rem;margin:.3rem 0;font-size:1rem}}
</style></head>
<body><main><p class="fake">Generic gateway fake: no real money</p>{body}</main></body></html>
"""


@dataclass(slots=True)
class Notification:
    body: bytes
    signature: str
    status: int | None = None
    answer: Any = None
    error: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "body": self.body.decode(),
            "signature": self.signature,
            "status": self.status,
            "answer": self.answer,
            "error": self.error,
        }


@dataclass(slots=True)
class GatewayState:
    webhook_url: str | None = None
    signing_secret: str | None = None
    notifications: list[Notification] = field(default_factory=list)


def payload_body(
    gateway_payment_id: str, transaction_id: str, status: str, amount: str, currency: str
) -> bytes:
    """Seed 004's payload, the amount a JSON decimal number written as given (`42.00`)."""
    figure = Decimal(amount)  # refuses anything but a number before it reaches the JSON
    return (
        f'{{"payment_id": {json.dumps(gateway_payment_id)}, '
        f'"transaction_id": {json.dumps(transaction_id)}, "status": {json.dumps(status)}, '
        f'"amount": {figure}, "currency": {json.dumps(currency)}, "metadata": {{}}}}'
    ).encode()


class GenericGatewayFake:
    def __init__(self, transport: httpx.AsyncBaseTransport | None) -> None:
        self.state = GatewayState()
        self._transport = transport

    async def page(self, request: Request) -> Response:
        query = request.query_params
        ref, amount, currency = query.get("ref"), query.get("amount"), query.get("currency")
        if not ref or not amount or not currency:
            return _page("Bad request", "<h1>ref, amount and currency are required</h1>", 400)
        esc = html.escape
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{esc(value)}">'
            for name, value in (
                ("ref", ref),
                ("amount", amount),
                ("currency", currency),
                ("return", query.get("return", "")),
            )
        )
        body = (
            f"<h1>Pay</h1><p>Reference {esc(ref)}</p>"
            f'<p class="amount">{esc(amount)} {esc(currency)}</p>'
            f'<form method="post" action="/pay">{hidden}'
            '<button name="status" value="completed">Pay</button>'
            '<button name="status" value="failed">Decline</button></form>'
        )
        return _page("Pay", body)

    async def pay(self, request: Request) -> Response:
        form = await request.form()
        values = {name: str(form.get(name, "")) for name in ("ref", "amount", "currency")}
        status = str(form.get("status", "completed"))
        if status not in ("completed", "failed") or not all(values.values()):
            return _page("Bad request", "<h1>Incomplete payment form</h1>", 400)
        try:
            body = payload_body(
                f"gw_{secrets.token_hex(8)}",
                values["ref"],
                status,
                values["amount"],
                values["currency"],
            )
        except InvalidOperation:
            return _page("Bad request", "<h1>amount is not a number</h1>", 400)
        notification = await self.notify(body)
        target = str(form.get("return", ""))
        if target.lower().startswith(("http://", "https://")):
            return RedirectResponse(target, 303)
        outcome = "confirmed" if notification.status == 200 else "not confirmed"
        return _page("Done", f"<h1>Payment {html.escape(outcome)}</h1>")

    async def notify(self, body: bytes) -> Notification:
        """Sign and post one notification now: the customer waits for the merchant's word."""
        if self.state.signing_secret is None or self.state.webhook_url is None:
            notification = Notification(body, "")
            notification.error = "no webhook URL and signing secret configured"
            self.state.notifications.append(notification)
            return notification
        signature = sign(body, self.state.signing_secret, int(time.time()))
        notification = Notification(body, signature)
        self.state.notifications.append(notification)
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=DELIVERY_TIMEOUT_SECONDS, trust_env=False
            ) as client:
                response = await client.post(
                    self.state.webhook_url,
                    content=body,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
                )
            notification.status = response.status_code
            notification.answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            notification.error = type(exc).__name__
        return notification

    async def configure(self, request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, 400)
        url, secret = payload.get("webhook_url"), payload.get("signing_secret")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return JSONResponse({"error": "webhook_url must be an http(s) URL"}, 400)
        if not isinstance(secret, str) or not secret:
            return JSONResponse({"error": "signing_secret is required"}, 400)
        self.state.webhook_url, self.state.signing_secret = url, secret
        return JSONResponse({"webhook_url": url})

    async def notifications(self, _: Request) -> Response:
        return JSONResponse({"data": [n.public() for n in self.state.notifications]})


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """`body` is markup built here: every value in it went through `html.escape`."""
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status)


def create_generic_fake(*, transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """A new gateway with empty state (`app.state.fake` holds it); `transport` lets tests
    deliver to an in-process ASGI app."""
    fake = GenericGatewayFake(transport)
    app = Starlette(
        routes=[
            Route("/pay", fake.page, methods=["GET"]),
            Route("/pay", fake.pay, methods=["POST"]),
            Route("/_control/gateway", fake.configure, methods=["POST"]),
            Route("/_control/notifications", fake.notifications, methods=["GET"]),
        ]
    )
    app.state.fake = fake
    return app


def serve_generic_fake(host: str, port: int) -> None:
    """`hazina fake generic --port …` until interrupted."""
    uvicorn.run(create_generic_fake(), host=host, port=port, log_level="info")
