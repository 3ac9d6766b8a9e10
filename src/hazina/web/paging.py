"""Previous/next links over a services Page, keeping the page's other query parameters."""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from hazina.services.pages import Page


@dataclass(frozen=True, slots=True)
class Pager:
    first: int  # 1-based position of the first row shown (0 when there are none)
    last: int
    total: int
    previous_href: str | None
    next_href: str | None


def pager(page: Page, query: Mapping[str, str] | None = None) -> Pager:
    """`query` (a filter's fields) rides along on both links, so paging keeps the filter."""
    shown = len(page.data)
    has_previous = page.offset > 0
    has_next = page.offset + shown < page.total

    def href(offset: int) -> str:
        return "?" + urlencode({**(query or {}), "offset": offset})

    return Pager(
        first=page.offset + 1 if shown else 0,
        last=page.offset + shown,
        total=page.total,
        previous_href=href(max(page.offset - page.limit, 0)) if has_previous else None,
        next_href=href(page.offset + page.limit) if has_next else None,
    )
