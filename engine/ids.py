"""Public resource ids: `<prefix>-<12 lowercase hex>` (SPEC A5)."""

from __future__ import annotations

import re
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def looks_like(prefix: str, value: str) -> bool:
    return re.fullmatch(rf"{re.escape(prefix)}-[0-9a-f]{{12}}", value) is not None
