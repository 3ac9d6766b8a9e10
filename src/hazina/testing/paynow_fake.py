"""A fake Paynow: an ASGI app speaking providers.md section 4, field for field.

Integrations (id, key, login email) are registered through `/_control/integrations` (or
`hazina fake paynow --integration ID:KEY:EMAIL`). Web transactions get a hosted pay page
(`/Payment/ConfirmPayment/{paynowreference}`: Pay or Cancel); express transactions follow
Paynow's test numbers (`0771111111` paid after 5 s, `0772222222` paid after 30 s,
`0773333333` cancelled after 30 s, `0774444444` refused at once: insufficient balance; any other
number waits for `/_control`), InnBucks ones wait for their code to be paid
(`/_control/innbucks/{code}/pay`). Every status change POSTs the status update to the
transaction's `resulturl` with a correct hash, unless `/_control/ipn` says to lose them.
`time_scale` multiplies the test numbers' delays (0 settles them at once).

Where Paynow's documentation is silent the fake invents, and says so here: the error texts
(`Invalid hash`, `Invalid authemail`, `Duplicate reference`), the InnBucks code (9 digits) and
its 10-minute life, and the express answer's field order (status, instructions, pollurl,
paynowreference, [authorizationcode, authorizationexpires], hash). It never imports
`hazina.providers`; it shares only the pure hash rule with the adapter.
"""

import asyncio
import html
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hazina.domain.paynow_hash import hash_matches, paynow_hash

IPN_TIMEOUT_SECONDS = 10.0
_AMOUNT = re.compile(r"\d+\.\d{2}")
_PHONE = re.compile(r"07\d{8}")
_HARARE = timezone(timedelta(hours=2))
# Paynow's test numbers: (status reached, seconds after the start).
TEST_NUMBERS: dict[str, tuple[str, float]] = {
    "0771111111": ("Paid", 5.0),
    "0772222222": ("Paid", 30.0),
    "0773333333": ("Cancelled", 30.0),
}
INSUFFICIENT_BALANCE = "0774444444"
EXPRESS_METHODS = ("ecocash", "onemoney", "innbucks")


@dataclass(slots=True)
class FakeIntegration:
    integration_id: str
    key: str
    email: str


@dataclass(slots=True)
class FakeTransaction:
    integration_id: str
    reference: str
    paynow_reference: str
    guid: str
    amount: str
    result_url: str
    return_url: str
    poll_url: str
    method: str | None = None
    phone: str | None = None
    trace: str | None = None
    status: str = "Created"
    authorization_code: str | None = None


@dataclass(slots=True)
class FakePaynow:
    time_scale: float
    ipn_transport: httpx.AsyncBaseTransport | None
    integrations: dict[str, FakeIntegration] = field(default_factory=dict)
    transactions: dict[str, FakeTransaction] = field(default_factory=dict)  # by paynowreference
    lose_ipns: bool = False
    # What each status update's POST answered ("200", "lost", "error: …"), in order.
    ipn_outcomes: list[str] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    next_reference: int = 9510


def _state(request: Request) -> FakePaynow:
    state: FakePaynow = request.app.state.paynow
    return state


def _form(fields: list[tuple[str, str]]) -> Response:
    return Response(urlencode(fields), media_type="application/x-www-form-urlencoded")


def _error(message: str) -> Response:
    return _form([("status", "Error"), ("error", message)])  # errors carry no hash


def _signed(fields: list[tuple[str, str]], key: str) -> list[tuple[str, str]]:
    return [*fields, ("hash", paynow_hash(fields, key))]


def status_fields(transaction: FakeTransaction, key: str) -> list[tuple[str, str]]:
    """A status update or poll answer, in the documented order."""
    return _signed(
        [
            ("reference", transaction.reference),
            ("paynowreference", transaction.paynow_reference),
            ("amount", transaction.amount),
            ("status", transaction.status),
            ("pollurl", transaction.poll_url),
        ],
        key,
    )


