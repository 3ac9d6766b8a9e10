"""A fake WhatsApp Cloud API (Meta Graph): an ASGI app speaking providers.md section 6.

`POST /{version}/{phone_number_id}/messages` takes text and template messages with the account's
bearer token and answers as Graph does; then, like Meta, it POSTs signed status notifications
(`X-Hub-Signature-256`: HMAC-SHA256 of the raw body with the app secret) to the account's
webhook URL: `sent`, `delivered`, `read` — or `failed` for an undeliverable recipient.

The recipient's last four digits choose an error, so tests need no control calls for them:
- `…0001`: accepted, then a `failed` status with 131026 (undeliverable, asynchronous);
- `…0047`: text refused with 131047 (outside the 24 h window); templates pass;
- `…0429`: 130429 (throughput limit) for the first two sends, then accepted;
- `…0430`: 130429 every time;
- `…2000`: 132000 (template parameter count mismatch);
- `…2001`: 132001 (template does not exist in that language).
A wrong bearer token answers 401 with code 190. `/_control/…` registers accounts, lists what
was sent, and sends a status or an incoming customer message on demand.
It never imports `hazina.providers`: an independent reading of the wire format.
"""

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WEBHOOK_TIMEOUT_SECONDS = 10.0
DEFAULT_STATUSES = ("sent", "delivered", "read")
_ERRORS: dict[str, tuple[int, int, str]] = {
    # suffix → (HTTP status, Graph code, message)
    "0047": (400, 131047, "Re-engagement message: more than 24 hours since the customer replied"),
    "0429": (429, 130429, "Rate limit hit: cloud API message throughput has been reached"),
    "0430": (429, 130429, "Rate limit hit: cloud API message throughput has been reached"),
    "2000": (400, 132000, "Number of parameters does not match the expected number of params"),
    "2001": (404, 132001, "Template name does not exist in the translation"),
}
# How many sends to a `…0429` recipient are refused before one is accepted.
PASSING_RATE_LIMITS = 2


@dataclass(slots=True)
class FakeAccount:
    phone_number_id: str
    access_token: str
    app_secret: str
    webhook_url: str | None


@dataclass(slots=True)
class FakeWhatsApp:
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    # Every message accepted, in order: the request body plus its id and account.
    messages: list[dict[str, Any]] = field(default_factory=list)
    refusals: dict[str, int] = field(default_factory=dict)
    webhook_transport: httpx.AsyncBaseTransport | None = None


def _state(request: Request) -> FakeWhatsApp:
    state: FakeWhatsApp = request.app.state.whatsapp
    return state


def _graph_error(status: int, code: int, message: str) -> JSONResponse:
    body = {
        "error": {
            "message": f"(#{code}) {message}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": secrets.token_urlsafe(12),
        }
    }
    return JSONResponse(body, status_code=status)


