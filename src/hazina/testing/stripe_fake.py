"""A stateful fake of the Stripe API as an ASGI app (providers.md section 1).

Stripe's side, as the `stripe` package calls it: Bearer auth with `sk_test_…`/`sk_live_…` keys,
form-encoded bodies (`a[b][c]=v`), `POST/GET /v1/checkout/sessions`, `POST
/v1/checkout/sessions/{id}/expire`, `POST /v1/payment_intents`, `GET /v1/payment_intents/{id}`,
`POST /v1/payment_intents/{id}/cancel`, `POST /v1/payment_intents/{id}/capture` (sessions made
with `payment_intent_data[capture_method]=manual` leave their intent `requires_capture`),
`POST /v1/refunds`, `GET /v1/refunds/{id}`, Stripe's error body, and `Idempotency-Key` replays.
Every object belongs to the secret key that made it.

The customer's and the network's side are control calls under `/_control/` (not Stripe's):

- `POST /_control/webhook_endpoints` `{"api_key", "url", "secret"}`: where that account's events go
  and the `whsec_…` secret they are signed with (`url` may be null: sign, never send).
- `POST /_control/checkout/sessions/{id}/complete` `{"payment_status": "paid"|"unpaid"}`,
  `…/fail` `{"message"}`, `…/expire`, `POST /_control/refunds/{id}/fail`.
- `POST /_control/payment_intents/{id}/confirm` `{"outcome": "paid"|"declined", "message"}`: the
  customer confirmed a PaymentIntent on the merchant's page (Stripe Elements); events
  `payment_intent.succeeded` (or `amount_capturable_updated` for manual capture) and
  `charge.succeeded`, or `payment_intent.payment_failed` and `charge.failed`.
- `POST /_control/payment_intents/{id}/expire_authorization`: an uncaptured authorisation
  expires (`payment_intent.canceled`, `cancellation_reason: automatic`).
- `POST /_control/refunds/hold` `{"hold": true|false}`: new refunds stay `pending` (a slow bank);
  `POST /_control/refunds/{id}/succeed` settles one.
- `POST /_control/events/{id}/deliver`: send a recorded event again (Stripe's retries, duplicates).
- `GET /_control/events?type=…`: the event log; `POST /_control/deliveries/flush` waits for the
  events sent in the background (refunds and API expiries, which Stripe sends after answering).
- `POST /_control/failures` `{"status", "count"}`: the next `count` API requests fail that way.

Control calls that make events take `"deliver": false` to only sign them; either way the answer
lists each event's exact body and `Stripe-Signature` header, so a test can deliver, drop or repeat.

The customer's side is also a page, so a demo needs no control calls: a session's `url`
(`{checkout_base}/c/pay/{id}`) serves a hosted checkout with three plain forms. Pay completes the
session as paid and sends its events, then redirects (303) to `success_url` (`{CHECKOUT_SESSION_ID}`
substituted); Decline card fails it (it stays open, the page shows the decline); Cancel changes
nothing and redirects to `cancel_url`.
"""

import asyncio
import base64
import html
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from hazina.testing import stripe_intents as intents
from hazina.testing import stripe_refunds as refunds
from hazina.testing.stripe_params import StripeApiError, decode_form
from hazina.testing.stripe_state import Endpoint, SignedEvent, StripeState, new_id

_KEY = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9_]+")
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization"
    " header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
)
DELIVERY_TIMEOUT_SECONDS = 10.0

Handler = Callable[[Request, str, dict[str, Any]], Awaitable[Any]]

