"""The engine's injectable clock: instant, real or manual time, and how long transitions last."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

ClockMode = Literal["real", "instant", "manual"]
CLOCK_MODES: tuple[ClockMode, ...] = ("real", "instant", "manual")

# Seconds a transitional state lasts in real and manual time, keyed "<resource_type>.<state>".
TRANSITION_SECONDS: dict[str, float] = {
    "instance.pending": 3.0,
    "instance.stopping": 2.0,
    "instance.terminating": 2.0,
}


def utcnow() -> datetime:
    """Wall-clock time, timezone-aware in UTC, the form every timestamp is stored in."""
    return datetime.now(UTC)


@dataclass
class Clock:
    """Which time the engine runs on; manual time itself lives in the database so it persists."""

    mode: ClockMode = "real"
    durations: dict[str, float] = field(default_factory=lambda: dict(TRANSITION_SECONDS))

    def duration(self, key: str) -> timedelta:
        if self.mode == "instant":
            return timedelta(0)
        return timedelta(seconds=self.durations.get(key, 0.0))

    @classmethod
    def from_env(cls, default: str | None = None) -> Clock:
        mode = os.environ.get("ATONIX_CLOCK") or default or "real"
        if mode not in CLOCK_MODES:
            raise ValueError(f"unknown clock mode {mode!r}; choose one of {', '.join(CLOCK_MODES)}")
        return cls(mode=mode)
