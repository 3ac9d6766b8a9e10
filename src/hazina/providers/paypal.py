"""PayPal: Orders v2 to collect, Payments v2 to capture and refund, signed webhooks to learn.

Wire format: providers.md section 2. Plain httpx (`paypal_client`: OAuth tokens, authorised
calls, the error envelope) against the API base of the account's mode (sandbox or live;
HAZINA_PAYPAL_API_BASE points both at `hazina fake paypal`).

The customer approves an order on PayPal's page; PayPal takes no money until Hazina captures it
(`APPROVAL`). The approval (the customer's return, `CHECKOUT.ORDER.APPROVED` or a status query)
makes one `complete_approval` job (services.approvals) call `complete_approved`. Every call
that creates something sends `PayPal-Request-Id` (our payment's or refund's id), so a retry after
a crash gets PayPal's first answer back instead of a second order, capture or refund.
"""

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import httpx

from hazina.domain import money
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
from hazina.providers.paypal_client import PayPalClient, failure_of, issue_of, json_of
from hazina.providers.paypal_reports import (
    authorization_id,
    completed_capture_id,
    event_report,
    order_report,
    refund_custom_id,
    refund_report,
)
from hazina.providers.paypal_signatures import CERT_URL, CertificateStore, header

# The capture asked for was refused by the payer's bank or PayPal: the attempt failed (the
# customer can start another), unlike an order not approved yet, which is asked again later.
_DECLINES = frozenset({"INSTRUMENT_DECLINED", "TRANSACTION_REFUSED", "PAYER_CANNOT_PAY"})
_ALREADY_DONE = frozenset({"ORDER_ALREADY_CAPTURED", "ORDER_ALREADY_AUTHORIZED"})
# Postback verdicts waiting for their `parse_webhook` (one each, taken at once).
MAX_REMEMBERED_VERDICTS = 256


