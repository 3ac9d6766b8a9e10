"""CSV text for spreadsheets: one header, then rows, each batch written as it comes."""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# A cell starting with one of these is a formula to Excel, LibreOffice and Sheets: a receipt or
# VPA typed as `=HYPERLINK(…)` must stay text in the accountant's spreadsheet (OWASP's advice).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str | int:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_lines(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """`rows` as CSV lines (RFC 4180, CRLF), each row's `columns` in order, a missing one empty."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([cell(row.get(column)) for column in columns] for row in rows)
    return out.getvalue()


def csv_header(columns: Sequence[str]) -> str:
    return csv_lines([{column: column for column in columns}], columns)
