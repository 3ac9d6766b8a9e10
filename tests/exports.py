"""Reading a CSV export back, and what an API payment object reads as in it."""

import csv
import io
from typing import Any

from hazina.services.reporting.exports import PAYMENT_COLUMNS

# Not in the API's payment object: the export adds the order's receipt and the provider.
ADDED = {"receipt": "", "provider": ""}


def read_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == PAYMENT_COLUMNS
    return list(reader)


def without_added(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [row | ADDED for row in rows]


def as_csv(payment: dict[str, Any]) -> dict[str, str]:
    """The API's payment object as its export row reads, the added columns left empty."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return {column: text(payment.get(column)) for column in PAYMENT_COLUMNS} | ADDED
