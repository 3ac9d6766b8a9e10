"""EcoCash direct (Zimbabwe): C2B instant payments, status lookups and refunds over httpx.

Wire format: providers.md section 5, which marks these endpoints UNCERTAIN (community
integrations only). Every path and field name therefore lives in the constants below, named
as the section names them (misspellings included), so a correction is a one-line change.
EcoCash sends no documented notification: payments settle by lookup, asked early and often
(`EARLY_CHECKS`). The payment's `provider_reference` is `{msisdn}:{sourceReference}`, since a
lookup needs both; `sourceReference` is a UUID derived from Hazina's payment id, so a retried
start sends the same one. Both are known before the push (`reference_before_start`), so the
reference is stored with the pending payment: a push whose answer was lost is still looked up.
EcoCash has no documented refund lookup (the C2B lookup knows `sourceReference`s, a refund
only its `refundCorelator`): no `REFUND_QUERY`, so a refund it leaves pending is held for review.
"""

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from hazina.domain import money
from hazina.domain.phones import normalise_phone
from hazina.domain.providers import (
    Capability,
    CaptureStart,
    CredentialFields,
    InvalidSignature,
    PaymentStart,
    ProviderAccess,
    ProviderEvent,
    ProviderEventKind,
    ProviderFailure,
    RefundStart,
    StartedPayment,
    StartedRefund,
)

# -- the wire (providers.md section 5): one place for every path and field name ------------
PAYMENT_PATH = "/api/v2/payment/instant/c2b/{environment}"
LOOKUP_PATH = "/api/v1/transaction/c2b/status/{environment}"
REFUND_PATH = "/api/v2/refund/instant/c2b/{environment}"
API_KEY_HEADER = "X-API-KEY"
ENVIRONMENTS = {"test": "sandbox", "live": "live"}
CUSTOMER_MSISDN = "customerMsisdn"
AMOUNT = "amount"
REASON = "reason"
CURRENCY = "currency"
SOURCE_REFERENCE = "sourceReference"
SOURCE_MOBILE_NUMBER = "sourceMobileNumber"
STATUS = "status"
ECOCASH_REFERENCE = "ecocashReference"
ORIGINAL_REFERENCE = "origionalEcocashTransactionReference"
REFUND_CORRELATOR = "refundCorelator"
CLIENT_NAME = "clientName"
REFUND_REASON = "reasonForRefund"
# ------------------------------------------------------------------------------------------

CURRENCIES = ("USD", "ZWG")
# Seconds after the start at which to look the payment up, before the usual schedule: no
# notification will come, and the customer is waiting at the checkout.
EARLY_CHECKS = (10.0, 30.0, 60.0)
LOOKUP = "lookup"  # raw_type of a lookup's answer
_REFERENCES = uuid.UUID("5f0c7d1e-8a43-4b8e-9a55-0e6c2b9d1f00")  # namespace of sourceReference
_KINDS = {
    "SUCCESS": ProviderEventKind.PAYMENT_SUCCEEDED,
    "SUCCESSFUL": ProviderEventKind.PAYMENT_SUCCEEDED,
    "COMPLETED": ProviderEventKind.PAYMENT_SUCCEEDED,
    "PENDING": ProviderEventKind.PAYMENT_PENDING,
    "PENDING_VALIDATION": ProviderEventKind.PAYMENT_PENDING,
    "PROCESSING": ProviderEventKind.PAYMENT_PENDING,
    "FAILED": ProviderEventKind.PAYMENT_FAILED,
    "CANCELLED": ProviderEventKind.PAYMENT_FAILED,
    "EXPIRED": ProviderEventKind.PAYMENT_FAILED,
}
_REFUNDED = ("SUCCESS", "SUCCESSFUL", "COMPLETED")


def source_reference(payment_id: str) -> str:
    """EcoCash wants a UUID; the same payment always gets the same one."""
    return str(uuid.uuid5(_REFERENCES, payment_id))


def msisdn(raw: str) -> str:
    """`0771234567` or `+263 77 123 4567` → `263771234567`, as EcoCash takes it."""
    try:
        e164 = normalise_phone(raw, region="ZW")
    except ValueError as exc:
        raise ProviderFailure(f"phone {exc}") from None
    if not e164.startswith("+263"):
        raise ProviderFailure("phone must be a Zimbabwean EcoCash number (+263… or 07…)")
    return e164[1:]


def _number(minor: int, currency: str) -> int | float:
    """EcoCash's amounts are JSON numbers; two decimals survive a float's shortest repr."""
    major = Decimal(money.to_major(minor, currency))
    return int(major) if major == major.to_integral_value() else float(major)


def _split(provider_reference: str) -> tuple[str, str]:
    number, _, reference = provider_reference.partition(":")
    if not number or not reference:
        raise ProviderFailure("EcoCash payment without its msisdn and sourceReference")
    return number, reference


