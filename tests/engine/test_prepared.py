"""engine.prepared: a prebuilt statement gives what SQLAlchemy's own execute gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    exc,
    insert,
    select,
)
from sqlalchemy.engine import Connection

from engine import prepared
from tests.support.engine import LocalEngine, start_engine

_METADATA = MetaData()
_THINGS = Table(
    "prepared_things",
    _METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
_INSERT = insert(_THINGS)
_BY_NAME = select(_THINGS).where(_THINGS.c.name == bindparam("name"))
_BY_NAMES = select(_THINGS.c.id).where(_THINGS.c.name.in_(bindparam("names", expanding=True)))
_ROW = {
    "name": "alpha",
    "enabled": True,
    "details": {"tags": ["a", "b"], "size": 3},
    "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
}


@pytest.fixture
def conn(tmp_path: Path, database: str) -> Iterator[Connection]:
    local: LocalEngine = start_engine(tmp_path / "prepared", database=database)
    _METADATA.create_all(local.db.engine)
    try:
        with local.db.engine.begin() as connection:
            yield connection
    finally:
        local.close()


def test_an_insert_returns_the_new_rows_id_and_a_select_reads_what_sqlalchemy_reads(
    conn: Connection,
) -> None:
    first = prepared.run(conn, _INSERT, _ROW)
    second = prepared.run(conn, _INSERT, {**_ROW, "name": "beta", "enabled": False})
    assert first.inserted_primary_key is not None and second.inserted_primary_key is not None
    assert second.inserted_primary_key[0] == first.inserted_primary_key[0] + 1

    ours = prepared.run(conn, _BY_NAME, {"name": "alpha"}).all()
    theirs = conn.execute(_BY_NAME, {"name": "alpha"}).all()
    assert [tuple(row) for row in ours] == [tuple(row) for row in theirs]
    row = ours[0]
    assert row.id == first.inserted_primary_key[0]
    assert row.enabled is True and row.details == _ROW["details"]
    assert row.created_at.replace(tzinfo=UTC) == _ROW["created_at"]
    assert prepared.run(conn, _BY_NAME, {"name": "beta"}).first().enabled is False  # type: ignore[union-attr]
    assert prepared.run(conn, _BY_NAME, {"name": "nobody"}).first() is None


def test_a_driver_error_is_raised_as_sqlalchemys_own(conn: Connection) -> None:
    prepared.run(conn, _INSERT, _ROW)
    with pytest.raises(exc.IntegrityError):
        prepared.run(conn, _INSERT, _ROW)


def test_a_missing_required_parameter_and_an_expanding_one_are_refused(
    conn: Connection,
) -> None:
    with pytest.raises(exc.ArgumentError, match="name"):
        prepared.run(conn, _BY_NAME)
    with pytest.raises(ValueError, match="expanding"):
        prepared.run(conn, _BY_NAMES, {"names": ["alpha"]})
