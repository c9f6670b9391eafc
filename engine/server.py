"""The engine over HTTP: EngineApp served by waitress, with a first-start admin bootstrap."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any, cast

from engine.clock import CLOCK_MODES, Clock, ClockMode
from engine.db import Database, sqlite_url
from engine.errors import SchemaMismatch

CREDENTIALS_FILE = "admin-credentials.json"
DATABASE_FILE = "atonix.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def serve(
    *,
    host: str,
    port: int,
    database_url: str | None,
    data_dir: Path,
    clock_mode: str,
    threads: int = 8,
    allow_reset: bool = False,
) -> None:
    """Serve the engine until SIGTERM or SIGINT, then shut down cleanly and return.

    On the first start against an empty database the first admin is created and its
    credentials are written to `<data_dir>/admin-credentials.json` (mode 0600). `port=0`
    binds a free port; the listening line on stderr names the one chosen. `allow_reset` serves
    the admin-only `POST /api/v1/engine/reset/` (test servers only; off by default).
    """
    from waitress.server import create_server

    from engine.api.app import EngineApp
    from engine.identity.service import bootstrap_admin

    if clock_mode not in CLOCK_MODES:
        raise ValueError(
            f"unknown clock mode {clock_mode!r}; choose one of {', '.join(CLOCK_MODES)}"
        )
    clock = Clock(mode=cast(ClockMode, clock_mode))
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _stop_on_signals():
        # Several replicas never race to migrate: `atonix engine migrate` upgrades first.
        url = database_url or sqlite_url(data_dir / DATABASE_FILE)
        db = Database(url, clock=clock, upgrade=False)
        try:
            # Bind before the bootstrap, so a taken port leaves a fresh database untouched.
            try:
                server: Any = create_server(
                    EngineApp(db, allow_reset=allow_reset), host=host, port=port, threads=threads
                )
            except OSError as error:
                reason = error.strerror or str(error)
                raise OSError(f"cannot listen on {host}:{port}: {reason}") from None
            try:
                credentials = bootstrap_admin(db)
                if credentials is not None:
                    path = write_credentials(data_dir / CREDENTIALS_FILE, asdict(credentials))
                    _say(f"atonix engine: first start; admin credentials written to {path}")
                if allow_reset:
                    _say("atonix engine: POST /api/v1/engine/reset/ is enabled (--allow-reset)")
                for listen_host, listen_port in _listening(server):
                    _say(f"atonix engine listening on http://{listen_host}:{listen_port}")
                with _ticking(db):
                    server.run()  # returns once a signal raised SystemExit inside waitress's loop
            finally:
                server.close()
        finally:
            db.dispose()
    _say("atonix engine stopped")


TICK_SECONDS = 0.5


@contextmanager
def _ticking(db: Database) -> Iterator[None]:
    """Work the timeline in the background, so due work happens with no request at all."""
    from engine import timeline

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_SECONDS):
            try:
                timeline.work_due_now(db)
            except Exception:  # a failed tick is retried on the next one
                logging.getLogger("atonix.engine").exception("timeline tick failed")

    worker = threading.Thread(target=tick, name="atonix-timeline", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=5)


def write_credentials(path: Path, credentials: dict[str, str]) -> Path:
    """Write secrets readable by their owner only: the file is 0600 from its first byte."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(credentials, handle, indent=2)
            handle.write("\n")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
    return path


def migrate(*, database_url: str | None, data_dir: Path) -> tuple[str | None, str]:
    """Upgrade a server's database to this release's schema: (the revision it had, head)."""
    from sqlalchemy import create_engine

    from engine import schema

    url = database_url or sqlite_url(data_dir / DATABASE_FILE)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    probe = create_engine(url)
    try:
        with probe.connect() as conn:
            before = schema.current(conn)
    finally:
        probe.dispose()
    Database(url, upgrade=True).dispose()
    return before, schema.HEAD


def _listening(server: Any) -> list[tuple[str, int]]:
    # A host that resolves to several addresses gives a MultiSocketServer with one listen each.
    listens = getattr(server, "effective_listen", None) or [
        (server.effective_host, server.effective_port)
    ]
    return [(f"[{h}]" if ":" in str(h) else str(h), int(p)) for h, p in listens]


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into SystemExit(0), which waitress's loop catches to shut down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.server",
        description="Serve the atonix engine over HTTP (the offline twin of the cloud API).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind ({DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port, 0 for a free one ({DEFAULT_PORT})"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the database and admin credentials live "
        "(default: $ATONIX_ENGINE_DATA_DIR, else <$ATONIX_DATA_DIR or the user data dir>/server)",
    )
    parser.add_argument(
        "--database-url", default=None, help="SQLAlchemy URL (default: <data-dir>/atonix.db)"
    )
    parser.add_argument(
        "--clock",
        choices=CLOCK_MODES,
        default=os.environ.get("ATONIX_CLOCK") or "real",
        help="real time, instant transitions, or a manual clock advanced through the API",
    )
    parser.add_argument("--threads", type=int, default=8, help="worker threads (8)")
    parser.add_argument(
        "--allow-reset",
        action="store_true",
        help="serve POST /api/v1/engine/reset/, which lets an admin wipe everything but the "
        "users and the root API key (for test suites; never on by default)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        serve(
            host=args.host,
            port=args.port,
            database_url=args.database_url,
            data_dir=args.data_dir or default_data_dir(),
            clock_mode=args.clock,
            threads=args.threads,
            allow_reset=args.allow_reset,
        )
    except (OSError, ValueError, SchemaMismatch) as error:
        _say(f"atonix engine: {error}")
        return 1
    return 0


def default_data_dir() -> Path:
    """The server's own data dir, beside the CLI's embedded profiles (never inside one)."""
    configured = os.environ.get("ATONIX_ENGINE_DATA_DIR")
    if configured:
        return Path(configured)
    root = os.environ.get("ATONIX_DATA_DIR")
    if root:
        return Path(root) / "server"
    from platformdirs import user_data_path

    return user_data_path("atonix") / "server"


if __name__ == "__main__":
    sys.exit(main())
