"""The ClickPesa fake's payouts (providers.md 3.4, 3.5): preview, create (mobile money and bank),
the bank list, the status query and the `PAYOUT …` webhooks, field for field.

Tests drive it through `/_control/payouts/…`: settle a payout (SUCCESS, FAILED, REFUNDED,
REVERSED; the last two send their webhook), send a payout's webhook again, hold every create's
answer for a while after it disbursed (to kill the caller in between), and read how many times
each reference was disbursed, which must never exceed one.

Where the documentation is silent the fake invents, and says so here: the fee is 4.71 % of the
amount (the documented sample's 47.1 on 1000), carried by the merchant; the bank list items are
`{"name", "value", "bic"}`; an unknown `bic` answers 400 "Invalid bank bic".
"""

import asyncio
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hazina.domain.checksums import compute_checksum
from hazina.testing.clickpesa_fake import (
    FakeClient,
    _authorised,
    _body_bytes,
    _deliver,
    _error,
    _json_body,
    _now,
    _state,
    signed_request,
)

_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]+")
_PHONE = re.compile(r"255\d{9}")
FEE_RATE = Decimal("0.0471")
BANKS = (
    {"name": "EQUITY BANK TANZANIA LIMITED", "value": "EQBLTZTZ", "bic": "EQBLTZTZ"},
    {"name": "CRDB BANK PLC", "value": "CORUTZTZ", "bic": "CORUTZTZ"},
    {"name": "NMB BANK PLC", "value": "NMIBTZTZ", "bic": "NMIBTZTZ"},
    {"name": "AMANA BANK LIMITED", "value": "AMNNTZTZ", "bic": "AMNNTZTZ"},
)
_BANK_NAMES = {bank["bic"]: bank["name"] for bank in BANKS}
_EVENTS = {"REFUNDED": "PAYOUT REFUNDED", "REVERSED": "PAYOUT REVERSED"}


@dataclass(slots=True)
class FakePayout:
    client_id: str
    reference: str
    id: str
    amount: Decimal  # what the recipient receives
    fee: Decimal
    currency: str
    channel: str  # "MOBILE MONEY" | "BANK TRANSFER"
    channel_provider: str
    beneficiary: dict[str, Any]
    transfer_type: str | None
    status: str = "AUTHORIZED"
    notes: str | None = None
    refund: dict[str, Any] | None = None
    reverse: dict[str, Any] | None = None
    created_at: str = ""
    updated_at: str = ""

    def record(self) -> dict[str, Any]:
        """The status query's item (and the webhook's `data`)."""
        item: dict[str, Any] = {
            "updatedAt": self.updated_at,
            "createdAt": self.created_at,
            "id": self.id,
            "orderReference": self.reference,
            "amount": f"{self.amount + self.fee:.2f}",
            "currency": self.currency,
            "fee": f"{self.fee:.2f}",
            "status": self.status,
            "channel": self.channel,
            "channelProvider": self.channel_provider,
            "settlementType": self.transfer_type,
            "notes": self.notes,
            "beneficiary": self.beneficiary,
        }
        if self.refund is not None:
            item["refund"] = self.refund
        if self.reverse is not None:
            item["reverse"] = self.reverse
        return item


@dataclass(slots=True)
class FakePayouts:
    payouts: dict[str, FakePayout] = field(default_factory=dict)
    # Every successful create per reference: a correct client never makes one twice.
    disbursements: dict[str, int] = field(default_factory=dict)
    # Seconds a create waits after disbursing before it answers.
    hold_seconds: float = 0.0


def payouts_of(request: Request) -> FakePayouts:
    state: FakePayouts = request.app.state.clickpesa_payouts
    return state


def _fee(amount: Decimal) -> Decimal:
    return (amount * FEE_RATE).quantize(Decimal("0.01"))


