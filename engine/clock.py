"""The engine's injectable clock: instant, real or manual time (durations are declared by each
collection's state machine)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

ClockMode = Literal["real", "instant", "manual"]
CLOCK_MODES: tuple[ClockMode, ...] = ("real", "instant", "manual")


def utcnow() -> datetime:
    """Wall-clock time, timezone-aware in UTC, the form every timestamp is stored in."""
    return datetime.now(UTC)


@dataclass
class Clock:
    """Which time the engine runs on; manual time itself lives in the database so it persists."""

    mode: ClockMode = "real"

    def duration(self, seconds: float) -> timedelta:
        """How long a transition declared to take `seconds` lasts on this clock."""
        return timedelta(0) if self.mode == "instant" else timedelta(seconds=seconds)

    @classmethod
    def from_env(cls, default: str | None = None) -> Clock:
        mode = os.environ.get("ATONIX_CLOCK") or default or "real"
        if mode not in CLOCK_MODES:
            raise ValueError(f"unknown clock mode {mode!r}; choose one of {', '.join(CLOCK_MODES)}")
        return cls(mode=mode)
