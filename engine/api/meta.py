"""Endpoints about the API itself."""

from __future__ import annotations

from typing import Any

from engine.api.http import Request
from engine.db import SCHEMA_VERSION

VERSION = "0.1.0"


def health(request: Request) -> dict[str, Any]:
    return {"status": "ok", "version": VERSION, "schema_version": SCHEMA_VERSION}
