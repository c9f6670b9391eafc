"""Synthetic instance metrics: deterministic samples for the time an instance has been running."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.compute.instances import Instance

MONITORED_INTERVAL = 60  # seconds between samples with enable_monitoring (SPEC B3)
BASIC_INTERVAL = 300
MAX_SAMPLES = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _unit(instance_id: str, second: int, channel: str) -> float:
    """A pseudo-random number in [0, 1) fixed by (instance, time, channel)."""
    digest = hashlib.blake2b(f"{instance_id}:{second}:{channel}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _running_window(instance: Instance, now: datetime) -> tuple[datetime, datetime] | None:
    """The span of the latest run: from launch until now, or until it stopped or ended."""
    start = instance.launch_time
    if start is None or instance.status == "cancelled":
        return None
    end = now
    if instance.status in ("stopping", "stopped") and instance.stop_time:
        end = instance.stop_time
    if instance.status in ("terminating", "terminated") and instance.termination_time:
        end = instance.termination_time
    if instance.status == "pending":
        return None
    return (start, end) if end >= start else None


def sample(instance_id: str, second: int, interval: int) -> dict[str, Any]:
    base = 15 + 50 * _unit(instance_id, 0, "base")
    wave = 20 * math.sin(2 * math.pi * second / 3600 + 6.283 * _unit(instance_id, 0, "phase"))
    cpu = base + wave + 20 * (_unit(instance_id, second, "cpu") - 0.5)
    memory = 30 + 40 * _unit(instance_id, 0, "mem") + 10 * _unit(instance_id, second, "mem")
    traffic = 1 + 9 * _unit(instance_id, 0, "net")
    return {
        "timestamp": _EPOCH + timedelta(seconds=second),
        "cpu_usage_percent": round(min(max(cpu, 0.0), 100.0), 2),
        "memory_usage_percent": round(min(memory, 100.0), 2),
        "disk_usage_percent": round(20 + 30 * _unit(instance_id, 0, "disk"), 2),
        "network_in_bytes": int(
            traffic * interval * 1e4 * (0.5 + _unit(instance_id, second, "in"))
        ),
        "network_out_bytes": int(
            traffic * interval * 5e3 * (0.5 + _unit(instance_id, second, "out"))
        ),
        "io_read_bytes": int(interval * 4e4 * _unit(instance_id, second, "rd")),
        "io_write_bytes": int(interval * 2e4 * _unit(instance_id, second, "wr")),
    }


def samples(instance: Instance, *, now: datetime, limit: int = MAX_SAMPLES) -> list[dict[str, Any]]:
    """The latest `limit` samples of the current or last run, newest first.

    Samples fall at launch time and every interval after it, so a running instance always has
    at least one, and the same instance at the same clock time always gives the same samples.
    """
    window = _running_window(instance, now)
    if window is None:
        return []
    interval = MONITORED_INTERVAL if instance.enable_monitoring else BASIC_INTERVAL
    first = int((window[0] - _EPOCH).total_seconds())
    count = int((window[1] - window[0]).total_seconds()) // interval + 1
    out = []
    for k in range(count - 1, max(count - 1 - limit, -1), -1):
        second = first + k * interval
        out.append(
            {"instance_id": instance.instance_id, **sample(instance.instance_id, second, interval)}
        )
    return out
