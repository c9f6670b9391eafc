"""Prebuilt Core statements run on the driver's own cursor: compiled once, no per-call pipeline.

SQLAlchemy spends about 45 µs on a Core statement before the database sees it (its cache key,
an execution context, parameter and result set-up); SQLite then runs a create's statements in
5-10 µs each. A create runs some fifteen, so that pipeline was a third of its time. A statement
built once (at import, or cached) and run through `run` is compiled once per dialect and set of
parameter names; each call then passes its parameters through their types' bind processors,
runs it on the DBAPI cursor of the caller's connection (its transaction), and reads its rows
through their result processors: the values SQLAlchemy would give, DBAPI errors raised as
SQLAlchemy's own (IntegrityError, ...). Not for the ORM's identity map: nothing is flushed first
and no loaded object is refreshed, as with `Connection.execute`.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

_EMPTY: Mapping[str, Any] = {}
_REQUIRED = object()


class Result:
    """What a statement returned: its rows (named tuples), rowcount and new row id."""

    __slots__ = ("_rows", "inserted_primary_key", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int, inserted_primary_key: Any) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.inserted_primary_key = inserted_primary_key

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any | None:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise exc.NoResultFound("no row") if not self._rows else exc.MultipleResultsFound()
        return self._rows[0][0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


class _Plan(NamedTuple):
    sql: str
    positional: bool
    # (parameter name as the caller passes it, name in the SQL, default, bind processor)
    binds: tuple[tuple[str, str, Any, Callable[[Any], Any] | None], ...]
    row: Any  # the named tuple of a returned row, or None when the statement returns none
    results: tuple[Callable[[Any], Any] | None, ...]
    pk_from: int | None  # where an INSERT's new row id is in its RETURNING row
    lastrowid: bool  # or whether it is the cursor's lastrowid
    error: type[Exception]


_PLANS: dict[tuple[int, str, tuple[str, ...]], tuple[Any, _Plan]] = {}


def run(bind: Connection | Session, statement: Any, params: Mapping[str, Any] = _EMPTY) -> Result:
    """Run a prebuilt `statement` with `params` in the transaction of `bind` (a connection, or
    a session's connection: its pending objects are not flushed first)."""
    conn = bind if isinstance(bind, Connection) else bind.connection()
    dialect = conn.dialect
    key = (id(statement), dialect.name, tuple(params))
    found = _PLANS.get(key)
    if found is None or found[0] is not statement:
        found = _PLANS[key] = (statement, _plan(statement, dialect, tuple(params)))
    plan = found[1]
    args: Any
    if plan.positional:
        args = [_value(params, name, default, process) for name, _, default, process in plan.binds]
    else:
        args = {
            sql_name: _value(params, name, default, process)
            for name, sql_name, default, process in plan.binds
        }
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(plan.sql, args)
        rows: list[Any] = []
        if plan.row is not None:
            make, results = plan.row._make, plan.results
            rows = [
                make([v if p is None else p(v) for v, p in zip(raw, results, strict=True)])
                for raw in cursor.fetchall()
            ]
        pk = None
        if plan.pk_from is not None:
            pk = (rows[0][plan.pk_from],) if rows else None
        elif plan.lastrowid:
            pk = (cursor.lastrowid,)
        return Result(rows, cursor.rowcount, pk)
    except plan.error as error:
        raise exc.DBAPIError.instance(plan.sql, args, error, plan.error, dialect=dialect) from error
    finally:
        cursor.close()


def _value(params: Mapping[str, Any], name: str, default: Any, process: Any) -> Any:
    value = params.get(name, default)
    if value is _REQUIRED:
        raise exc.ArgumentError(f"a value is required for bind parameter {name!r}")
    return value if process is None else process(value)


def _plan(statement: Any, dialect: Dialect, names: tuple[str, ...]) -> _Plan:
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(names))
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("prepared statements take no expanding or literal-execute parameters")
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise ValueError("prepared statements take no Python-side column defaults")
    by_sql_name = {sql_name: bind for bind, sql_name in compiled.bind_names.items()}
    order = compiled.positiontup if compiled.positional else list(by_sql_name)
    binds = []
    for sql_name in order:
        bind: BindParameter[Any] = by_sql_name[sql_name]
        default = _REQUIRED if bind.required else bind.effective_value
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        binds.append((bind.key, sql_name, default, process))
    is_dml = compiled.isinsert or compiled.isupdate or compiled.isdelete
    if is_dml:
        columns = compiled.effective_returning or []
    else:  # a SELECT, or a text statement (BEGIN) that returns no rows
        columns = list(getattr(statement, "selected_columns", ()))
    row: Any = None
    results: tuple[Callable[[Any], Any] | None, ...] = ()
    pk_from: int | None = None
    if columns:
        row = _row_type([c.key for c in columns])
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        if compiled.isinsert:
            primary = list(statement.table.primary_key)
            pk_from = next((i for i, c in enumerate(columns) if c in primary), None)
    return _Plan(
        sql=compiled.string,
        positional=bool(compiled.positional),
        binds=tuple(binds),
        row=row,
        results=results,
        pk_from=pk_from,
        lastrowid=bool(compiled.isinsert)
        and pk_from is None
        and bool(getattr(dialect, "postfetch_lastrowid", False)),
        error=dialect.loaded_dbapi.Error,
    )


def _row_type(names: list[str]) -> Any:
    """A named tuple for a statement's rows (names that are not identifiers are renamed)."""
    return namedtuple("Row", names, rename=True)


def _postfetches_lastrowid(dialect: Dialect) -> bool:
    """Whether the dialect reads a new row's id from the cursor (SQLite) rather than RETURNING."""
    return bool(getattr(dialect, "postfetch_lastrowid", False))
