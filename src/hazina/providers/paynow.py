"""Paynow (Zimbabwe): web checkout and express checkout (EcoCash, OneMoney, InnBucks) over httpx.

Wire format: providers.md section 4. Every request and answer is a url-encoded form; every one
but `status=Error` carries the SHA-512 `hash` of `hazina.domain.paynow_hash`, verified before
anything in it is used. Paynow has no event ids: a status (in its status update to `resulturl`
or in the answer to its poll URL) is one fact per transaction and status, so an update and a
poll reporting the same status share one dedup key. The poll URL is the payment's
`provider_reference` (reconciliation POSTs to it), Paynow's own reference its
`provider_payment_reference`. Paynow has no refund API.
"""

import io
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import segno

from hazina.domain import money
from hazina.domain.clock import iso_z
from hazina.domain.paynow_hash import hash_matches, paynow_hash
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

INITIATE_PATH = "/interface/initiatetransaction"  # web: the customer is redirected to Paynow
REMOTE_PATH = "/interface/remotetransaction"  # express: mobile money and InnBucks
TRACE_PATH = "/interface/trace"  # a transaction by our `merchanttrace`, when no poll URL came
EXPRESS_METHODS = ("ecocash", "onemoney", "innbucks")
PHONE_METHODS = ("ecocash", "onemoney")
# An integration is opened in one currency; these are the ones Paynow settles.
CURRENCIES = ("USD", "ZWG")
STATUS_UPDATE = "status_update"  # raw_type of status updates and poll answers alike
INNBUCKS_DEEP_LINK = "schinn.wbpycode://innbucks.co.zw?pymInnCode={code}"
# `authorizationexpires` is Harare's wall clock (`d-MMM-yyyy HH:mm`); Zimbabwe keeps UTC+2.
HARARE = timezone(timedelta(hours=2))
NO_REFUND_API = (
    "Paynow has no refund API: refund this payment from the Paynow dashboard, "
    "then record it in Hazina"
)

# Compared case-insensitively: the docs spell `Failed` only in prose.
_KINDS = {
    "paid": ProviderEventKind.PAYMENT_SUCCEEDED,
    "awaiting delivery": ProviderEventKind.PAYMENT_SUCCEEDED,
    "delivered": ProviderEventKind.PAYMENT_SUCCEEDED,
    "created": ProviderEventKind.PAYMENT_PENDING,
    "sent": ProviderEventKind.PAYMENT_PENDING,
    "cancelled": ProviderEventKind.PAYMENT_FAILED,
    "failed": ProviderEventKind.PAYMENT_FAILED,
    "refunded": ProviderEventKind.PAYMENT_RETURNED,
    "disputed": ProviderEventKind.PAYMENT_DISPUTED,
}


def parse_form(text: str) -> list[tuple[str, str]]:
    """A Paynow message as (name, value) pairs in wire order, values URL-decoded."""
    return parse_qsl(text.strip(), keep_blank_values=True)


def fields_of(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """By lowercase name: one docs example answers `Status=Ok&BrowserUrl=…`."""
    return {name.lower(): value for name, value in pairs}


def minor_amount(text: str) -> int:
    """Paynow's two-decimal amount (`"100.00"`) in minor units; USD and ZWG both have two."""
    try:
        value = Decimal(text.replace(",", "").strip()).scaleb(2)
    except InvalidOperation as exc:
        raise ValueError(f"Paynow amount is not a number: {text!r}") from exc
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"Paynow amount is not a two-decimal amount: {text!r}")
    return int(value)


def status_event(fields: Mapping[str, str]) -> ProviderEvent:
    """A verified status update or poll answer as Hazina's report."""
    status = fields.get("status", "").strip()
    reference = fields.get("reference") or None
    paynow_reference = fields.get("paynowreference") or None
    if reference is None and paynow_reference is None:
        raise ValueError("Paynow status without a reference or a paynowreference")
    amount = fields.get("amount")
    return ProviderEvent(
        kind=_KINDS.get(status.lower(), ProviderEventKind.IGNORED),
        dedup_key=f"{reference or ''}:{paynow_reference or ''}:{status.lower()}",
        raw_type=STATUS_UPDATE,
        raw_status=status,
        # Hazina sends its payment id as the `reference`; Paynow echoes it back.
        payment_id=reference if reference and reference.startswith("pay_") else None,
        provider_reference=fields.get("pollurl") or None,
        provider_payment_reference=paynow_reference,
        amount=minor_amount(amount) if amount else None,
    )


