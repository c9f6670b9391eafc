"""Waiting for a resource to reach a state: a spinner on a terminal, silence in a pipe."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

from atonix_cli.errors import CliError, ExitCode

POLL_SECONDS = 0.5


def wait_for_status(
    fetch: Callable[[], dict[str, Any]],
    *,
    wanted: Collection[str],
    label: str,
    timeout: float,
    spinner: bool,
    dead_ends: Collection[str] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll `fetch` until its `status` is in `wanted`; CliError on timeout or a dead end."""
    deadline = time.monotonic() + timeout
    status_line = None
    if spinner:
        from rich.console import Console

        status_line = Console(stderr=True).status(f"Waiting for {label} to be {'/'.join(wanted)}…")
        status_line.start()
    try:
        while True:
            current = fetch()
            status = current.get("status")
            if status in wanted:
                return current
            if status in dead_ends:
                raise CliError(
                    f"{label} is {status}; it can no longer become {'/'.join(wanted)}",
                    ExitCode.CONFLICT,
                )
            if time.monotonic() >= deadline:
                raise CliError(
                    f"timed out after {timeout:g}s waiting for {label} to be "
                    f"{'/'.join(wanted)} (it is {status})",
                    ExitCode.UNAVAILABLE,
                )
            if status_line is not None:
                status_line.update(f"Waiting for {label} to be {'/'.join(wanted)} (now {status})…")
            sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
    finally:
        if status_line is not None:
            status_line.stop()
