"""Previous/next links over a services Page."""

from dataclasses import dataclass

from hazina.services.pages import Page


@dataclass(frozen=True, slots=True)
class Pager:
    first: int  # 1-based position of the first row shown (0 when there are none)
    last: int
    total: int
    previous_offset: int | None
    next_offset: int | None


def pager(page: Page) -> Pager:
    shown = len(page.data)
    has_previous = page.offset > 0
    has_next = page.offset + shown < page.total
    return Pager(
        first=page.offset + 1 if shown else 0,
        last=page.offset + shown,
        total=page.total,
        previous_offset=max(page.offset - page.limit, 0) if has_previous else None,
        next_offset=page.offset + page.limit if has_next else None,
    )
