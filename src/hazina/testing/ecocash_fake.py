"""A fake EcoCash Open API: C2B instant payments, status lookups and refunds (providers.md 5).

Section 5 rests on community code, so the fake invents what it leaves open, and says so here:
the answers' bodies (`{"status", "sourceReference", "ecocashReference", "amount", "currency"}`),
the statuses (`PENDING`, `SUCCESS`, `FAILED`; refunds `COMPLETED`), 401 for an unknown
`X-API-KEY`, 404 for an unknown lookup. The community sandbox number `263774222475` pays at once
(the customer "entered the PIN"); `263771111111` pays at the first lookup after `pay_after`
seconds; any other number stays `PENDING` until `/_control/transactions/{sourceReference}`
(body `{"status": "SUCCESS"}` or `"FAILED"`). Refunds answer `COMPLETED` until
`/_control/refunds` (body `{"status": "PENDING"}`) says otherwise; EcoCash has no documented
refund lookup, so neither has the fake. API keys come from `/_control/keys` or
`hazina fake ecocash --api-key`. It never imports `hazina.providers`.
"""

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SANDBOX_NUMBER = "263774222475"
DELAYED_NUMBER = "263771111111"
ENVIRONMENTS = ("sandbox", "live")


@dataclass(slots=True)
class FakeCharge:
    api_key: str
    msisdn: str
    amount: Any
    currency: str
    reference: str
    status: str
    created: float
    ecocash_reference: str = field(default_factory=lambda: f"MP{secrets.token_hex(6).upper()}")
    refunded: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class FakeEcoCash:
    pay_after: float
    clock: Callable[[], float]
    api_keys: set[str] = field(default_factory=set)
    charges: dict[str, FakeCharge] = field(default_factory=dict)  # by sourceReference
    refund_status: str = "COMPLETED"  # what every refund call answers


def _state(request: Request) -> FakeEcoCash:
    state: FakeEcoCash = request.app.state.ecocash
    return state


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


async def _checked(request: Request) -> tuple[str, dict[str, Any]] | JSONResponse:
    """The caller's API key and JSON body, or the error EcoCash would answer."""
    if request.path_params["environment"] not in ENVIRONMENTS:
        return _error(404, "Unknown environment")
    api_key = request.headers.get("x-api-key", "")
    if api_key not in _state(request).api_keys:
        return _error(401, "Invalid API key")
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _error(400, "Body is not JSON")
    if not isinstance(body, dict):
        return _error(400, "Body is not a JSON object")
    return api_key, body


def _view(charge: FakeCharge) -> dict[str, Any]:
    return {
        "status": charge.status,
        "sourceReference": charge.reference,
        "ecocashReference": charge.ecocash_reference,
        "customerMsisdn": charge.msisdn,
        "amount": charge.amount,
        "currency": charge.currency,
    }


async def c2b_payment(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, JSONResponse):
        return checked
    api_key, body = checked
    msisdn, reference = body.get("customerMsisdn"), body.get("sourceReference")
    if not isinstance(msisdn, str) or not msisdn.startswith("263") or len(msisdn) != 12:
        return _error(400, "Invalid customerMsisdn")
    if not isinstance(body.get("amount"), int | float) or body.get("currency") not in (
        "USD",
        "ZWG",
    ):
        return _error(400, "Invalid amount or currency")
    if not isinstance(reference, str) or not reference:
        return _error(400, "Invalid sourceReference")
    state = _state(request)
    if reference in state.charges:  # a retried start: the same charge, not a second push
        return JSONResponse(_view(state.charges[reference]))
    status = "SUCCESS" if msisdn == SANDBOX_NUMBER else "PENDING"
    charge = FakeCharge(
        api_key, msisdn, body["amount"], body["currency"], reference, status, state.clock()
    )
    state.charges[reference] = charge
    return JSONResponse(_view(charge))


async def c2b_lookup(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, JSONResponse):
        return checked
    api_key, body = checked
    state = _state(request)
    charge = state.charges.get(str(body.get("sourceReference")))
    if (
        charge is None
        or charge.api_key != api_key
        or charge.msisdn != body.get("sourceMobileNumber")
    ):
        return _error(404, "Transaction not found")
    waited = state.clock() - charge.created
    if charge.msisdn == DELAYED_NUMBER and charge.status == "PENDING" and waited >= state.pay_after:
        charge.status = "SUCCESS"
    return JSONResponse(_view(charge))


async def c2b_refund(request: Request) -> Response:
    checked = await _checked(request)
    if isinstance(checked, JSONResponse):
        return checked
    api_key, body = checked
    original = body.get("origionalEcocashTransactionReference")
    charge = next(
        (c for c in _state(request).charges.values() if c.ecocash_reference == original), None
    )
    if charge is None or charge.api_key != api_key or charge.status != "SUCCESS":
        return _error(400, "Original transaction not found or not successful")
    charge.refunded.append(body)
    return JSONResponse(
        {
            "status": _state(request).refund_status,
            "ecocashReference": f"RF{secrets.token_hex(6).upper()}",
            "refundCorelator": body.get("refundCorelator"),
        }
    )


async def control_keys(request: Request) -> Response:
    api_key = str((await request.json())["api_key"])
    _state(request).api_keys.add(api_key)
    return JSONResponse({"api_key": "registered"}, status_code=201)


async def control_settle(request: Request) -> Response:
    charge = _state(request).charges.get(request.path_params["reference"])
    if charge is None:
        return _error(404, "Transaction not found")
    charge.status = str((await request.json()).get("status", "SUCCESS")).upper()
    return JSONResponse(_view(charge))


async def control_refunds(request: Request) -> Response:
    state = _state(request)
    state.refund_status = str((await request.json()).get("status", "COMPLETED")).upper()
    return JSONResponse({"status": state.refund_status})


async def control_charges(request: Request) -> Response:
    charges = _state(request).charges.values()
    return JSONResponse([{**_view(c), "refunds": c.refunded} for c in charges])


def create_ecocash_fake(
    *,
    api_keys: tuple[str, ...] = (),
    pay_after: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The fake as an ASGI app; its state is `app.state.ecocash` (a `FakeEcoCash`)."""
    app = Starlette(
        routes=[
            Route("/api/v2/payment/instant/c2b/{environment}", c2b_payment, methods=["POST"]),
            Route("/api/v1/transaction/c2b/status/{environment}", c2b_lookup, methods=["POST"]),
            Route("/api/v2/refund/instant/c2b/{environment}", c2b_refund, methods=["POST"]),
            Route("/_control/keys", control_keys, methods=["POST"]),
            Route("/_control/refunds", control_refunds, methods=["POST"]),
            Route("/_control/transactions", control_charges, methods=["GET"]),
            Route("/_control/transactions/{reference}", control_settle, methods=["POST"]),
        ]
    )
    app.state.ecocash = FakeEcoCash(pay_after, clock, set(api_keys))
    return app


def serve_ecocash_fake(host: str, port: int, api_keys: tuple[str, ...], pay_after: float) -> None:
    """Run the fake standalone until interrupted (`hazina fake ecocash --port …`)."""
    uvicorn.run(create_ecocash_fake(api_keys=api_keys, pay_after=pay_after), host=host, port=port)