def national_phone(raw: str) -> str:
    """Paynow takes Zimbabwean numbers as dialled at home: `0771111111`."""
    try:
        e164 = normalise_phone(raw, region="ZW")
    except ValueError as exc:
        raise ProviderFailure(f"phone {exc}") from None
    if not e164.startswith("+263"):
        raise ProviderFailure("phone must be a Zimbabwean mobile number (+263… or 07…)")
    return "0" + e164[4:]


def innbucks_action(fields: Mapping[str, str]) -> dict[str, Any]:
    """InnBucks: a code the customer enters in the app, or opens with the deep link or QR."""
    code = fields.get("authorizationcode", "")
    if not code.isdigit():
        raise ProviderFailure("Paynow answered an InnBucks payment without its authorization code")
    link = INNBUCKS_DEEP_LINK.format(code=code)
    try:
        expires = datetime.strptime(fields.get("authorizationexpires", ""), "%d-%b-%Y %H:%M")
        expires_at: str | None = iso_z(expires.replace(tzinfo=HARARE))
    except ValueError:
        expires_at = None
    return {
        "type": "authorization_code",
        "code": code,
        "expires_at": expires_at,
        "deep_link": link,
        "qr_svg": qr_svg(link),
    }


def qr_svg(text: str) -> str:
    """A standalone SVG document (with its namespace, so it also works as an image)."""
    document = io.BytesIO()
    segno.make(text, error="m").save(
        document, kind="svg", xmldecl=False, scale=4, title="InnBucks payment", svgclass=None
    )
    return document.getvalue().decode()


