"""The Stripe fake's memory: sessions, intents, charges, refunds and events, per secret key.

Objects follow providers.md section 1 field for field. Every rule Stripe would enforce raises
`StripeApiError` with Stripe's own error type, code, parameter and HTTP status; the HTTP layer
(`stripe_fake`) turns it into Stripe's error body.
"""

import json
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

import stripe

from hazina.testing.stripe_params import (
    CAPTURE_METHODS,
    SESSION_PARAMS,
    StripeApiError,
    allow,
    integer,
    line_item_total,
    missing,
    strings,
)

API_VERSION = "2025-03-31.basil"
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def is_live(api_key: str) -> bool:
    return api_key.startswith(("sk_live_", "rk_live_"))


@dataclass(slots=True)
class Endpoint:
    url: str | None
    secret: str


@dataclass(slots=True)
class SignedEvent:
    """An event as Stripe sends it: the exact body bytes and the header signed over them."""

    event: dict[str, Any]
    owner: str
    body: bytes
    signature: str | None
    url: str | None
    delivery_status: int | None = None
    delivery_error: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.event["id"],
            "type": self.event["type"],
            "body": self.body.decode("utf-8"),
            "signature": self.signature,
            "url": self.url,
            "delivery": {"status": self.delivery_status, "error": self.delivery_error},
        }


