"""Lists: one page of rows and their total, in the contract's list envelope."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hazina.db.models import Base

Row = TypeVar("Row", bound=Base)


@dataclass(frozen=True, slots=True)
class Page:
    data: list[dict[str, Any]]
    total: int
    limit: int
    offset: int

    def body(self) -> dict[str, Any]:
        """`{"data", "total", "limit", "offset"}`, as every list endpoint answers."""
        return {"data": self.data, "total": self.total, "limit": self.limit, "offset": self.offset}


async def fetch_page(
    session: AsyncSession,
    model: type[Row],
    filters: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    render: Callable[[Row], dict[str, Any]],
    limit: int,
    offset: int,
) -> Page:
    """Count the rows `filters` select, then render the `limit` of them from `offset`."""
    total = await session.scalar(select(func.count()).select_from(model).where(*filters))
    rows = await session.scalars(
        select(model).where(*filters).order_by(*order_by).limit(limit).offset(offset)
    )
    return Page([render(row) for row in rows], int(total or 0), limit, offset)