async def _validated(
    request: Request, *, bank: bool
) -> tuple[FakeClient, dict[str, Any]] | Response:
    """The authorised client and its body, or the error ClickPesa answers."""
    checked = await signed_request(request)
    if isinstance(checked, Response):
        return checked
    client, body = checked
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
        return _error(400, "Amount is required")
    if body.get("currency") not in ("TZS", "USD"):
        return _error(400, "Currency must be TZS or USD")
    reference = body.get("orderReference")
    if not isinstance(reference, str) or not _ALPHANUMERIC.fullmatch(reference):
        return _error(
            400,
            "Invalid Order Reference, should only contain alphanumeric characters "
            "and cannot be blank",
        )
    if reference in payouts_of(request).payouts or reference in _state(request).orders:
        return _error(
            409, f"Order reference {reference} already used: Create a different reference"
        )
    if bank:
        if body.get("bic") not in _BANK_NAMES:
            return _error(400, "Invalid bank bic")
        if body.get("transferType") not in ("ACH", "RTGS"):
            return _error(400, "Transfer type must be ACH or RTGS")
        if not isinstance(body.get("accountNumber"), str) or not body["accountNumber"]:
            return _error(400, "Account number is required")
    else:
        phone = body.get("phoneNumber")
        if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
            return _error(400, "Invalid / unsupported phone number")
    return client, body


def _number(value: Decimal) -> float | int:
    """ClickPesa's preview amounts are JSON numbers (`1047.1`)."""
    return int(value) if value == value.to_integral_value() else float(value)


async def _preview(request: Request, *, bank: bool) -> Response:
    checked = await _validated(request, bank=bank)
    if isinstance(checked, Response):
        return checked
    _, body = checked
    amount = Decimal(str(body["amount"]))
    fee = _fee(amount)
    answer: dict[str, Any] = {
        "amount": _number(amount + fee),
        "balance": 10_000_000,
        "channelProvider": _BANK_NAMES[body["bic"]] if bank else "TIGO PESA",
        "fee": _number(fee),
        "order": {
            "amount": _number(amount),
            "currency": body["currency"],
            "id": body["orderReference"],
        },
        "payoutFeeBearer": "merchant",
    }
    if bank:
        answer |= {
            "receiver": {"accountNumber": body["accountNumber"]},
            "transferType": body["transferType"],
        }
    else:
        answer["receiver"] = {
            "accountName": "John Doe",
            "accountNumber": body["phoneNumber"],
            "accountCurrency": "TZS",
            "amount": _number(amount),
        }
    return JSONResponse(answer)


async def preview_mobile_money(request: Request) -> Response:
    return await _preview(request, bank=False)


async def preview_bank(request: Request) -> Response:
    return await _preview(request, bank=True)


async def _create(request: Request, *, bank: bool) -> Response:
    checked = await _validated(request, bank=bank)
    if isinstance(checked, Response):
        return checked
    client, body = checked
    state = payouts_of(request)
    amount = Decimal(str(body["amount"]))
    now = _now()
    reference = body["orderReference"]
    if bank:
        beneficiary = {
            "accountNumber": body["accountNumber"],
            "accountName": body.get("accountName") or "",
            "swiftNumber": body["bic"],
            "routingNumber": None,
            "beneficiaryMobileNumber": None,
            "beneficiaryEmail": None,
        }
    else:
        beneficiary = {
            "accountNumber": body["phoneNumber"],
            "accountName": "John Doe",
            "amount": f"{amount:.2f}",
        }
    payout = FakePayout(
        client_id=client.client_id,
        reference=reference,
        id=f"{reference[:8]}PO{secrets.token_hex(3).upper()}",
        amount=amount,
        fee=_fee(amount),
        currency=body["currency"],
        channel="BANK TRANSFER" if bank else "MOBILE MONEY",
        channel_provider=_BANK_NAMES[body["bic"]] if bank else "MPESA TANZANIA",
        beneficiary=beneficiary,
        transfer_type=body.get("transferType") if bank else None,
        created_at=now,
        updated_at=now,
    )
    state.payouts[reference] = payout
    state.disbursements[reference] = state.disbursements.get(reference, 0) + 1
    if state.hold_seconds:
        await asyncio.sleep(state.hold_seconds)
    answer = payout.record() | {
        "order": {"amount": f"{amount:.2f}", "currency": payout.currency},
        "clientId": client.client_id,
    }
    # ClickPesa announces the disbursement once it has answered (its sample says SUCCESS).
    initiated = _webhook(client, "PAYOUT INITIATED", payout.record() | {"status": "SUCCESS"})
    return JSONResponse(answer, background=_sending(request, client, initiated))


async def create_mobile_money(request: Request) -> Response:
    return await _create(request, bank=False)


async def create_bank(request: Request) -> Response:
    return await _create(request, bank=True)


async def query_payout(request: Request) -> Response:
    client = _authorised(request)
    if client is None:
        return _error(401, "Unauthorized")
    reference = request.path_params["reference"]
    payout = payouts_of(request).payouts.get(reference)
    if payout is None or payout.client_id != client.client_id:
        return _error(404, f"Invalid or missing payout: {reference}")
    return JSONResponse([payout.record()])