@dataclass(slots=True)
class StripeState:
    # Every object lives in the account of the secret key that made it: (key, id) → object.
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    events: list[SignedEvent] = field(default_factory=list)
    # (key, Idempotency-Key) → (method, path, params, status, body)
    replies: dict[tuple[str, str], tuple[str, str, Any, int, bytes]] = field(default_factory=dict)
    # Injected failures: how many of the next API requests answer with which status.
    failures: list[int] = field(default_factory=list)
    checkout_base: str = "https://checkout.stripe.com"
    # True: new refunds stay `pending` (a bank slow to confirm) until settled by a control call.
    hold_refunds: bool = False
    # A session's payment_intent_data[metadata], copied onto its intent when one is made.
    _intent_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    # A session's payment_intent_data[capture_method], the capture method of its intent.
    _intent_capture: dict[str, str] = field(default_factory=dict)
    # A session's line items as (product name, quantity): Stripe keeps them apart from the
    # session object too (`GET …/line_items`); the hosted page shows them.
    _line_items: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def get(self, owner: str, object_id: str, kind: str, param: str = "id") -> dict[str, Any]:
        found = self.objects.get((owner, object_id))
        if found is None or found["object"] != kind:
            raise missing(kind, object_id, param, 404 if param == "id" else 400)
        return found

    def owner_of(self, object_id: str) -> str:
        for owner, stored_id in self.objects:
            if stored_id == object_id:
                return owner
        raise missing("object", object_id, "id")

    def find_session(self, session_id: str) -> tuple[str, dict[str, Any]]:
        """(owner, session) for the hosted page, which has the session's id and no key."""
        for (owner, stored_id), found in self.objects.items():
            if stored_id == session_id and found["object"] == "checkout.session":
                return owner, found
        raise missing("checkout.session", session_id, "id")

    def line_items(self, session_id: str) -> list[tuple[str, int]]:
        return list(self._line_items.get(session_id, []))

    def put(self, owner: str, found: dict[str, Any]) -> dict[str, Any]:
        self.objects[(owner, found["id"])] = found
        return found

    def emit(self, owner: str, event_type: str, found: dict[str, Any]) -> SignedEvent:
        """Record an event about `found` (a snapshot of it now), signed for the owner's endpoint."""
        now = int(time.time())
        event = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": now,
            "data": {"object": json.loads(json.dumps(found))},
            "livemode": is_live(owner),
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        # Stripe sends pretty-printed JSON; a receiver that re-serialises it breaks the signature.
        text = json.dumps(event, indent=2)
        endpoint = self.endpoints.get(owner)
        signature = None
        if endpoint is not None:
            signature = stripe.WebhookSignature.generate_signature_header(
                text, endpoint.secret, timestamp=now
            )
        signed = SignedEvent(
            event, owner, text.encode(), signature, endpoint.url if endpoint else None
        )
        self.events.append(signed)
        return signed

    # --- Checkout Sessions -------------------------------------------------------------------

    def create_session(self, owner: str, params: dict[str, Any]) -> dict[str, Any]:
        allow(params, SESSION_PARAMS)
        if params.get("mode") != "payment":
            raise StripeApiError(
                400,
                "This fake supports `mode=payment` only.",
                code="parameter_invalid_string",
                param="mode",
            )
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeApiError(
                400,
                "Missing required param: line_items.",
                code="parameter_missing",
                param="line_items",
            )
        total, currencies = 0, set()
        for index, item in enumerate(items):
            total_item, currency = line_item_total(item, f"line_items[{index}]")
            total += total_item
            currencies.add(currency)
        if len(currencies) != 1:
            raise StripeApiError(
                400, "All line items must use the same currency.", param="line_items"
            )
        now = int(time.time())
        expires_at = integer(params.get("expires_at", now + 86400), "expires_at")
        if not now + 1800 <= expires_at <= now + 86400:
            raise StripeApiError(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from"
                " Checkout Session creation.",
                code="parameter_invalid_integer",
                param="expires_at",
            )
        mode = "live" if is_live(owner) else "test"
        session_id = new_id(f"cs_{mode}_", 58)
        email = params.get("customer_email")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currencies.pop(),
            "customer": params.get("customer"),
            "customer_details": {"email": email} if email else None,
            "customer_email": email,
            "expires_at": expires_at,
            "livemode": is_live(owner),
            "locale": params.get("locale"),
            "metadata": strings(params.get("metadata", {}), "metadata"),
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            "url": f"{self.checkout_base}/c/pay/{session_id}",
        }
        intent_data = params.get("payment_intent_data", {})
        if not isinstance(intent_data, dict):
            intent_data = {}
        self._intent_metadata[session_id] = strings(
            intent_data.get("metadata", {}), "payment_intent_data[metadata]"
        )
        self._intent_capture[session_id] = _capture_method(intent_data)
        self._line_items[session_id] = [
            (str(item["price_data"]["product_data"]["name"]), int(item.get("quantity", 1)))
            for item in items
        ]
        return self.put(owner, session)

    def expire_session(self, owner: str, session_id: str) -> tuple[dict[str, Any], SignedEvent]:
        session = self.get(owner, session_id, "checkout.session")
        if session["status"] != "open":
            raise StripeApiError(
                400,
                'Only Checkout Sessions with a status in ["open"] can be expired.',
                param="session",
            )
        session.update(status="expired", url=None)
        return session, self.emit(owner, "checkout.session.expired", session)

    def complete_session(
        self, owner: str, session_id: str, paid: bool
    ) -> tuple[dict[str, Any], list[SignedEvent]]:
        """The customer paid (`paid`) or chose a delayed method that has yet to settle.

        Completing a session that is complete and unpaid settles its delayed payment."""
        session = self.get(owner, session_id, "checkout.session")
        if session["status"] == "complete" and session["payment_status"] == "unpaid" and paid:
            intent = self.get(owner, session["payment_intent"], "payment_intent")
            self.settle(owner, intent)
            session.update(payment_status="paid")
            return session, [
                self.emit(owner, "checkout.session.async_payment_succeeded", session),
                self.emit(owner, "payment_intent.succeeded", intent),
            ]
        if session["status"] != "open":
            raise StripeApiError(400, f"Checkout Session {session_id} is {session['status']}.")
        intent = self._intent(owner, session)
        session.update(status="complete", url=None)
        if not paid:
            intent.update(status="processing")
            return session, [self.emit(owner, "checkout.session.completed", session)]
        if intent["capture_method"] == "manual":
            # Authorised only: the session stays `unpaid` until the intent is captured.
            self.authorise(owner, intent)
            return session, [
                self.emit(owner, "checkout.session.completed", session),
                self.emit(owner, "payment_intent.amount_capturable_updated", intent),
            ]
        self.settle(owner, intent)
        session.update(payment_status="paid")
        return session, [
            self.emit(owner, "checkout.session.completed", session),
            self.emit(owner, "payment_intent.succeeded", intent),
        ]

    def fail_session(
        self, owner: str, session_id: str, message: str
    ) -> tuple[dict[str, Any], list[SignedEvent]]:
        """A card declined on an open session (it stays open for another try), or a delayed
        payment of a completed session failed."""
        session = self.get(owner, session_id, "checkout.session")
        delayed = session["status"] == "complete" and session["payment_status"] == "unpaid"
        if session["status"] != "open" and not delayed:
            raise StripeApiError(400, f"Checkout Session {session_id} cannot fail now.")
        intent = self._intent(owner, session)
        intent.update(
            status="requires_payment_method",
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": message,
            },
        )
        events = [self.emit(owner, "payment_intent.payment_failed", intent)]
        if delayed:
            events.insert(0, self.emit(owner, "checkout.session.async_payment_failed", session))
        return session, events

    def _intent(self, owner: str, session: dict[str, Any]) -> dict[str, Any]:
        if session["payment_intent"] is not None:
            return self.get(owner, session["payment_intent"], "payment_intent")
        intent_id = new_id("pi_")
        session["payment_intent"] = intent_id
        return self.put(
            owner,
            {
                "id": intent_id,
                "object": "payment_intent",
                "amount": session["amount_total"],
                "amount_capturable": 0,
                "amount_received": 0,
                "capture_method": self._intent_capture.get(session["id"], "automatic_async"),
                "cancellation_reason": None,
                "client_secret": f"{intent_id}_secret_{new_id('', 24)}",
                "confirmation_method": "automatic",
                "created": int(time.time()),
                "currency": session["currency"],
                "customer": None,
                "description": None,
                "last_payment_error": None,
                "latest_charge": None,
                "livemode": session["livemode"],
                "metadata": dict(self._intent_metadata.get(session["id"], {})),
                "payment_method": new_id("pm_"),
                "payment_method_types": ["card"],
                "receipt_email": session["customer_email"],
                "status": "requires_payment_method",
            },
        )

    def settle(self, owner: str, intent: dict[str, Any]) -> dict[str, Any]:
        charge = self.charge(owner, intent)
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=charge["id"],
            last_payment_error=None,
        )
        return charge

    def charge(self, owner: str, intent: dict[str, Any]) -> dict[str, Any]:
        """A charge of the intent's full amount, succeeded and captured (callers adjust it)."""
        return self.put(
            owner,
            {
                "id": new_id("ch_"),
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount"],
                "amount_refunded": 0,
                "balance_transaction": new_id("txn_"),
                "captured": True,
                "created": int(time.time()),
                "currency": intent["currency"],
                "failure_code": None,
                "failure_message": None,
                "livemode": intent["livemode"],
                "metadata": dict(intent["metadata"]),
                "paid": True,
                "payment_intent": intent["id"],
                "refunded": False,
                "status": "succeeded",
            },
        )

    def authorise(self, owner: str, intent: dict[str, Any]) -> None:
        """A manual-capture payment: the card is charged nothing yet, the amount is held."""
        charge = self.settle(owner, intent)
        charge.update(captured=False, amount_captured=0)
        intent.update(
            status="requires_capture", amount_capturable=intent["amount"], amount_received=0
        )


def _capture_method(intent_data: dict[str, Any]) -> str:
    method = str(intent_data.get("capture_method", "automatic_async"))
    if method not in CAPTURE_METHODS:
        raise StripeApiError(
            400,
            f"Invalid payment_intent_data[capture_method]: must be one of"
            f" {', '.join(sorted(CAPTURE_METHODS))}",
            code="parameter_invalid_string",
            param="payment_intent_data[capture_method]",
        )
    return method
