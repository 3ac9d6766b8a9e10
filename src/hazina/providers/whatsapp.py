"""WhatsApp Cloud API (Meta Graph) as a provider account: it collects no payments, it carries
messages. Registered beside the payment adapters so a merchant connects it like any provider
(`PUT /api/v1/provider-accounts/whatsapp`, the dashboard's Providers page: credentials sealed in
the vault) and its status notifications take the common inbound path (`/hooks/whatsapp/{id}`:
stored before trust, verified, de-duplicated by receipts).
"""

import json
from collections.abc import Mapping
from typing import Any

import httpx

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
from hazina.domain.whatsapp import (
    SIGNATURE_HEADER,
    read_error,
    read_notification,
    signature_matches,
)

NO_PAYMENTS = "WhatsApp carries messages; it collects no payments."


class GraphRefusal(ProviderFailure):
    """Graph refused a send; `code` is its error code (None: no Graph answer at all)."""

    def __init__(self, description: str, code: int | None, *, retryable: bool) -> None:
        super().__init__(description, retryable=retryable)
        self.code = code


class WhatsAppProvider:
    name: str = "whatsapp"
    methods: tuple[str, ...] = ()
    # Whatever the order's: the provider converts, or refuses at the start.
    currencies: frozenset[str] | None = None
    capabilities: frozenset[Capability] = frozenset()
    credentials = CredentialFields(
        required=("access_token", "app_secret", "phone_number_id", "verify_token", "template_name"),
        optional=("template_language",),
    )

    def __init__(
        self,
        api_base: str,
        graph_version: str,
        timeout_seconds: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = f"{api_base.rstrip('/')}/{graph_version}"
        self._client = httpx.AsyncClient(timeout=timeout_seconds, transport=transport)

    async def send_message(self, access: ProviderAccess, message: dict[str, Any]) -> str:
        """Send one message body (`domain.whatsapp.text_message`/`template_message`); its
        `wamid.…`. Raises GraphRefusal, retryable for rate limits and for no answer."""
        phone_number_id = access.secrets["phone_number_id"]
        headers = {"Authorization": f"Bearer {access.secrets['access_token']}"}
        try:
            response = await self._client.post(
                f"{self._base}/{phone_number_id}/messages", json=message, headers=headers
            )
        except httpx.HTTPError as exc:
            raise GraphRefusal(
                f"WhatsApp unreachable: {type(exc).__name__}", None, retryable=True
            ) from None
        if response.status_code == 200:
            try:
                return str(response.json()["messages"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError):
                raise GraphRefusal(
                    "WhatsApp answered 200 without a message id", None, retryable=True
                ) from None
        error = read_error(response.status_code, response.content)
        # A server error without a code is Graph having a bad moment: send again.
        retryable = error.retryable or (error.code is None and response.status_code >= 500)
        raise GraphRefusal(error.description, error.code, retryable=retryable)

    def parse_webhook(
        self, access: ProviderAccess, body: bytes, headers: Mapping[str, str]
    ) -> list[ProviderEvent]:
        if not signature_matches(access.secrets["app_secret"], body, headers.get(SIGNATURE_HEADER)):
            raise InvalidSignature(f"{SIGNATURE_HEADER} does not match the body")
        statuses, messages = read_notification(json.loads(body))
        events = [
            ProviderEvent(
                kind=ProviderEventKind.MESSAGE_STATUS,
                # Meta resends: one fact per message and status.
                dedup_key=f"status:{report.message_id}:{report.status}",
                raw_type="status",
                raw_status=report.status,
                provider_reference=report.message_id,
                message=report.error,
                occurred_at=report.occurred_at,
            )
            for report in statuses
        ]
        events += [
            ProviderEvent(
                kind=ProviderEventKind.MESSAGE_RECEIVED,
                dedup_key=f"message:{incoming.message_id}",
                raw_type="message",
                raw_status="received",
                provider_reference=incoming.sender,
                occurred_at=incoming.occurred_at,
            )
            for incoming in messages
        ]
        if not events:
            return [ProviderEvent(ProviderEventKind.IGNORED, "", "other", "")]
        return events

    # A payment adapter's calls: none is in `capabilities`, so none is ever made.
    async def start_payment(self, access: ProviderAccess, start: PaymentStart) -> StartedPayment:
        raise ProviderFailure(NO_PAYMENTS)

    async def fetch_payment(
        self, access: ProviderAccess, payment_id: str, provider_reference: str | None
    ) -> ProviderEvent | None:
        return None

    async def refund(self, access: ProviderAccess, refund: RefundStart) -> StartedRefund:
        raise ProviderFailure(NO_PAYMENTS)

    async def fetch_refund(
        self, access: ProviderAccess, refund_id: str, provider_refund_reference: str | None
    ) -> ProviderEvent | None:
        return None

    async def capture(self, access: ProviderAccess, capture: CaptureStart) -> int:
        raise ProviderFailure(NO_PAYMENTS)

    async def cancel_payment(self, access: ProviderAccess, provider_reference: str) -> None:
        raise ProviderFailure(NO_PAYMENTS)

    async def aclose(self) -> None:
        await self._client.aclose()