class EcoCashProvider:
    """Implements services.ports.PaymentProvider for EcoCash's own API."""

    name = "ecocash"
    # Distinct from Paynow's `ecocash`: a merchant may collect through either, or both.
    methods: tuple[str, ...] = ("ecocash_direct",)
    currencies: frozenset[str] | None = frozenset(CURRENCIES)
    capabilities = frozenset({Capability.USSD_PUSH, Capability.STATUS_QUERY, Capability.REFUND})
    credentials = CredentialFields(required=("merchant_code", "api_key"))

    def __init__(
        self,
        api_base: str,
        timeout_seconds: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=api_base.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def reference_before_start(self, payment_id: str, phone: str | None) -> str | None:
        try:
            number = msisdn(phone) if phone else None
        except ProviderFailure:
            return None  # `start_payment` refuses it, saying why
        return None if number is None else f"{number}:{source_reference(payment_id)}"

    async def _post(
        self, access: ProviderAccess, path: str, body: dict[str, Any]
    ) -> httpx.Response:
        api_key = access.secret("api_key")
        if api_key is None or access.secret("merchant_code") is None:
            raise ProviderFailure("The EcoCash account needs a merchant_code and an api_key")
        url = path.format(environment=ENVIRONMENTS.get(access.mode, "sandbox"))
        try:
            response = await self._client.post(url, json=body, headers={API_KEY_HEADER: api_key})
        except httpx.TimeoutException as exc:
            raise ProviderFailure("EcoCash did not answer in time", retryable=True) from exc
        except httpx.TransportError as exc:
            raise ProviderFailure(
                f"EcoCash could not be reached ({type(exc).__name__})", retryable=True
            ) from exc
        if response.status_code in (401, 403):
            raise ProviderFailure("EcoCash refused the API key")
        if response.status_code >= 500:
            raise ProviderFailure(f"EcoCash: HTTP {response.status_code}", retryable=True)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    @classmethod
    def _refused(cls, response: httpx.Response) -> ProviderFailure:
        body = cls._json(response)
        message = body.get("message") or body.get("error") or f"HTTP {response.status_code}"
        return ProviderFailure(f"EcoCash: {message}")

    async def start_payment(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        if start.currency not in CURRENCIES:
            raise ProviderFailure(
                f"EcoCash collects {' and '.join(CURRENCIES)} only, not {start.currency}"
            )
        if not start.customer_phone:
            raise ProviderFailure("EcoCash needs the customer's phone number")
        number = msisdn(start.customer_phone)
        reference = source_reference(start.payment_id)
        body = {
            CUSTOMER_MSISDN: number,
            AMOUNT: _number(start.amount, start.currency),
            REASON: start.description,
            CURRENCY: start.currency,
            SOURCE_REFERENCE: reference,
        }
        response = await self._post(access, PAYMENT_PATH, body)
        if not response.is_success:
            raise self._refused(response)
        amount = money.to_major(start.amount, start.currency)
        return StartedPayment(
            provider_reference=f"{number}:{reference}",
            next_action={
                "type": "ussd_push",
                "phone": f"+{number}",
                "message": (
                    f"Confirm the payment of {start.currency} {amount} on your phone "
                    "by entering your EcoCash PIN."
                ),
            },
        )

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        if not provider_reference:
            return None  # no phone was known before the start: nothing to look up by
        number, reference = _split(provider_reference)
        body = {SOURCE_MOBILE_NUMBER: number, SOURCE_REFERENCE: reference}
        response = await self._post(access, LOOKUP_PATH, body)
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise self._refused(response)
        answer = self._json(response)
        status = str(answer.get(STATUS) or "").strip().upper()
        ecocash_reference = answer.get(ECOCASH_REFERENCE)
        amount, currency = answer.get(AMOUNT), answer.get(CURRENCY)
        reported = isinstance(amount, int | float | str) and isinstance(currency, str)
        return ProviderEvent(
            kind=_KINDS.get(status, ProviderEventKind.IGNORED),
            dedup_key=f"{LOOKUP}:{reference}:{status}",
            raw_type=LOOKUP,
            raw_status=status,
            payment_id=payment_id,
            provider_reference=provider_reference,
            provider_payment_reference=str(ecocash_reference) if ecocash_reference else None,
            amount=money.to_minor(str(amount), str(currency).upper()) if reported else None,
            currency=str(currency).upper() if reported else None,
        )

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund:
        if not refund.provider_reference or not refund.provider_payment_reference:
            raise ProviderFailure("EcoCash has not reported this payment's transaction reference")
        number, _ = _split(refund.provider_reference)
        body = {
            ORIGINAL_REFERENCE: refund.provider_payment_reference,
            REFUND_CORRELATOR: refund.refund_id,
            SOURCE_MOBILE_NUMBER: number,
            AMOUNT: _number(refund.amount, refund.currency),
            CLIENT_NAME: access.secret("merchant_code"),
            CURRENCY: refund.currency,
            REFUND_REASON: refund.reason or "Refund",
        }
        response = await self._post(access, REFUND_PATH, body)
        if not response.is_success:
            raise self._refused(response)
        answer = self._json(response)
        status = str(answer.get(STATUS) or answer.get("transactionStatus") or "").upper()
        refund_reference = answer.get(ECOCASH_REFERENCE) or refund.refund_id
        return StartedRefund(str(refund_reference), succeeded=status in _REFUNDED)

    async def fetch_refund(
        self, access: ProviderAccess, refund_id: str, provider_refund_reference: str | None
    ) -> ProviderEvent | None:
        return None  # not in `capabilities`: no documented refund lookup

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        raise ProviderFailure("EcoCash cannot authorise a payment to capture it later.")

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        raise ProviderFailure("EcoCash cannot cancel a payment it has pushed.")

    def parse_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> list[ProviderEvent]:
        # Nothing documented to verify it by: stored as rejected, and the lookups decide.
        raise InvalidSignature(
            "EcoCash notifications are not documented: payments settle by lookup"
        )
