"""Reading one merchant-owned row by its id, or 404: the one way the API looks a resource up.

Each lookup is a statement prepared once (`hazina.db.prepared`), so a read by id is one round
trip without the ORM; the merchant filter is part of the statement, never an afterthought.
"""

import uuid
from typing import cast

from sqlalchemy import Table, bindparam, select

from hazina.db.database import Database
from hazina.db.models import Base
from hazina.db.prepared import Prepared, Row
from hazina.domain.errors import NotFound


class OwnedLookup:
    """`load` answers the row of `model` with this id and merchant, or 404 "<noun> not found"."""

    __slots__ = ("_missing", "_query")

    def __init__(self, model: type[Base], noun: str) -> None:
        table = cast(Table, model.__table__)
        self._query = Prepared(
            select(table).where(
                table.c.id == bindparam("row_id"), table.c.merchant_id == bindparam("merchant_id")
            )
        )
        self._missing = f"{noun} not found"

    async def load(self, db: Database, merchant_id: uuid.UUID, row_id: str) -> Row:
        row = await db.fetch_one(self._query, {"row_id": row_id, "merchant_id": merchant_id})
        if row is None:
            raise NotFound(self._missing)
        return row