class PayPalProvider:
    """Implements services.ports.PaymentProvider, ApprovalCompleter and WebhookPreparer."""

    name = "paypal"
    methods: tuple[str, ...] = ("paypal",)
    # Whatever the order's: the provider converts, or refuses at the start.
    currencies: frozenset[str] | None = None
    capabilities = frozenset(
        {
            Capability.REDIRECT,
            Capability.STATUS_QUERY,
            Capability.REFUND,
            Capability.REFUND_QUERY,
            Capability.CAPTURE,
            Capability.APPROVAL,
        }
    )
    credentials = CredentialFields(required=("client_id", "client_secret", "webhook_id"))

    def __init__(
        self,
        api_base: str | None,
        timeout_seconds: float,
        certificates: CertificateStore,
        clock: Callable[[], float] = time.monotonic,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        postback: bool = False,
    ) -> None:
        # Verify webhooks by asking PayPal instead of offline with its certificate.
        self._postback = postback
        self._verified: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._api = PayPalClient(api_base, timeout_seconds, clock, transport=transport)
        self._certificates = certificates

    async def aclose(self) -> None:
        await self._api.aclose()
        await self._certificates.aclose()

    # -- payments -----------------------------------------------------------------------

    async def start_payment(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        unit = {
            "reference_id": start.payment_id,
            "custom_id": start.payment_id,
            "description": start.description[:127],
            "amount": {
                "currency_code": start.currency,
                "value": money.to_major(start.amount, start.currency),
            },
        }
        context = {
            "return_url": start.success_url,
            "cancel_url": start.cancel_url,
            "user_action": "PAY_NOW",
            "shipping_preference": "NO_SHIPPING",
        }
        body = {
            "intent": "CAPTURE" if start.capture else "AUTHORIZE",
            "purchase_units": [unit],
            "payment_source": {"paypal": {"experience_context": context}},
        }
        response = await self._api.call(
            access, "POST", "/v2/checkout/orders", body, request_id=start.payment_id
        )
        if not response.is_success:
            raise failure_of(response)
        order = json_of(response)
        link = next(
            (
                item.get("href")
                for item in order.get("links") or []
                if isinstance(item, dict) and item.get("rel") in ("payer-action", "approve")
            ),
            None,
        )
        if not isinstance(link, str) or not isinstance(order.get("id"), str):
            raise ProviderFailure("PayPal created an order without an approval link.")
        return StartedPayment(
            provider_reference=order["id"], next_action={"type": "redirect", "url": link}
        )

    async def complete_approved(
        self, access: ProviderAccess, payment_id: str, provider_reference: str, *, capture: bool
    ) -> ProviderEvent:
        action = "capture" if capture else "authorize"
        response = await self._api.call(
            access,
            "POST",
            f"/v2/checkout/orders/{provider_reference}/{action}",
            {},
            request_id=payment_id,
        )
        if response.is_success:
            return order_report(json_of(response))
        issue = issue_of(response)
        if issue in _ALREADY_DONE:  # done before (a crash before Hazina recorded it)
            order = await self._api.order(access, provider_reference)
            if order is not None:
                return order_report(order)
        if issue in _DECLINES:
            return ProviderEvent(
                kind=ProviderEventKind.PAYMENT_FAILED,
                dedup_key=f"declined:{provider_reference}:{issue}",
                raw_type=action,
                raw_status=issue,
                payment_id=payment_id,
                provider_reference=provider_reference,
                message=failure_of(response).description,
            )
        raise failure_of(response)

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        if provider_reference is None:
            return None  # orders cannot be searched by our id
        order = await self._api.order(access, provider_reference)
        return None if order is None else order_report(order)

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        authorization = capture.provider_payment_reference
        if authorization is None and capture.provider_reference is not None:
            order = await self._api.order(access, capture.provider_reference)
            authorization = None if order is None else authorization_id(order)
        if authorization is None:
            raise ProviderFailure("PayPal holds no authorisation to capture for this payment.")
        body = {
            "amount": {
                "currency_code": capture.currency,
                "value": money.to_major(capture.amount, capture.currency),
            },
            "final_capture": True,  # the rest of the authorisation is released
        }
        response = await self._api.call(
            access,
            "POST",
            f"/v2/payments/authorizations/{authorization}/capture",
            body,
            request_id=capture.payment_id,
        )
        if not response.is_success:
            raise failure_of(response)
        captured = json_of(response)
        if captured.get("status") in ("DECLINED", "FAILED"):
            raise ProviderFailure(f"PayPal declined capture {captured.get('id')}.")
        return capture.amount

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        # Not in `capabilities`: Orders v2 has no call to end an unapproved order (it lapses
        # by itself); a late capture of an abandoned attempt is settled as a duplicate.
        raise ProviderFailure("PayPal cannot cancel an order.")

    # -- refunds ------------------------------------------------------------------------

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund:
        if refund.provider_reference is None:
            raise ProviderFailure("PayPal has no order to refund for this payment.")
        # Through the order: a manual-capture payment's reference is its authorisation.
        order = await self._api.order(access, refund.provider_reference)
        capture_id = None if order is None else completed_capture_id(order)
        if capture_id is None:
            raise ProviderFailure("PayPal has no completed capture to refund for this payment.")
        body: dict[str, Any] = {
            "amount": {
                "currency_code": refund.currency,
                "value": money.to_major(refund.amount, refund.currency),
            },
            "custom_id": refund_custom_id(refund.payment_id, refund.refund_id),
        }
        if refund.reason:
            body["note_to_payer"] = refund.reason[:255]
        response = await self._api.call(
            access,
            "POST",
            f"/v2/payments/captures/{capture_id}/refund",
            body,
            request_id=refund.refund_id,
        )
        if not response.is_success:
            raise failure_of(response)
        made = json_of(response)
        status = made.get("status")
        if status in ("FAILED", "CANCELLED"):
            raise ProviderFailure(f"PayPal refused refund {made.get('id')}: {status}.")
        return StartedRefund(
            provider_refund_reference=str(made["id"]), succeeded=status == "COMPLETED"
        )

    async def fetch_refund(
        self, access: ProviderAccess, refund_id: str, provider_refund_reference: str | None
    ) -> ProviderEvent | None:
        if provider_refund_reference is None:
            return None
        response = await self._api.call(
            access, "GET", f"/v2/payments/refunds/{provider_refund_reference}"
        )
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise failure_of(response)
        report = refund_report(json_of(response))
        if report.kind is ProviderEventKind.IGNORED:
            return None  # still pending at PayPal
        return report if report.refund_id else replace(report, refund_id=refund_id)

    # -- webhooks -----------------------------------------------------------------------

    async def prepare_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> None:
        url = header(headers, CERT_URL)
        if url is None:
            raise InvalidSignature("PayPal webhook without paypal-cert-url")
        if self._postback:
            self._certificates.check_url(url)
            await self._ask_paypal(access, body, headers, url)
        else:
            await self._certificates.load(url)

    async def _ask_paypal(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str], url: str
    ) -> None:
        """The fallback (HAZINA_PAYPAL_WEBHOOK_VERIFICATION=postback): PayPal's own verdict on
        the notification, remembered for `parse_webhook` by transmission id and body digest.
        PayPal checks its own serialisation of the event, so a verdict may be FAILURE for a
        genuine body the offline check accepts: offline stays the default."""
        names = ("transmission_id", "transmission_sig", "transmission_time", "auth_algo")
        values = {name: header(headers, f"paypal-{name.replace('_', '-')}") for name in names}
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise InvalidSignature("PayPal webhook is not JSON") from exc
        asked = {
            **values,
            "cert_url": url,
            "webhook_id": access.secret("webhook_id"),
            "webhook_event": event,
        }
        response = await self._api.call(
            access, "POST", "/v1/notifications/verify-webhook-signature", asked
        )
        if not response.is_success:
            raise failure_of(response)
        if json_of(response).get("verification_status") != "SUCCESS":
            raise InvalidSignature("PayPal did not verify the webhook's signature")
        self._verified[(str(values["transmission_id"]), hashlib.sha256(body).digest())] = None
        while len(self._verified) > MAX_REMEMBERED_VERDICTS:
            self._verified.popitem(last=False)

    def parse_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> list[ProviderEvent]:
        webhook_id = access.secret("webhook_id")
        if webhook_id is None:
            raise InvalidSignature("The PayPal account has no webhook id to verify with.")
        if self._postback:
            verdict = (
                str(header(headers, "paypal-transmission-id")),
                hashlib.sha256(body).digest(),
            )
            if verdict not in self._verified:
                raise InvalidSignature("PayPal did not verify this webhook")
            del self._verified[verdict]
        else:
            self._certificates.verify(headers, body, webhook_id)
        try:
            event = json.loads(body)
            return [event_report(event)]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"The signed PayPal webhook is not a PayPal event: {exc}") from exc
