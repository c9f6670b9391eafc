"""The engine over HTTP: EngineApp served by granian in worker processes, with a first-start
admin bootstrap in the main process."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import socket
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
    workers: int = 1,
    allow_reset: bool = False,
) -> None:
    """Serve the engine until SIGTERM or SIGINT, then shut down cleanly and return.

    `workers` processes of `threads` threads each serve the API (granian, WSGI), sharing one
    listening port; the main process only supervises them. On the first start against an empty
    database the first admin is created, once and before any worker starts, and its credentials
    are written to `<data_dir>/admin-credentials.json` (mode 0600). `port=0` binds a free port;
    the listening line on stderr names the one chosen. `allow_reset` serves the admin-only
    `POST /api/v1/engine/reset/` (test servers only; off by default).
    """
    from engine.identity.service import bootstrap_admin

    if clock_mode not in CLOCK_MODES:
        raise ValueError(
            f"unknown clock mode {clock_mode!r}; choose one of {', '.join(CLOCK_MODES)}"
        )
    if workers < 1 or threads < 1:
        raise ValueError("--workers and --threads must be at least 1")
    server_class = _server_class()
    url = database_url or sqlite_url(data_dir / DATABASE_FILE)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _stop_on_signals():
        # Hold the address before the bootstrap, so a taken port leaves a fresh database
        # untouched; this socket never listens, it only keeps the port ours until the end.
        reserved = _reserve(host, port)
        try:
            address, bound_port = reserved.getsockname()[:2]
            # Several replicas never race to migrate: `atonix engine migrate` upgrades first.
            db = Database(
                url,
                clock=Clock(mode=cast(ClockMode, clock_mode)),
                upgrade=False,
                data_dir=data_dir,
            )
            try:
                credentials = bootstrap_admin(db)
                _sweep_blobs(db)
            finally:
                db.dispose()  # no connection of the main process crosses into a worker
            if credentials is not None:
                path = write_credentials(data_dir / CREDENTIALS_FILE, asdict(credentials))
                _say(f"atonix engine: first start; admin credentials written to {path}")
            if allow_reset:
                _say("atonix engine: POST /api/v1/engine/reset/ is enabled (--allow-reset)")
            server = server_class(
                "engine.server:worker_app",  # a name for the process title; the loader below
                address=address,
                port=bound_port,
                interface=_wsgi_interface(),
                workers=workers,
                blocking_threads=threads,
                respawn_failed_workers=True,
                log_dictconfig=LOG_CONFIG,
            )
            shown = f"[{address}]" if ":" in address else address
            server.on_startup(
                lambda: _say(f"atonix engine listening on http://{shown}:{bound_port}")
            )
            loader = functools.partial(worker_app, url, clock_mode, allow_reset, data_dir)
            try:
                server.serve(target_loader=loader, wrap_loader=False)
            except RuntimeError as error:  # granian's own bind, which the reservation made sure of
                reason = str(error).split("\n", 1)[0]
                raise OSError(f"cannot listen on {host}:{bound_port}: {reason}") from None
            except SystemExit as stop:
                if stop.code:
                    _say("atonix engine: a worker process kept failing; stopped")
                raise
        finally:
            reserved.close()
    _say("atonix engine stopped")


def _sweep_blobs(db: Database) -> None:
    """Remove what uploads interrupted before this start left in the blob store (a kill -9 of
    the last server), before any request; a store still in use by another replica keeps what
    its uploads hold locked. Storage's modules load only when there is a store."""
    if not (db.data_dir / "blobs").is_dir():
        return
    from engine.storage.data import sweep

    db.ensure_tables()
    removed = sweep(db)
    if removed:
        _say(f"atonix engine: removed {removed} interrupted upload(s) from the object store")


# granian's own logging, and the workers' (the engine's logger included), on stderr.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "generic": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"},
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {
            "formatter": "generic",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
        "access": {
            "formatter": "access",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        },
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def worker_app(
    database_url: str, clock_mode: str, allow_reset: bool, data_dir: Path | None = None
) -> Any:
    """In each worker process: its own database pool, the app, and a timeline ticker.

    Every worker ticks; an item is claimed under the database's write lock, so each is done
    once whichever worker gets there first. The ticker stops, and the pool closes, as the
    worker process exits.
    """
    from multiprocessing import util

    from engine import timeline  # noqa: F401  (its table, before the first tick reads it)
    from engine.api.app import EngineApp

    db = Database(
        database_url,
        clock=Clock(mode=cast(ClockMode, clock_mode)),
        upgrade=False,
        data_dir=data_dir,
    )
    app = EngineApp(db, allow_reset=allow_reset)
    db.ensure_tables()
    ticker = Ticker(db)
    ticker.start()

    def close() -> None:
        ticker.stop()
        db.dispose()

    util.Finalize(ticker, close, exitpriority=10)
    return app


def _server_class() -> Any:
    try:
        from granian.server import Server
    except ImportError:
        raise OSError(
            "serving the engine needs granian, which atonix depends on: reinstall atonix"
        ) from None

    class EngineServer(Server):  # type: ignore[misc,valid-type]
        def shutdown(self, exit_code: int = 0) -> None:
            # A signal to the whole process group (Ctrl-C) may stop a worker before the main
            # process does: that is part of the requested stop, not a failure.
            if self.interrupt_signal:
                self.interrupt_children.clear()
            super().shutdown(exit_code)

    return EngineServer


def _wsgi_interface() -> Any:
    from granian.constants import Interfaces

    return Interfaces.WSGI


def _reserve(host: str, port: int) -> socket.socket:
    """Bind (not listen) the address, with SO_REUSEPORT as granian's workers bind it."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        reserved = socket.socket(family, kind, proto)
    except OSError as error:
        reason = error.strerror or str(error)
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from None
    try:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind(address)
    except OSError as error:
        reserved.close()
        reason = error.strerror or str(error)
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from None
    return reserved


TICK_SECONDS = 0.5


class Ticker:
    """Works the timeline in the background, so due work happens with no request at all."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="atonix-timeline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        from engine import timeline

        while not self._stop.wait(TICK_SECONDS):
            try:
                timeline.work_due_now(self.db, wait=False)
            except Exception:  # a failed tick is retried on the next one
                logging.getLogger("atonix.engine").exception("timeline tick failed")


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
    from engine import schema

    db = Database(database_url or sqlite_url(data_dir / DATABASE_FILE), upgrade=True)
    db.dispose()
    return db.schema_found, schema.HEAD


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Until granian takes the signals over, SIGTERM and SIGINT stop the start-up: SystemExit(0)."""
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
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes serving the API, sharing the port (1); each works the timeline",
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process (8)")
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
            workers=args.workers,
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
