"""WhatsApp Cloud API wire rules (reference providers.md section 6): message bodies, which error
codes pass and which are final, the `X-Hub-Signature-256` check, and reading notifications."""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SIGNATURE_HEADER = "x-hub-signature-256"
# Free-form text is allowed only this long after the customer last wrote (else error 131047).
SERVICE_WINDOW_SECONDS = 24 * 3600
TEXT_MAX_LENGTH = 4096
# Throughput and pair rate limits, and Graph's app-level ones: wait and send again.
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131056})
# Outside the 24 h window: send the approved template instead of text.
OUTSIDE_WINDOW_CODE = 131047


@dataclass(frozen=True, slots=True)
class GraphError:
    code: int | None
    description: str

    @property
    def retryable(self) -> bool:
        return self.code in RATE_LIMIT_CODES


def text_message(to: str, body: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.removeprefix("+"),
        "type": "text",
        "text": {"preview_url": False, "body": body[:TEXT_MAX_LENGTH]},
    }


def template_message(
    to: str, name: str, language: str, body_parameters: list[str], button_parameter: str
) -> dict[str, Any]:
    """The approved template; its URL button is `https://…/l/{{1}}`, so the parameter is the
    link's code. The button's `index` is a string, as the API wants it."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.removeprefix("+"),
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": text} for text in body_parameters],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": button_parameter}],
                },
            ],
        },
    }


def read_error(status_code: int, body: bytes) -> GraphError:
    """Graph's `{"error": {"code", "message", "error_data": {"details"}}}`, or what the HTTP
    status says when the body is not one."""
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    details = (error.get("error_data") or {}).get("details") if isinstance(error, dict) else None
    message = str(details or error.get("message") or f"HTTP {status_code}")
    prefix = f"WhatsApp error {code}: " if code is not None else "WhatsApp: "
    return GraphError(code, (prefix + message)[:500])


def signature(app_secret: str, body: bytes) -> str:
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_matches(app_secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time, on the exact raw bytes (Meta escapes non-ASCII; re-serialising breaks it)."""
    return header is not None and hmac.compare_digest(signature(app_secret, body), header.strip())


@dataclass(frozen=True, slots=True)
class StatusReport:
    message_id: str
    status: str  # sent | delivered | read | failed (| played)
    recipient: str | None
    error: str | None
    occurred_at: datetime | None


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A customer wrote: it opens the 24 h window for text."""

    message_id: str
    sender: str
    occurred_at: datetime | None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _status_error(item: dict[str, Any]) -> str | None:
    errors = item.get("errors") or []
    if not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    details = (first.get("error_data") or {}).get("details")
    text = details or first.get("message") or first.get("title") or "failed"
    return f"WhatsApp error {first.get('code')}: {text}"[:500]


def read_notification(payload: Any) -> tuple[list[StatusReport], list[IncomingMessage]]:
    """Every status and incoming message of a `whatsapp_business_account` notification; a
    body that is not one raises ValueError."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise ValueError("not a whatsapp_business_account notification")
    statuses: list[StatusReport] = []
    messages: list[IncomingMessage] = []
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value") or {}
            for item in value.get("statuses") or []:
                if isinstance(item, dict) and item.get("id") and item.get("status"):
                    statuses.append(
                        StatusReport(
                            message_id=str(item["id"]),
                            status=str(item["status"]),
                            recipient=item.get("recipient_id"),
                            error=_status_error(item),
                            occurred_at=_time(item.get("timestamp")),
                        )
                    )
            for item in value.get("messages") or []:
                if isinstance(item, dict) and item.get("id") and item.get("from"):
                    messages.append(
                        IncomingMessage(
                            message_id=str(item["id"]),
                            sender=str(item["from"]),
                            occurred_at=_time(item.get("timestamp")),
                        )
                    )
    return statuses, messages