# Currencies Stripe counts in whole units (https://docs.stripe.com/currencies#zero-decimal).
_ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
})  # fmt: skip
_THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f6f9fc;color:#30313d;margin:0}}
main{{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 2px 8px #0002}}
.fake{{font-size:.8rem;color:#8792a2}} .amount{{font-size:2rem;font-weight:600;margin:.5rem 0}}
ul{{padding-left:1.2rem}} form{{margin:.5rem 0}} button{{width:100%;padding:.7rem;font-size:1rem;
border-radius:6px;border:1px solid #ccc;background:#fff;cursor:pointer}}
button.pay{{background:#635bff;color:#fff;border:0}}
.declined{{background:#fde8e8;color:#a00;padding:.7rem;border-radius:6px}}
</style></head>
<body><main><p class="fake">Stripe fake: test mode, no real money</p>
{body}
</main></body></html>
"""


def _json(content: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(content, indent=2).encode(),
        status,
        media_type="application/json",
        headers={"Request-Id": new_id("req_", 14)},
    )


def _authenticate(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            credential = base64.b64decode(credential).decode().split(":", 1)[0]
        except ValueError:
            credential = ""
    elif scheme.lower() != "bearer":
        credential = ""
    if not credential:
        raise StripeApiError(401, _NO_KEY)
    if not _KEY.fullmatch(credential):
        # Stripe masks the key it refuses; so does the fake, so it never echoes a secret.
        raise StripeApiError(
            401, f"Invalid API Key provided: {credential[:8]}****{credential[-4:]}"
        )
    return credential


class StripeFake:
    """The app's state and handlers; `create_stripe_fake` wires them to routes."""

    def __init__(self, webhook_transport: httpx.AsyncBaseTransport | None) -> None:
        self.state = StripeState()
        self._transport = webhook_transport
        self._background: set[asyncio.Task[None]] = set()

    # --- Stripe's API -------------------------------------------------------------------------

    def api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                owner = _authenticate(request)
                if self.state.failures:
                    status = self.state.failures.pop(0)
                    raise StripeApiError(
                        status,
                        "An unknown error occurred (injected by the fake).",
                        kind="api_error",
                    )
                body = (await request.body()).decode()
                params = decode_form(parse_qsl(request.url.query) + parse_qsl(body))
                key = request.headers.get("idempotency-key")
                if request.method != "POST" or not key:
                    return _json(await handler(request, owner, params))
                return await self._idempotent(request, owner, key, params, handler)
            except StripeApiError as exc:
                return _json(exc.body(), exc.status)

        return endpoint

    async def _idempotent(
        self, request: Request, owner: str, key: str, params: dict[str, Any], handler: Handler
    ) -> Response:
        """Same key and same request: the first answer again. Same key, other request: 400."""
        stored = self.state.replies.get((owner, key))
        path = request.url.path
        if stored is not None:
            method, first_path, first_params, status, content = stored
            if (method, first_path, first_params) != (request.method, path, params):
                raise StripeApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they"
                    f" were first used with. Try using a key other than '{key}' if you meant to"
                    " execute a different request.",
                    kind="idempotency_error",
                )
            response = Response(content, status, media_type="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            response.headers["Request-Id"] = new_id("req_", 14)
            return response
        try:
            response = _json(await handler(request, owner, params))
        except StripeApiError as exc:
            # Stripe keeps the outcome of a request that ran, errors included.
            response = _json(exc.body(), exc.status)
        self.state.replies[(owner, key)] = (
            request.method,
            path,
            params,
            response.status_code,
            bytes(response.body),
        )
        return response

    async def create_session(self, _: Request, owner: str, params: dict[str, Any]) -> Any:
        return self.state.create_session(owner, params)

    async def retrieve_session(self, request: Request, owner: str, _: dict[str, Any]) -> Any:
        return self.state.get(owner, request.path_params["id"], "checkout.session")

    async def expire_session(self, request: Request, owner: str, _: dict[str, Any]) -> Any:
        session, event = self.state.expire_session(owner, request.path_params["id"])
        self._send_later([event])
        return session

    async def create_intent(self, _: Request, owner: str, params: dict[str, Any]) -> Any:
        return intents.create_intent(self.state, owner, params)

    async def cancel_intent(self, request: Request, owner: str, params: dict[str, Any]) -> Any:
        intent, event = intents.cancel_intent(self.state, owner, request.path_params["id"], params)
        self._send_later([event])
        return intent

    async def retrieve_intent(self, request: Request, owner: str, _: dict[str, Any]) -> Any:
        return self.state.get(owner, request.path_params["id"], "payment_intent")

    async def capture_intent(self, request: Request, owner: str, params: dict[str, Any]) -> Any:
        intent, events = intents.capture_intent(
            self.state, owner, request.path_params["id"], params
        )
        self._send_later(events)
        return intent

    async def create_refund(self, _: Request, owner: str, params: dict[str, Any]) -> Any:
        refund, events = refunds.create_refund(self.state, owner, params)
        self._send_later(events)
        return refund

    async def retrieve_refund(self, request: Request, owner: str, _: dict[str, Any]) -> Any:
        return self.state.get(owner, request.path_params["id"], "refund")

    # --- Delivery ----------------------------------------------------------------------------

    async def deliver(self, signed: SignedEvent) -> None:
        if signed.url is None or signed.signature is None:
            signed.delivery_error = "no webhook endpoint registered for this account"
            return
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signed.signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=DELIVERY_TIMEOUT_SECONDS, trust_env=False
            ) as client:
                response = await client.post(signed.url, content=signed.body, headers=headers)
            signed.delivery_status, signed.delivery_error = response.status_code, None
        except httpx.HTTPError as exc:
            signed.delivery_status, signed.delivery_error = None, type(exc).__name__

    def _send_later(self, events: list[SignedEvent]) -> None:
        """Stripe sends after it answered; waiting here could deadlock a caller that is itself
        the receiver."""

        async def send() -> None:
            for signed in events:
                await self.deliver(signed)

        task = asyncio.get_running_loop().create_task(send())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def flush(self) -> None:
        while self._background:
            await asyncio.gather(*list(self._background))

    # --- The hosted checkout page --------------------------------------------------------------

    def _session(self, request: Request) -> tuple[str, dict[str, Any]]:
        return self.state.find_session(request.path_params["id"])

    async def checkout_page(self, request: Request) -> Response:
        try:
            owner, session = self._session(request)
        except StripeApiError:
            return _page("Not found", "<h1>No such checkout session</h1>", 404)
        if session["status"] != "open":
            return _closed_page(session)
        declined = None
        if session["payment_intent"] is not None:
            intent = self.state.get(owner, session["payment_intent"], "payment_intent")
            error = intent.get("last_payment_error")
            if intent["status"] == "requires_payment_method" and error:
                declined = str(error.get("message") or "Your card was declined.")
        return _open_page(session, self.state.line_items(session["id"]), declined)

    async def checkout_pay(self, request: Request) -> Response:
        try:
            owner, session = self._session(request)
        except StripeApiError:
            return _page("Not found", "<h1>No such checkout session</h1>", 404)
        if session["status"] != "open":
            return _closed_page(session, 409)
        session, events = self.state.complete_session(owner, session["id"], paid=True)
        for signed in events:
            await self.deliver(signed)
        target = _success_url(session)
        if target is None:
            return _page("Paid", "<h1>Payment complete</h1><p>You can close this page.</p>")
        return RedirectResponse(target, 303)

    async def checkout_decline(self, request: Request) -> Response:
        try:
            owner, session = self._session(request)
        except StripeApiError:
            return _page("Not found", "<h1>No such checkout session</h1>", 404)
        if session["status"] != "open":
            return _closed_page(session, 409)
        _, events = self.state.fail_session(owner, session["id"], "Your card was declined.")
        for signed in events:
            await self.deliver(signed)
        # Back to the page (post/redirect/get): it shows the decline and offers another try.
        return RedirectResponse(request.url_for("checkout_page", id=session["id"]).path, 303)

    async def checkout_cancel(self, request: Request) -> Response:
        try:
            _, session = self._session(request)
        except StripeApiError:
            return _page("Not found", "<h1>No such checkout session</h1>", 404)
        target = _web_url(session.get("cancel_url"))
        if target is None:
            return _page("Cancelled", "<h1>Checkout cancelled</h1><p>Nothing was charged.</p>")
        return RedirectResponse(target, 303)

    # --- Control -----------------------------------------------------------------------------

    def control(
        self, handler: Callable[[Request, dict[str, Any]], Awaitable[Any]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                raw = await request.body()
                payload = json.loads(raw) if raw.strip() else {}
                if not isinstance(payload, dict):
                    raise StripeApiError(400, "The control body must be a JSON object.")
                return _json(await handler(request, payload))
            except json.JSONDecodeError:
                return _json(StripeApiError(400, "The control body is not JSON.").body(), 400)
            except StripeApiError as exc:
                return _json(exc.body(), exc.status)

        return endpoint

    async def _answer(
        self, found: dict[str, Any], events: list[SignedEvent], payload: dict[str, Any]
    ) -> dict[str, Any]:
        if payload.get("deliver", True):
            for signed in events:
                await self.deliver(signed)
        return {"object": found, "events": [signed.public() for signed in events]}

    async def register_endpoint(self, _: Request, payload: dict[str, Any]) -> Any:
        api_key, secret, url = payload.get("api_key"), payload.get("secret"), payload.get("url")
        if not isinstance(api_key, str) or not _KEY.fullmatch(api_key):
            raise StripeApiError(400, "api_key must be a secret key", param="api_key")
        if not isinstance(secret, str) or not secret:
            raise StripeApiError(400, "secret is required", param="secret")
        if url is not None and not isinstance(url, str):
            raise StripeApiError(400, "url must be a string or null", param="url")
        self.state.endpoints[api_key] = Endpoint(url, secret)
        return {"object": "webhook_endpoint", "url": url, "status": "enabled"}

    async def complete_session(self, request: Request, payload: dict[str, Any]) -> Any:
        session_id = request.path_params["id"]
        paid = payload.get("payment_status", "paid")
        if paid not in ("paid", "unpaid"):
            raise StripeApiError(400, "payment_status is paid or unpaid", param="payment_status")
        owner = self.state.owner_of(session_id)
        session, events = self.state.complete_session(owner, session_id, paid == "paid")
        return await self._answer(session, events, payload)

    async def fail_session(self, request: Request, payload: dict[str, Any]) -> Any:
        session_id = request.path_params["id"]
        message = str(payload.get("message", "Your card was declined."))
        owner = self.state.owner_of(session_id)
        session, events = self.state.fail_session(owner, session_id, message)
        return await self._answer(session, events, payload)

    async def expire_session_control(self, request: Request, payload: dict[str, Any]) -> Any:
        session_id = request.path_params["id"]
        session, event = self.state.expire_session(self.state.owner_of(session_id), session_id)
        return await self._answer(session, [event], payload)

    async def fail_refund(self, request: Request, payload: dict[str, Any]) -> Any:
        refund_id = request.path_params["id"]
        refund, event = refunds.fail_refund(self.state, self.state.owner_of(refund_id), refund_id)
        return await self._answer(refund, [event], payload)

    async def succeed_refund(self, request: Request, payload: dict[str, Any]) -> Any:
        refund_id = request.path_params["id"]
        refund, event = refunds.succeed_refund(
            self.state, self.state.owner_of(refund_id), refund_id
        )
        return await self._answer(refund, [event], payload)

    async def hold_refunds(self, _: Request, payload: dict[str, Any]) -> Any:
        self.state.hold_refunds = bool(payload.get("hold", True))
        return {"hold": self.state.hold_refunds}

    async def confirm_intent(self, request: Request, payload: dict[str, Any]) -> Any:
        intent_id = request.path_params["id"]
        outcome = payload.get("outcome", "paid")
        if outcome not in ("paid", "declined"):
            raise StripeApiError(400, "outcome is paid or declined", param="outcome")
        message = str(payload.get("message", "Your card was declined."))
        intent, events = intents.confirm_intent(
            self.state,
            self.state.owner_of(intent_id),
            intent_id,
            paid=outcome == "paid",
            message=message,
        )
        return await self._answer(intent, events, payload)

    async def expire_authorization(self, request: Request, payload: dict[str, Any]) -> Any:
        intent_id = request.path_params["id"]
        intent, event = intents.expire_authorization(
            self.state, self.state.owner_of(intent_id), intent_id
        )
        return await self._answer(intent, [event], payload)

    async def redeliver(self, request: Request, _: dict[str, Any]) -> Any:
        event_id = request.path_params["id"]
        signed = next((e for e in self.state.events if e.event["id"] == event_id), None)
        if signed is None:
            raise StripeApiError(404, f"No such event: '{event_id}'", code="resource_missing")
        await self.deliver(signed)
        return signed.public()

    async def list_events(self, request: Request, _: dict[str, Any]) -> Any:
        wanted = request.query_params.get("type")
        events = [e.public() for e in self.state.events if wanted in (None, e.event["type"])]
        return {"object": "list", "data": events}

    async def flush_deliveries(self, _: Request, __: dict[str, Any]) -> Any:
        await self.flush()
        return {"pending": 0}

    async def inject_failures(self, _: Request, payload: dict[str, Any]) -> Any:
        status, count = payload.get("status", 500), payload.get("count", 1)
        if not isinstance(status, int) or not isinstance(count, int) or count < 0:
            raise StripeApiError(400, "status and count are integers")
        self.state.failures.extend([status] * count)
        return {"pending": len(self.state.failures)}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """`body` is markup built here: every value in it went through `html.escape`."""
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status)


def _money(amount: int, currency: str) -> str:
    if currency in _ZERO_DECIMAL:
        figure = f"{amount:,}"
    elif currency in _THREE_DECIMAL:
        figure = f"{amount / 1000:,.3f}"
    else:
        figure = f"{amount / 100:,.2f}"
    return f"{figure} {currency.upper()}"


def _web_url(url: Any) -> str | None:
    """Only http(s) addresses become links or redirects: never `javascript:` and the like."""
    if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
        return url
    return None


def _success_url(session: dict[str, Any]) -> str | None:
    url = _web_url(session.get("success_url"))
    return None if url is None else url.replace("{CHECKOUT_SESSION_ID}", session["id"])


def _open_page(
    session: dict[str, Any], lines: list[tuple[str, int]], declined: str | None
) -> HTMLResponse:
    esc = html.escape
    base = f"/c/pay/{esc(session['id'])}"
    items = "".join(
        f"<li>{esc(name)}{f' × {quantity}' if quantity != 1 else ''}</li>"
        for name, quantity in lines
    )
    notice = f'<p class="declined" role="alert">{esc(declined)} Try again.</p>' if declined else ""
    body = (
        f"<h1>Pay</h1><ul>{items}</ul>"
        f'<p class="amount">{esc(_money(session["amount_total"], session["currency"]))}</p>'
        f"{notice}"
        f'<form method="post" action="{base}/pay"><button class="pay">Pay</button></form>'
        f'<form method="post" action="{base}/decline"><button>Decline card</button></form>'
        f'<form method="post" action="{base}/cancel"><button>Cancel</button></form>'
    )
    return _page("Checkout", body)


def _closed_page(session: dict[str, Any], status: int = 200) -> HTMLResponse:
    complete = session["status"] == "complete"
    target = _success_url(session) if complete else _web_url(session.get("cancel_url"))
    heading = "This checkout is already complete" if complete else "This checkout has expired"
    link = f'<p><a href="{html.escape(target)}">Return to the merchant</a></p>' if target else ""
    return _page("Checkout", f"<h1>{heading}</h1>{link}", status)


def create_stripe_fake(
    *,
    checkout_base: str = "https://checkout.stripe.com",
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """A new fake with empty state (`app.state.fake` holds it).

    `webhook_transport` lets tests deliver events to an in-process ASGI app."""
    fake = StripeFake(webhook_transport)
    fake.state.checkout_base = checkout_base.rstrip("/")
    api, control = fake.api, fake.control
    routes = [
        Route("/v1/checkout/sessions", api(fake.create_session), methods=["POST"]),
        Route("/v1/checkout/sessions/{id}", api(fake.retrieve_session), methods=["GET"]),
        Route("/v1/checkout/sessions/{id}/expire", api(fake.expire_session), methods=["POST"]),
        Route("/v1/payment_intents", api(fake.create_intent), methods=["POST"]),
        Route("/v1/payment_intents/{id}", api(fake.retrieve_intent), methods=["GET"]),
        Route("/v1/payment_intents/{id}/cancel", api(fake.cancel_intent), methods=["POST"]),
        Route("/v1/payment_intents/{id}/capture", api(fake.capture_intent), methods=["POST"]),
        Route("/v1/refunds", api(fake.create_refund), methods=["POST"]),
        Route("/v1/refunds/{id}", api(fake.retrieve_refund), methods=["GET"]),
        Route("/c/pay/{id}", fake.checkout_page, methods=["GET"], name="checkout_page"),
        Route("/c/pay/{id}/pay", fake.checkout_pay, methods=["POST"]),
        Route("/c/pay/{id}/decline", fake.checkout_decline, methods=["POST"]),
        Route("/c/pay/{id}/cancel", fake.checkout_cancel, methods=["POST"]),
        Route("/_control/webhook_endpoints", control(fake.register_endpoint), methods=["POST"]),
        Route(
            "/_control/checkout/sessions/{id}/complete",
            control(fake.complete_session),
            methods=["POST"],
        ),
        Route(
            "/_control/checkout/sessions/{id}/fail", control(fake.fail_session), methods=["POST"]
        ),
        Route(
            "/_control/checkout/sessions/{id}/expire",
            control(fake.expire_session_control),
            methods=["POST"],
        ),
        Route("/_control/refunds/hold", control(fake.hold_refunds), methods=["POST"]),
        Route("/_control/refunds/{id}/fail", control(fake.fail_refund), methods=["POST"]),
        Route("/_control/refunds/{id}/succeed", control(fake.succeed_refund), methods=["POST"]),
        Route(
            "/_control/payment_intents/{id}/confirm",
            control(fake.confirm_intent),
            methods=["POST"],
        ),
        Route(
            "/_control/payment_intents/{id}/expire_authorization",
            control(fake.expire_authorization),
            methods=["POST"],
        ),
        Route("/_control/events", control(fake.list_events), methods=["GET"]),
        Route("/_control/events/{id}/deliver", control(fake.redeliver), methods=["POST"]),
        Route("/_control/deliveries/flush", control(fake.flush_deliveries), methods=["POST"]),
        Route("/_control/failures", control(fake.inject_failures), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.fake = fake
    return app


def run_stripe_fake(
    host: str = "127.0.0.1",
    port: int = 12111,
    *,
    api_key: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    checkout_base: str | None = None,
) -> None:
    """Serve a fake on its own (`hazina fake stripe --port …`) until interrupted.

    `api_key`, `webhook_url` and `webhook_secret` (all or none) register that account's webhook
    endpoint up front, as `POST /_control/webhook_endpoints` would. Sessions' `url`s point at this
    server's own checkout page unless `checkout_base` says otherwise."""
    endpoint = webhook_endpoint(api_key, webhook_url, webhook_secret)
    if checkout_base is None:
        # A wildcard bind is no address a browser can open: send it to the loopback instead.
        shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)  # noqa: S104
        shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
        checkout_base = f"http://{shown}:{port}"
    app = create_stripe_fake(checkout_base=checkout_base)
    if endpoint is not None:
        app.state.fake.state.endpoints[endpoint[0]] = endpoint[1]
    uvicorn.run(app, host=host, port=port, log_level="info")


def webhook_endpoint(
    api_key: str | None, url: str | None, secret: str | None
) -> tuple[str, Endpoint] | None:
    """The endpoint to register for `api_key`, or None when none is given; ValueError when only
    some are given or one is malformed."""
    if api_key is None and url is None and secret is None:
        return None
    if api_key is None or url is None or secret is None:
        raise ValueError("give the API key, the webhook URL and the webhook secret together")
    if not _KEY.fullmatch(api_key):
        raise ValueError("the API key must be a secret key: sk_test_… or sk_live_…")
    if _web_url(url) is None:
        raise ValueError("the webhook URL must be an http:// or https:// URL")
    if not secret:
        raise ValueError("the webhook secret must not be empty")
    return api_key, Endpoint(url, secret)