async def _initiation(
    request: Request, *, express: bool
) -> tuple[FakeIntegration, dict[str, str]] | Response:
    """The verified request, or Paynow's error answer."""
    pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    fields = {name.lower(): value for name, value in pairs}
    integration = _state(request).integrations.get(fields.get("id", ""))
    if integration is None:
        return _error("invalid id.")
    if not hash_matches(pairs, integration.key):
        return _error("Invalid hash")
    if not _AMOUNT.fullmatch(fields.get("amount", "")):
        return _error("Invalid amount field")
    if fields.get("status") != "Message" or not fields.get("reference"):
        return _error("Invalid request")
    if express and fields.get("authemail") != integration.email:
        return _error("Invalid authemail: in test mode it must be the merchant's login email")
    duplicate = any(
        t.integration_id == integration.integration_id and t.reference == fields["reference"]
        for t in _state(request).transactions.values()
    )
    if duplicate:
        return _error("Duplicate reference")
    return integration, fields


def _open(
    request: Request, integration: FakeIntegration, fields: dict[str, str]
) -> FakeTransaction:
    state = _state(request)
    state.next_reference += 1
    guid = str(uuid.uuid4())
    base = str(request.base_url).rstrip("/")
    transaction = FakeTransaction(
        integration_id=integration.integration_id,
        reference=fields["reference"],
        paynow_reference=str(state.next_reference),
        guid=guid,
        amount=fields["amount"],
        result_url=fields.get("resulturl", ""),
        return_url=fields.get("returnurl", ""),
        poll_url=f"{base}/Interface/CheckPayment/?guid={guid}",
        trace=fields.get("merchanttrace") or None,
    )
    state.transactions[transaction.paynow_reference] = transaction
    return transaction


async def initiate_transaction(request: Request) -> Response:
    checked = await _initiation(request, express=False)
    if isinstance(checked, Response):
        return checked
    integration, fields = checked
    transaction = _open(request, integration, fields)
    base = str(request.base_url).rstrip("/")
    answer = [
        ("status", "Ok"),
        ("browserurl", f"{base}/Payment/ConfirmPayment/{transaction.paynow_reference}"),
        ("pollurl", transaction.poll_url),
        ("paynowreference", transaction.paynow_reference),
    ]
    return _form(_signed(answer, integration.key))


async def remote_transaction(request: Request) -> Response:
    checked = await _initiation(request, express=True)
    if isinstance(checked, Response):
        return checked
    integration, fields = checked
    method = fields.get("method", "")
    if method not in EXPRESS_METHODS:
        return _error(f"Invalid method: {method}")
    phone = fields.get("phone", "")
    if method != "innbucks" and not _PHONE.fullmatch(phone):
        return _error("Invalid phone number")
    if phone == INSUFFICIENT_BALANCE:
        return _error("Insufficient balance")
    state = _state(request)
    transaction = _open(request, integration, fields)
    transaction.method, transaction.phone, transaction.status = method, phone or None, "Sent"
    answer = [
        ("status", "Ok"),
        ("instructions", _instructions(method, transaction.amount)),
        ("pollurl", transaction.poll_url),
        ("paynowreference", transaction.paynow_reference),
    ]
    if method == "innbucks":
        transaction.authorization_code = "".join(secrets.choice("0123456789") for _ in range(9))
        expires = datetime.now(_HARARE) + timedelta(minutes=10)
        answer += [
            ("authorizationcode", transaction.authorization_code),
            ("authorizationexpires", expires.strftime("%-d-%b-%Y %H:%M")),
        ]
    elif phone in TEST_NUMBERS:
        status, delay = TEST_NUMBERS[phone]
        _spawn(state, _settle_later(state, transaction, status, delay * state.time_scale))
    return _form(_signed(answer, integration.key))