async def list_banks(request: Request) -> Response:
    if _authorised(request) is None:
        return _error(401, "Unauthorized")
    return JSONResponse(list(BANKS))


def _webhook(client: FakeClient, event: str, data: dict[str, Any]) -> bytes:
    payload: dict[str, Any] = {"event": event, "data": data}
    if client.checksum_key is not None:
        payload["checksum"] = compute_checksum(client.checksum_key, payload)
    return _body_bytes(payload)


def _sending(request: Request, client: FakeClient, webhook: bytes) -> BackgroundTask | None:
    if not client.webhook_url:
        return None
    return BackgroundTask(_deliver, _state(request), client.webhook_url, webhook)


async def control_settle(request: Request) -> Response:
    """Body: `status` (SUCCESS, FAILED, REFUNDED, REVERSED), `message`, `deliver` (default
    true: REFUNDED and REVERSED send their webhook; ClickPesa has no event for the others).
    Answers the webhook's bytes, or the record when none is sent."""
    payout = payouts_of(request).payouts.get(request.path_params["reference"])
    if payout is None:
        return _error(404, "Invalid or missing payout")
    body = await _json_body(request) or {}
    status = str(body.get("status", "SUCCESS")).upper()
    if status not in ("SUCCESS", "FAILED", "REFUNDED", "REVERSED"):
        return _error(400, "status must be SUCCESS, FAILED, REFUNDED or REVERSED")
    message = body.get("message")
    payout.status, payout.updated_at = status, _now()
    if status == "FAILED":
        payout.notes = message or "Recipient wallet not registered"
    elif status == "REFUNDED":
        payout.refund = {"message": message or "Refunded by the bank", "refundedAt": _now()}
    elif status == "REVERSED":
        payout.reverse = {
            "message": message or "Reversed by the mobile network",
            "reversedAt": _now(),
            "reversedWithFee": True,
        }
    return await _send_event(request, payout, deliver=bool(body.get("deliver", True)))


async def control_deliver(request: Request) -> Response:
    """Send the payout's current event again (providers repeat themselves)."""
    payout = payouts_of(request).payouts.get(request.path_params["reference"])
    if payout is None:
        return _error(404, "Invalid or missing payout")
    return await _send_event(request, payout, deliver=True)


async def _send_event(request: Request, payout: FakePayout, *, deliver: bool) -> Response:
    event = _EVENTS.get(payout.status)
    if event is None:
        return JSONResponse(payout.record(), headers={"x-fake-delivery-status": "not-sent"})
    client = _state(request).clients[payout.client_id]
    webhook = _webhook(client, event, payout.record())
    status = "not-sent"
    if deliver and client.webhook_url:
        status = await _deliver(_state(request), client.webhook_url, webhook)
    return Response(
        webhook, media_type="application/json", headers={"x-fake-delivery-status": status}
    )


async def control_read(request: Request) -> Response:
    reference = request.path_params["reference"]
    state = payouts_of(request)
    payout = state.payouts.get(reference)
    return JSONResponse(
        {
            "disbursements": state.disbursements.get(reference, 0),
            "status": None if payout is None else payout.status,
        }
    )


async def control_hold(request: Request) -> Response:
    body = await _json_body(request) or {}
    payouts_of(request).hold_seconds = float(body.get("seconds", 0))
    return JSONResponse({"hold_seconds": payouts_of(request).hold_seconds})


def payout_routes() -> list[Route]:
    return [
        Route("/payouts/preview-mobile-money-payout", preview_mobile_money, methods=["POST"]),
        Route("/payouts/create-mobile-money-payout", create_mobile_money, methods=["POST"]),
        Route("/payouts/preview-bank-payout", preview_bank, methods=["POST"]),
        Route("/payouts/create-bank-payout", create_bank, methods=["POST"]),
        Route("/payouts/{reference}", query_payout, methods=["GET"]),
        Route("/list/banks", list_banks, methods=["GET"]),
        Route("/_control/payouts/hold", control_hold, methods=["POST"]),
        Route("/_control/payouts/{reference}", control_read, methods=["GET"]),
        Route("/_control/payouts/{reference}/settle", control_settle, methods=["POST"]),
        Route("/_control/payouts/{reference}/deliver", control_deliver, methods=["POST"]),
    ]
