"""Stripe's request side for the fake: form decoding, parameter checks and the error body."""

import re
from typing import Any


class StripeApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": self.kind,
            "code": self.code,
            "message": self.message,
            "param": self.param,
        }
        if self.code:
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        return {"error": error}


def missing(kind: str, object_id: str, param: str, status: int = 404) -> StripeApiError:
    return StripeApiError(
        status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to objects: `a[b][c]=v` nests, `a[0]=v` indexes a list."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise StripeApiError(400, f"Invalid object: {key}", param=parts[0])
            node = child
        last = parts[-1] or str(len(node))  # `expand[]=x` appends
        node[last] = value
    return {key: _listed(child) for key, child in root.items()}


def _listed(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {key: _listed(child) for key, child in value.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


SESSION_PARAMS = frozenset({
    "mode", "success_url", "cancel_url", "line_items", "client_reference_id", "customer_email",
    "customer", "metadata", "payment_intent_data", "payment_method_types", "locale",
    "expires_at", "expand",
})  # fmt: skip
REFUND_PARAMS = frozenset({"payment_intent", "charge", "amount", "reason", "metadata", "expand"})
CAPTURE_PARAMS = frozenset({"amount_to_capture", "expand", "metadata"})
INTENT_PARAMS = frozenset({
    "amount", "currency", "automatic_payment_methods", "payment_method_types", "metadata",
    "capture_method", "description", "receipt_email", "expand",
})  # fmt: skip
CANCEL_PARAMS = frozenset({"cancellation_reason", "expand"})
CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})
CAPTURE_METHODS = frozenset({"automatic", "automatic_async", "manual"})
_LINE_ITEM_PARAMS = frozenset({"price_data", "quantity"})
_PRICE_DATA_PARAMS = frozenset({"currency", "unit_amount", "product_data"})


def allow(params: dict[str, Any], known: frozenset[str], prefix: str = "") -> None:
    for name in params:
        if name not in known:
            full = f"{prefix}[{name}]" if prefix else name
            raise StripeApiError(
                400, f"Received unknown parameter: {full}", code="parameter_unknown", param=full
            )


def integer(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeApiError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        ) from None


def strings(value: Any, param: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise StripeApiError(400, "Invalid object", param=param)
    return dict(value)


def line_item_total(item: Any, param: str) -> tuple[int, str]:
    """(amount of the line, its currency)."""
    if not isinstance(item, dict):
        raise StripeApiError(400, "Invalid object", param=param)
    allow(item, _LINE_ITEM_PARAMS, param)
    price = item.get("price_data")
    if not isinstance(price, dict):
        raise StripeApiError(
            400,
            "You must specify either `price` or `price_data` in each line item.",
            code="parameter_missing",
            param=f"{param}[price_data]",
        )
    allow(price, _PRICE_DATA_PARAMS, f"{param}[price_data]")
    product = price.get("product_data")
    if not isinstance(product, dict) or not product.get("name"):
        raise StripeApiError(
            400,
            "Missing required param: product_data[name].",
            code="parameter_missing",
            param=f"{param}[price_data][product_data][name]",
        )
    currency = str(price.get("currency", ""))
    if len(currency) != 3 or currency != currency.lower():
        raise StripeApiError(
            400,
            f"Invalid currency: {currency}.",
            code="parameter_invalid_string",
            param=f"{param}[price_data][currency]",
        )
    unit = integer(price.get("unit_amount"), f"{param}[price_data][unit_amount]")
    quantity = integer(item.get("quantity", 1), f"{param}[quantity]")
    if unit < 0 or quantity < 1:
        raise StripeApiError(
            400, "Invalid positive integer", code="parameter_invalid_integer", param=param
        )
    return unit * quantity, currency