def _instructions(method: str, amount: str) -> str:
    if method == "innbucks":
        return f"Pay {amount} in the InnBucks app with the code shown, or scan the QR code."
    name = "EcoCash" if method == "ecocash" else "OneMoney"
    return f"Dial the {name} prompt on your phone and enter your PIN to pay {amount}."


def _spawn(state: FakePaynow, work: Any) -> None:
    task = asyncio.get_running_loop().create_task(work)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


async def _settle_later(
    state: FakePaynow, transaction: FakeTransaction, status: str, delay: float
) -> None:
    await asyncio.sleep(delay)
    await settle(state, transaction, status)


async def settle(state: FakePaynow, transaction: FakeTransaction, status: str) -> str:
    """Move the transaction to `status` and send its status update; what the POST answered."""
    transaction.status = status
    key = state.integrations[transaction.integration_id].key
    body = urlencode(status_fields(transaction, key))
    if state.lose_ipns or not transaction.result_url:
        outcome = "lost"
    else:
        async with httpx.AsyncClient(
            transport=state.ipn_transport, timeout=IPN_TIMEOUT_SECONDS, trust_env=False
        ) as http:
            try:
                response = await http.post(
                    transaction.result_url,
                    content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                outcome = str(response.status_code)
            except httpx.HTTPError as exc:
                outcome = f"error: {type(exc).__name__}"
    state.ipn_outcomes.append(outcome)
    return outcome


async def check_payment(request: Request) -> Response:
    state = _state(request)
    guid = request.query_params.get("guid", "")
    transaction = next((t for t in state.transactions.values() if t.guid == guid), None)
    if transaction is None:
        return _error("Invalid guid")
    return _form(status_fields(transaction, state.integrations[transaction.integration_id].key))


async def trace(request: Request) -> Response:
    state = _state(request)
    pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    fields = {name.lower(): value for name, value in pairs}
    integration = state.integrations.get(fields.get("id", ""))
    if integration is None or not hash_matches(pairs, integration.key):
        return _error("Trace failed")
    transaction = next(
        (
            t
            for t in state.transactions.values()
            if t.integration_id == integration.integration_id
            and t.trace == fields.get("merchanttrace")
        ),
        None,
    )
    if transaction is None:
        return _form(_signed([("status", "NotFound")], integration.key))
    return _form(status_fields(transaction, integration.key))


async def confirm_page(request: Request) -> Response:
    """The hosted page a web transaction's customer is sent to: Pay, or Cancel."""
    transaction = _state(request).transactions.get(request.path_params["reference"])
    if transaction is None:
        return HTMLResponse("<h1>Unknown transaction</h1>", status_code=404)
    if request.method == "POST":
        choice = dict(parse_qsl((await request.body()).decode())).get("action")
        status = "Paid" if choice == "pay" else "Cancelled"
        await settle(_state(request), transaction, status)
        return RedirectResponse(transaction.return_url, status_code=303)
    amount = html.escape(transaction.amount)
    return HTMLResponse(
        "<!doctype html><title>Paynow (fake)</title>"
        f"<h1>Pay {amount} to reference {html.escape(transaction.reference)}</h1>"
        '<form method="post"><button name="action" value="pay" data-test-id="paynow-pay">'
        "Pay</button>"
        '<button name="action" value="cancel" data-test-id="paynow-cancel">Cancel</button>'
        "</form>"
    )


# -- control ----------------------------------------------------------------------------


async def control_integrations(request: Request) -> Response:
    body = await request.json()
    integration = FakeIntegration(str(body["id"]), str(body["key"]), str(body.get("email", "")))
    _state(request).integrations[integration.integration_id] = integration
    return JSONResponse({"id": integration.integration_id}, status_code=201)


def _transaction_view(transaction: FakeTransaction) -> dict[str, Any]:
    return {
        "reference": transaction.reference,
        "paynowreference": transaction.paynow_reference,
        "status": transaction.status,
        "amount": transaction.amount,
        "method": transaction.method,
        "phone": transaction.phone,
        "authorizationcode": transaction.authorization_code,
        "pollurl": transaction.poll_url,
    }


async def control_transactions(request: Request) -> Response:
    views = [_transaction_view(t) for t in _state(request).transactions.values()]
    return JSONResponse(views)


async def control_settle(request: Request) -> Response:
    """Body `{"status": "Paid"}` (any Paynow status): moves the transaction and sends the
    status update; answers the update's form body and what the POST answered."""
    state = _state(request)
    transaction = state.transactions.get(request.path_params["reference"])
    if transaction is None:
        return JSONResponse({"error": "unknown paynowreference"}, status_code=404)
    status = str((await request.json()).get("status", "Paid"))
    outcome = await settle(state, transaction, status)
    key = state.integrations[transaction.integration_id].key
    return JSONResponse({"ipn": urlencode(status_fields(transaction, key)), "delivery": outcome})


async def control_pay_innbucks(request: Request) -> Response:
    state = _state(request)
    code = request.path_params["code"]
    transaction = next(
        (t for t in state.transactions.values() if t.authorization_code == code), None
    )
    if transaction is None:
        return JSONResponse({"error": "unknown InnBucks code"}, status_code=404)
    outcome = await settle(state, transaction, "Paid")
    return JSONResponse({"paynowreference": transaction.paynow_reference, "delivery": outcome})


async def control_ipn(request: Request) -> Response:
    """Body `{"lose": true}`: status updates are not sent (polling must find the change)."""
    state = _state(request)
    state.lose_ipns = bool((await request.json()).get("lose"))
    return JSONResponse({"lose": state.lose_ipns, "outcomes": state.ipn_outcomes})


def create_paynow_fake(
    *,
    time_scale: float = 1.0,
    ipn_transport: httpx.AsyncBaseTransport | None = None,
    integrations: tuple[FakeIntegration, ...] = (),
) -> Starlette:
    """The fake as an ASGI app; its state is `app.state.paynow` (a `FakePaynow`).
    `ipn_transport` lets a test deliver status updates in-process."""
    app = Starlette(
        routes=[
            Route("/interface/initiatetransaction", initiate_transaction, methods=["POST"]),
            Route("/interface/remotetransaction", remote_transaction, methods=["POST"]),
            Route("/interface/trace", trace, methods=["POST"]),
            Route("/Interface/CheckPayment/", check_payment, methods=["POST"]),
            Route("/Payment/ConfirmPayment/{reference}", confirm_page, methods=["GET", "POST"]),
            Route("/_control/integrations", control_integrations, methods=["POST"]),
            Route("/_control/transactions", control_transactions, methods=["GET"]),
            Route("/_control/transactions/{reference}", control_settle, methods=["POST"]),
            Route("/_control/innbucks/{code}/pay", control_pay_innbucks, methods=["POST"]),
            Route("/_control/ipn", control_ipn, methods=["POST"]),
        ]
    )
    state = FakePaynow(time_scale, ipn_transport)
    state.integrations.update({i.integration_id: i for i in integrations})
    app.state.paynow = state
    return app


def parse_integration(text: str) -> FakeIntegration:
    """`ID:KEY:EMAIL`, as `hazina fake paynow --integration` takes it."""
    integration_id, _, rest = text.partition(":")
    key, _, email = rest.partition(":")
    if not integration_id or not key or not email:
        raise ValueError("an integration is ID:KEY:EMAIL")
    return FakeIntegration(integration_id, key, email)


def serve_paynow_fake(
    host: str, port: int, integrations: tuple[FakeIntegration, ...], time_scale: float
) -> None:
    """Run the fake standalone until interrupted (`hazina fake paynow --port …`)."""
    app = create_paynow_fake(time_scale=time_scale, integrations=integrations)
    uvicorn.run(app, host=host, port=port)
