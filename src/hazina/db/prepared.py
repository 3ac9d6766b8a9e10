"""The hot paths' statements: built once with SQLAlchemy Core, compiled once per dialect, and run
on the driver's own connection (asyncpg, aiosqlite), from `Database`'s pools.

A checkout's polling, an authenticated read by id or an idempotent replay is one statement: run
through a session it costs a BEGIN, the statement and a ROLLBACK, three round trips, and the
ORM's identity map on top. Here it is one round trip (a single statement commits on its own), and
values cross the same bind and result processors SQLAlchemy would apply, so a row reads exactly
as it would through the ORM. Everything that needs a transaction keeps `Database.transaction()`.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

Processor = Callable[[Any], Any] | None


class Row:
    """A result row read by attribute, like the model it comes from."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:  # column names only: values may be customer data
        return f"Row({', '.join(self._values)})"


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement in one dialect: its SQL text and what converts values on the way."""

    sql: str
    # Bind parameter names in the driver's positional order, and their processors.
    params: tuple[str, ...]
    binds: tuple[Processor, ...]
    columns: tuple[str, ...]
    results: tuple[Processor, ...]

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [
            value if bind is None else bind(value)
            for value, bind in zip((values[name] for name in self.params), self.binds, strict=True)
        ]

    def row(self, record: Sequence[Any]) -> Row:
        return Row(
            {
                name: value if result is None else result(value)
                for name, value, result in zip(self.columns, record, self.results, strict=True)
            }
        )


class Prepared:
    """A Core statement whose compiled form is kept per dialect: each request only binds."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return found


def _compile(statement: Executable, dialect: Dialect) -> Compiled:
    compiled = cast(ClauseElement, statement).compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    binds = tuple(
        compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    # The columns a SELECT or an INSERT … RETURNING produces, in the order the driver returns.
    produced = list(getattr(statement, "exported_columns", ()))
    columns = tuple(column.key for column in produced)
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in produced
    )
    return Compiled(compiled.string, names, binds, columns, results)
