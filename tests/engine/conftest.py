"""Fixtures for engine rule tests: a fresh in-process engine per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import LocalEngine, start_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    """Every rule test runs on SQLite and on PostgreSQL (skipped without one, but in CI)."""
    return str(request.param)


@pytest.fixture
def engine(tmp_path: Path, database: str) -> Iterator[LocalEngine]:
    """An engine on the instant clock: transitional states complete by the next request."""
    local = start_engine(tmp_path / "instant", database=database)
    yield local
    local.close()


@pytest.fixture
def manual(tmp_path: Path, database: str) -> Iterator[LocalEngine]:
    """An engine on a manual clock, standing at EPOCH until a test advances it."""
    local = start_engine(tmp_path / "manual", clock="manual", database=database)
    yield local
    local.close()