class PaynowProvider:
    """Implements services.ports.PaymentProvider for Paynow."""

    name = "paynow"
    methods: tuple[str, ...] = ("paynow", *EXPRESS_METHODS)
    currencies: frozenset[str] | None = frozenset(CURRENCIES)
    capabilities = frozenset(
        {
            Capability.REDIRECT,
            Capability.USSD_PUSH,
            Capability.STATUS_QUERY,
            Capability.ALWAYS_ACKNOWLEDGE,
        }
    )
    # The login email is the `authemail` express checkout requires (in test mode it must be
    # the merchant's own); web checkout works without it.
    credentials = CredentialFields(
        required=("integration_id", "integration_key"), optional=("auth_email",)
    )

    def __init__(
        self,
        api_base: str,
        timeout_seconds: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = urlsplit(api_base.rstrip("/"))
        self._client = httpx.AsyncClient(
            base_url=api_base.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @staticmethod
    def _credentials(access: ProviderAccess) -> tuple[str, str]:
        integration_id, key = access.secret("integration_id"), access.secret("integration_key")
        if integration_id is None or key is None:
            raise ProviderFailure("The Paynow account needs an integration_id and integration_key")
        return integration_id, key

    async def _post(self, url: str, fields: Mapping[str, str]) -> list[tuple[str, str]]:
        try:
            response = await self._client.post(url, data=dict(fields))
        except httpx.TimeoutException as exc:
            raise ProviderFailure("Paynow did not answer in time", retryable=True) from exc
        except httpx.TransportError as exc:
            raise ProviderFailure(
                f"Paynow could not be reached ({type(exc).__name__})", retryable=True
            ) from exc
        if not response.is_success:
            raise ProviderFailure(
                f"Paynow: HTTP {response.status_code}", retryable=response.status_code >= 500
            )
        return parse_form(response.text)

    @staticmethod
    def _verified(pairs: list[tuple[str, str]], key: str) -> dict[str, str]:
        """The answer's fields once its hash verifies; `status=Error` (unhashed) raises."""
        fields = fields_of(pairs)
        if fields.get("status", "").lower() == "error":
            raise ProviderFailure(f"Paynow: {fields.get('error') or 'the request was refused'}")
        if not hash_matches(pairs, key):
            raise ProviderFailure(
                "Paynow's answer did not verify: check the account's integration key"
            )
        return fields

    def _poll_url(self, url: str) -> str:
        """A poll URL is only ever POSTed to on Paynow's own host: it came in a verified
        answer, but a wrong one must not turn reconciliation into a request to anywhere."""
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != (self._base.scheme, self._base.netloc.lower()):
            raise ProviderFailure(f"Paynow gave a poll URL off its host: {parts.netloc}")
        return url

    # -- payments -------------------------------------------------------------------------

    async def start_payment(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        integration_id, key = self._credentials(access)
        if start.currency not in CURRENCIES:
            raise ProviderFailure(
                f"Paynow collects {' and '.join(CURRENCIES)} only, not {start.currency}"
            )
        express = start.method in EXPRESS_METHODS
        fields = {
            "id": integration_id,
            "reference": start.payment_id,
            "amount": money.to_major(start.amount, start.currency),
            "additionalinfo": start.description,
            "returnurl": start.success_url,
            "resulturl": start.notify_url,
            # Lets the trace call find the transaction if its answer never arrived.
            "merchanttrace": start.payment_id,
        }
        phone: str | None = None
        if express:
            auth_email = access.secret("auth_email")
            if auth_email is None:
                raise ProviderFailure(
                    f"Paynow express checkout ({start.method}) needs the account's auth_email"
                )
            fields["authemail"] = auth_email
            if start.method in PHONE_METHODS or start.customer_phone:
                if not start.customer_phone:
                    raise ProviderFailure(f"{start.method} needs the customer's phone number")
                phone = national_phone(start.customer_phone)
                fields["phone"] = phone
            fields["method"] = start.method
        elif start.customer_email:
            fields["authemail"] = start.customer_email
        fields["status"] = "Message"
        fields["hash"] = paynow_hash(fields.items(), key)
        answer = self._verified(
            await self._post(REMOTE_PATH if express else INITIATE_PATH, fields), key
        )
        poll_url = self._poll_url(answer.get("pollurl", ""))
        return StartedPayment(
            provider_reference=poll_url,
            next_action=self._next_action(start, answer, phone),
            provider_payment_reference=answer.get("paynowreference") or None,
        )

    @staticmethod
    def _next_action(
        start: PaymentStart, answer: Mapping[str, str], phone: str | None
    ) -> dict[str, Any]:
        if start.method == "innbucks":
            return innbucks_action(answer)
        if phone is not None:
            amount = money.to_major(start.amount, start.currency)
            return {
                "type": "ussd_push",
                "phone": "+263" + phone[1:],
                "message": answer.get("instructions")
                or f"Confirm the payment of {start.currency} {amount} on your phone.",
            }
        url = answer.get("browserurl", "")
        if not url.startswith(("https://", "http://")):
            raise ProviderFailure("Paynow answered a web payment without its browserurl")
        return {"type": "redirect", "url": url}

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        integration_id, key = self._credentials(access)
        if provider_reference:
            pairs = await self._post(self._poll_url(provider_reference), {})
        else:  # the start's answer never arrived: find the transaction by our trace
            fields = {"id": integration_id, "merchanttrace": payment_id, "status": "Message"}
            fields["hash"] = paynow_hash(fields.items(), key)
            pairs = await self._post(TRACE_PATH, fields)
        status = fields_of(pairs).get("status", "").lower()
        if status == "error":
            raise ProviderFailure(f"Paynow: {fields_of(pairs).get('error') or 'status refused'}")
        if not hash_matches(pairs, key):
            raise ProviderFailure("Paynow's status answer did not verify", retryable=True)
        if status == "notfound":
            return None
        return status_event(fields_of(pairs))

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund:
        raise ProviderFailure(NO_REFUND_API)

    async def fetch_refund(
        self, access: ProviderAccess, refund_id: str, provider_refund_reference: str | None
    ) -> ProviderEvent | None:
        return None  # no refund API, so no refund is ever pending at Paynow

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        raise ProviderFailure("Paynow cannot authorise a payment to capture it later.")

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        raise ProviderFailure("Paynow cannot cancel a payment it has started.")

    # -- status updates -------------------------------------------------------------------

    def parse_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> list[ProviderEvent]:
        """Verified over the decoded values in the order received; a bad or missing hash
        raises `InvalidSignature`."""
        key = access.secret("integration_key")
        if key is None:
            raise InvalidSignature("the Paynow account has no integration key to verify with")
        try:
            pairs = parse_form(body.decode())
        except UnicodeDecodeError as exc:
            raise InvalidSignature("Paynow status update is not a url-encoded form") from exc
        if not any(name.lower() == "hash" for name, _ in pairs):
            raise InvalidSignature("Paynow status update without a hash")
        if not hash_matches(pairs, key):
            raise InvalidSignature("Paynow status update hash does not match")
        return [status_event(fields_of(pairs))]
