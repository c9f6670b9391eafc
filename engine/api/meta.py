"""Endpoints about the API itself: its version, liveness and readiness."""

from __future__ import annotations

from typing import Any

from engine.api.http import Request
from engine.errors import ServiceUnavailable
from engine.schema import HEAD

VERSION = "0.1.0"


def health(request: Request) -> dict[str, Any]:
    return {"status": "ok", "version": VERSION, "schema_version": HEAD}


def healthz(request: Request) -> dict[str, Any]:
    """GET /healthz: the process answers; touches nothing else (a liveness probe)."""
    return {"status": "ok"}


def readyz(request: Request) -> dict[str, Any]:
    """GET /readyz: the database answers and its schema is this release's (a readiness probe);
    503 SERVICE_UNAVAILABLE otherwise."""
    from engine import schema

    try:
        found = schema.current(request.ctx.conn)
    except Exception as error:  # any driver failure means: not ready
        raise ServiceUnavailable(
            f"the database is unreachable: {type(error).__name__}", details={"database": "down"}
        ) from None
    if found != HEAD:
        raise ServiceUnavailable(
            f"the database schema is at {found}, this release needs {HEAD}: "
            "run `atonix engine migrate`",
            details={"schema_version": found, "expected": HEAD},
        )
    return {"status": "ready", "schema_version": HEAD}
