"""Generic gateways: any payment website that sends the customer back and signs a webhook.

The rules, without I/O: a gateway's name (its method is `generic:{name}`), its redirect URL
template, the `X-Hazina-Signature` scheme (`t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, as
Stripe signs, with a 5-minute tolerance) and the notification's payload (seed 004).
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

from hazina.domain.errors import BadRequest
from hazina.domain.money import exponent, to_major

GENERIC = "generic"
METHOD_PREFIX = f"{GENERIC}:"
SIGNATURE_HEADER = "X-Hazina-Signature"
# Older signatures are replays, not news; a clock a little ahead is tolerated the same way.
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "gwsec_"  # noqa: S105 (a prefix, not a secret)
# The credential fields of a gateway account: the secret, and the one it replaced while the
# overlap after a rotation lasts.
SIGNING_SECRET = "signing_secret"  # noqa: S105 (a field name)
PREVIOUS_SIGNING_SECRET = "previous_signing_secret"  # noqa: S105 (a field name)
# The account's setting (not secret) where its redirect URL template lives.
TEMPLATE_SETTING = "redirect_url_template"
# Lower-case letters, digits and dashes; short, since `generic:{name}` is a payment's method.
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,11}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PLACEHOLDERS = ("payment_id", "amount", "currency", "return_url")
MAX_TEMPLATE_LENGTH = 2000


class SignatureRefused(ValueError):
    """The signature header is missing, malformed, stale or matches no secret."""


def validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise BadRequest(
            "A gateway name is 1 to 12 lower-case letters, digits or dashes, starting with a "
            "letter or digit"
        )
    return name


def gateway_name(method: str) -> str | None:
    """`generic:shop` → `shop`; None for any other method."""
    return method[len(METHOD_PREFIX) :] if method.startswith(METHOD_PREFIX) else None


def validate_template(template: str) -> str:
    """An http(s) URL naming `{payment_id}`, with no placeholder but the four known ones."""
    clean = template.strip()
    if not clean or len(clean) > MAX_TEMPLATE_LENGTH:
        raise BadRequest(f"redirect_url_template must be 1 to {MAX_TEMPLATE_LENGTH} characters")
    parts = urlsplit(clean)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest("redirect_url_template must be an http:// or https:// URL")
    names = _PLACEHOLDER.findall(clean)
    unknown = sorted(set(names) - set(PLACEHOLDERS))
    if unknown:
        raise BadRequest(
            f"Unknown placeholders in redirect_url_template: {', '.join(unknown)} "
            f"(use {', '.join('{' + name + '}' for name in PLACEHOLDERS)})"
        )
    if "payment_id" not in names:
        raise BadRequest(
            "redirect_url_template must contain {payment_id}: the gateway's webhook names it"
        )
    return clean


def fill_template(
    template: str, payment_id: str, amount: int, currency: str, return_url: str
) -> str:
    """Each placeholder becomes its value, percent-encoded (the return URL too)."""
    values = {
        "payment_id": payment_id,
        "amount": to_major(amount, currency),
        "currency": currency,
        "return_url": return_url,
    }
    return _PLACEHOLDER.sub(lambda match: quote(values[match.group(1)], safe=""), template)


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header value a gateway sends: what the docs page's snippets compute."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(header: str | None, body: bytes, secrets_: Iterable[str], now: int) -> None:
    """Accept when any `v1` matches any secret (the overlap after a rotation) and `t` is within
    the tolerance either side of `now`; SignatureRefused otherwise (never naming a value)."""
    if not header:
        raise SignatureRefused(f"The {SIGNATURE_HEADER} header is missing.")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and timestamp is None:
            timestamp = int(value) if value.isdigit() else None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureRefused(f"The {SIGNATURE_HEADER} header is not t=<unix>,v1=<hex>.")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureRefused(
            f"The signature's timestamp is more than {TOLERANCE_SECONDS} seconds from now."
        )
    for secret in secrets_:
        expected = sign(body, secret, timestamp).rsplit("v1=", 1)[1]
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return
    raise SignatureRefused("No signature matches the payload.")


def reported_amount(value: Any, currency: str) -> int:
    """The payload's decimal `amount` (`150.00`, as a number or a string) in minor units;
    ValueError when it is not an amount the currency can hold."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("amount must be a decimal number")
    try:
        # A float's shortest repr (150.1 → "150.1"), never its binary expansion.
        figure = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise ValueError("amount must be a decimal number") from None
    scaled = figure.scaleb(exponent(currency))
    if not figure.is_finite() or figure < 0 or scaled != scaled.to_integral_value():
        raise ValueError(f"amount {value!r} is not an amount in {currency}")
    return int(scaled)
