"""`atonix engine`: serve the embedded engine over HTTP, and drive its clock."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from atonix_cli.context import current
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.framework import ResourceApp
from atonix_cli.settings import CLOCK_MODES

app = ResourceApp(help="The embedded engine: serve it over HTTP, drive its clock.")
clock_app = ResourceApp(help="The engine clock: show it, or advance a manual one.")
app.add_typer(clock_app, name="clock")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# The server's database, as `serve` and `migrate` both name it.
DatabaseUrl = typer.Option(
    None,
    "--database-url",
    envvar="ATONIX_DATABASE_URL",
    help="SQLAlchemy URL; default SQLite in --data-dir.",
)
DataDir = typer.Option(None, "--data-dir", help="Default: <atonix data dir>/server.")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", min=0, max=65535),
    database_url: str | None = DatabaseUrl,
    data_dir: Path | None = DataDir,
    clock: str = typer.Option("real", "--clock", help=f"{', '.join(CLOCK_MODES)}."),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=256,
        help="Worker processes serving the API on one port; each works the timeline.",
    ),
    threads: int = typer.Option(8, "--threads", min=1, max=256, help="Threads per worker."),
    allow_reset: bool = typer.Option(
        False,
        "--allow-reset",
        help="Serve POST /api/v1/engine/reset/: an admin may wipe all but users and the root key "
        "(for test suites).",
    ),
) -> None:
    """Serve the engine's API over HTTP (the same API the embedded mode uses).

    The first start creates an admin user and says where its credentials were written.
    SIGTERM or Ctrl-C stops it and its workers cleanly.

    Example: atonix engine serve --port 8765 --workers 2
    """
    if clock not in CLOCK_MODES:
        raise CliError(f"--clock must be one of {', '.join(CLOCK_MODES)}", ExitCode.USAGE)
    from engine.errors import SchemaMismatch
    from engine.server import default_data_dir
    from engine.server import serve as run_server

    try:
        run_server(
            host=host,
            port=port,
            database_url=database_url,
            data_dir=data_dir or default_data_dir(),
            clock_mode=clock,
            threads=threads,
            workers=workers,
            allow_reset=allow_reset,
        )
    except OSError as exc:
        raise CliError(str(exc), ExitCode.UNAVAILABLE) from None
    except SchemaMismatch as exc:
        raise CliError(str(exc), ExitCode.CONFLICT) from None


@app.command("migrate")
def migrate(
    database_url: str | None = DatabaseUrl,
    data_dir: Path | None = DataDir,
) -> None:
    """Upgrade a server's database to this release's schema (a SQLite file is copied aside
    first). `atonix engine serve` refuses a database that needs it; the embedded engine upgrades
    its own file by itself.

    Example: atonix engine migrate --database-url postgresql+psycopg://atonix@db/atonix
    """
    from engine.errors import SchemaMismatch
    from engine.server import default_data_dir
    from engine.server import migrate as run_migrations

    cli = current()
    try:
        before, head = run_migrations(
            database_url=database_url, data_dir=data_dir or default_data_dir()
        )
    except SchemaMismatch as exc:
        raise CliError(str(exc), ExitCode.CONFLICT) from None
    if before == head:
        cli.info(f"the database is at schema {head} already")
    elif before is None:
        cli.info(f"created a new database at schema {head}")
    else:
        cli.info(f"upgraded the database from schema {before} to {head}")
    cli.render({"from": before, "to": head})


@clock_app.command("show")
def show_clock() -> None:
    """Show the engine clock's mode and time.

    Example: atonix engine clock show
    """
    cli = current()
    cli.render(cli.client.get("clock/"))


@clock_app.command("advance")
def advance(
    duration: str = typer.Argument(..., help="Seconds, or a number with s, m, h or d."),
) -> None:
    """Advance a manual clock; due transitions complete on the next read.

    Example: atonix engine clock advance 5m
    """
    cli = current()
    found = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", duration.strip())
    if not found:
        raise CliError(f"{duration!r} is not a duration like 30, 30s, 5m, 2h or 1d", ExitCode.USAGE)
    seconds = float(found.group(1)) * _UNITS[found.group(2) or "s"]
    cli.render(cli.client.post("clock/advance/", {"seconds": seconds}))