def _signed(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def notification(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    """A `whatsapp_business_account` notification carrying `value` (statuses or messages)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA" + phone_number_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def status_item(
    message_id: str, status: str, recipient: str, error: tuple[int, str] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if error is not None:
        code, text = error
        item["errors"] = [
            {"code": code, "title": text, "message": text, "error_data": {"details": text}}
        ]
    return item


async def post_notification(
    state: FakeWhatsApp, account: FakeAccount, payload: dict[str, Any], *, retries: int = 0
) -> int | None:
    """POST one signed notification as Meta would, sending it again (0.5 s, 1 s, 2 s …) while
    the receiver does not answer 2xx, up to `retries` times; the last status, None if
    unreachable."""
    status = await _post_once(state, account, payload)
    for attempt in range(retries):
        if status is not None and 200 <= status < 300:
            break
        await asyncio.sleep(0.5 * 2**attempt)
        status = await _post_once(state, account, payload)
    return status


async def _post_once(
    state: FakeWhatsApp, account: FakeAccount, payload: dict[str, Any]
) -> int | None:
    if account.webhook_url is None:
        return None
    # Meta escapes non-ASCII as \\uXXXX: the signature covers exactly these bytes.
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": _signed(account.app_secret, body),
    }
    async with httpx.AsyncClient(
        transport=state.webhook_transport, timeout=WEBHOOK_TIMEOUT_SECONDS
    ) as client:
        try:
            response = await client.post(account.webhook_url, content=body, headers=headers)
        except httpx.HTTPError:
            return None
    return response.status_code


async def _report(state: FakeWhatsApp, account: FakeAccount, message_id: str, to: str) -> None:
    """The statuses of an accepted message, one notification each, in order."""
    if not state.statuses:
        return  # statuses only on demand (/_control/messages/{id}/status)
    if to.endswith("0001"):
        error = (131026, "Message undeliverable")
        items = [status_item(message_id, "failed", to, error)]
    else:
        items = [status_item(message_id, status, to) for status in state.statuses]
    for item in items:
        await asyncio.sleep(0.05)  # separate notifications, as Meta sends them
        body = notification(account.phone_number_id, {"statuses": [item]})
        # The receiver may not know the message yet (its send still committing): Meta retries.
        await post_notification(state, account, body, retries=5)


async def send_message(request: Request) -> Response:
    state = _state(request)
    account = state.accounts.get(request.path_params["phone_number_id"])
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if account is None or not secrets.compare_digest(token, account.access_token):
        return _graph_error(401, 190, "Error validating access token: Session has expired")
    try:
        body = await request.json()
    except ValueError:
        return _graph_error(400, 100, "Invalid parameter: body is not JSON")
    to = body.get("to") if isinstance(body, dict) else None
    kind = body.get("type") if isinstance(body, dict) else None
    if body.get("messaging_product") != "whatsapp" or not isinstance(to, str) or not to.isdigit():
        return _graph_error(400, 100, "Invalid parameter: messaging_product or to")
    if kind not in ("text", "template") or not isinstance(body.get(kind), dict):
        return _graph_error(400, 100, "Invalid parameter: type")
    suffix = to[-4:]
    if suffix in _ERRORS and not (suffix == "0047" and kind == "template"):
        status, code, message = _ERRORS[suffix]
        refused = state.refusals.get(to, 0)
        if suffix != "0429" or refused < PASSING_RATE_LIMITS:
            state.refusals[to] = refused + 1
            return _graph_error(status, code, message)
    message_id = "wamid." + secrets.token_urlsafe(24)
    state.messages.append({"id": message_id, "phone_number_id": account.phone_number_id, **body})
    answer = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": message_id, "message_status": "accepted"}],
    }
    task = BackgroundTask(_report, state, account, message_id, to)
    return JSONResponse(answer, background=task)


async def control_register(request: Request) -> Response:
    body = await request.json()
    account = FakeAccount(
        phone_number_id=str(body["phone_number_id"]),
        access_token=str(body["access_token"]),
        app_secret=str(body["app_secret"]),
        webhook_url=body.get("webhook_url"),
    )
    _state(request).accounts[account.phone_number_id] = account
    return JSONResponse({"registered": account.phone_number_id})


async def control_messages(request: Request) -> Response:
    return JSONResponse({"data": _state(request).messages})


async def control_status(request: Request) -> Response:
    """Send one status notification for a message now (`{"status": "read"}`, or
    `{"status": "failed", "code": 131026, "message": "…"}`)."""
    state = _state(request)
    message_id = request.path_params["message_id"]
    sent = next((m for m in state.messages if m["id"] == message_id), None)
    if sent is None:
        return JSONResponse({"error": "unknown message"}, status_code=404)
    body = await request.json()
    account = state.accounts[sent["phone_number_id"]]
    error = (int(body["code"]), str(body.get("message", "failed"))) if "code" in body else None
    item = status_item(message_id, str(body["status"]), sent["to"], error)
    code = await post_notification(
        state, account, notification(account.phone_number_id, {"statuses": [item]})
    )
    return JSONResponse({"webhook_status": code})


async def control_incoming(request: Request) -> Response:
    """A customer writes to the business (`{"phone_number_id", "from", "text"}`): it opens the
    24 h window for free-form text."""
    state = _state(request)
    body = await request.json()
    account = state.accounts[str(body["phone_number_id"])]
    message = {
        "from": str(body["from"]),
        "id": "wamid." + secrets.token_urlsafe(24),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": str(body.get("text", "Hello"))},
    }
    value = {"contacts": [{"wa_id": message["from"]}], "messages": [message]}
    code = await post_notification(state, account, notification(account.phone_number_id, value))
    return JSONResponse({"webhook_status": code})


def create_whatsapp_fake(
    statuses: tuple[str, ...] = DEFAULT_STATUSES,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    app = Starlette(
        routes=[
            Route("/{version}/{phone_number_id}/messages", send_message, methods=["POST"]),
            Route("/_control/accounts", control_register, methods=["POST"]),
            Route("/_control/messages", control_messages, methods=["GET"]),
            Route("/_control/messages/{message_id}/status", control_status, methods=["POST"]),
            Route("/_control/incoming", control_incoming, methods=["POST"]),
        ]
    )
    app.state.whatsapp = FakeWhatsApp(statuses=statuses, webhook_transport=webhook_transport)
    return app


def serve_whatsapp_fake(
    host: str = "127.0.0.1", port: int = 8767, account: FakeAccount | None = None
) -> None:
    """Run the fake standalone until interrupted (`hazina fake whatsapp --port …`), with
    `account` registered (more through `POST /_control/accounts`)."""
    app = create_whatsapp_fake()
    if account is not None:
        state: FakeWhatsApp = app.state.whatsapp
        state.accounts[account.phone_number_id] = account
    uvicorn.run(app, host=host, port=port)
