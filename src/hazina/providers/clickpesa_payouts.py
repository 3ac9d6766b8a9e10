"""ClickPesa payouts (providers.md 3.4): preview, create (mobile money or bank), the bank list and
the status query, over the collections adapter's client and token cache.

`orderReference` is the payout id without its underscore: ClickPesa refuses a reference it has
seen (409), so a create that reaches it twice can never disburse twice, and Hazina asks
`GET /payouts/{orderReference}` before it ever sends a payout whose first start was uncertain.
"""

import json
from decimal import Decimal
from typing import Any

from hazina.domain import ids, money
from hazina.domain.payouts import Bank, BankAccount, MobileMoney, PayoutQuote, PayoutStart
from hazina.domain.providers import ProviderAccess, ProviderEvent, ProviderFailure
from hazina.providers.clickpesa import ClickPesaProvider, message_of
from hazina.providers.clickpesa_payout_records import PAYOUT_STATUS, latest_record, payout_report

# What a payout may be sent in; the recipient always receives TZS.
CURRENCIES = ("TZS", "USD")


def _whole_amount(start: PayoutStart) -> int:
    """ClickPesa's payout amounts are JSON numbers; Hazina sends whole units only, so no float
    ever carries an amount."""
    if start.currency not in CURRENCIES:
        raise ProviderFailure(f"ClickPesa pays out in {' or '.join(CURRENCIES)} only")
    major = Decimal(money.to_major(start.amount, start.currency))
    if major != major.to_integral_value():
        raise ProviderFailure(
            f"ClickPesa pays out whole {start.currency} only: amount {start.amount} is "
            f"{major} {start.currency} (no cents)"
        )
    return int(major)


def _body(start: PayoutStart) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": _whole_amount(start),
        "currency": start.currency,
        "orderReference": ids.alphanumeric_reference(start.payout_id),
    }
    destination = start.destination
    if isinstance(destination, MobileMoney):
        body["phoneNumber"] = destination.phone.removeprefix("+")
    else:
        body |= {
            "accountNumber": destination.account_number,
            "bic": destination.bic,
            "transferType": destination.transfer_type.value,
        }
    return body


def _path(start: PayoutStart, verb: str) -> str:
    kind = "mobile-money" if isinstance(start.destination, MobileMoney) else "bank"
    return f"/payouts/{verb}-{kind}-payout"


def _decoded(content: bytes) -> Any:
    """Numbers as Decimal: `47.1` stays 47.1, never a binary float."""
    try:
        return json.loads(content, parse_float=Decimal)
    except ValueError as exc:
        raise ProviderFailure("ClickPesa answered with something that is not JSON") from exc


class ClickPesaPayouts:
    """Implements services.ports.PayoutProvider for ClickPesa."""

    name = "clickpesa"
    whole_units = True

    def __init__(self, collections: ClickPesaProvider) -> None:
        # One HTTP client and one token cache per account for both halves of ClickPesa.
        self._api = collections

    async def preview(self, access: ProviderAccess, start: PayoutStart) -> PayoutQuote:
        body = _body(start)
        response = await self._api.call(
            access, "POST", _path(start, "preview"), self._api.signed(access, body)
        )
        self._api.raise_for_status(response)
        answer = _decoded(response.content)
        if not isinstance(answer, dict):
            raise ProviderFailure("ClickPesa answered the payout preview without an object")
        try:
            # `amount` is the total taken from the balance, fee included; the fee is what it
            # adds to the amount sent (nothing when the recipient carries it).
            total = money.to_minor(str(answer["amount"]), start.currency)
        except (KeyError, ValueError) as exc:
            raise ProviderFailure("ClickPesa's payout preview has no amount") from exc
        channel = answer.get("channelProvider")
        return PayoutQuote(
            fee=max(0, total - start.amount), channel=channel if isinstance(channel, str) else ""
        )

    async def create(self, access: ProviderAccess, start: PayoutStart) -> ProviderEvent:
        body = _body(start)
        if isinstance(start.destination, BankAccount):
            body["accountName"] = start.destination.account_name
        response = await self._api.call(
            access, "POST", _path(start, "create"), self._api.signed(access, body)
        )
        if response.status_code == 409:
            # Our reference is already known: an earlier start reached ClickPesa. What it
            # became is the status query's to say; this start sent nothing.
            known = await self.fetch_payout(access, start)
            if known is None:
                raise ProviderFailure(f"ClickPesa: {message_of(response)}", retryable=True)
            return known
        self._api.raise_for_status(response)
        answer = _decoded(response.content)
        if not isinstance(answer, dict):
            raise ProviderFailure("ClickPesa answered the payout without an object", retryable=True)
        return payout_report(PAYOUT_STATUS, answer)

    async def fetch_payout(
        self, access: ProviderAccess, start: PayoutStart
    ) -> ProviderEvent | None:
        reference = ids.alphanumeric_reference(start.payout_id)
        response = await self._api.call(access, "GET", f"/payouts/{reference}")
        if response.status_code == 404:
            return None
        self._api.raise_for_status(response)
        answer = _decoded(response.content)
        items = answer if isinstance(answer, list) else []
        latest = latest_record([item for item in items if isinstance(item, dict)])
        return None if latest is None else payout_report(PAYOUT_STATUS, latest)

    async def banks(self, access: ProviderAccess) -> list[Bank]:
        response = await self._api.call(access, "GET", "/list/banks")
        self._api.raise_for_status(response)
        answer = _decoded(response.content)
        banks = []
        for item in answer if isinstance(answer, list) else []:
            bic = item.get("bic") or item.get("value") if isinstance(item, dict) else None
            if isinstance(bic, str) and bic:
                banks.append(Bank(bic=bic, name=str(item.get("name") or bic)))
        return banks
