"""The `atonix` entry point: builds the root command and turns every failure into an exit code."""

from __future__ import annotations

import gc
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from atonix_cli import __version__
from atonix_cli.context import Application
from atonix_cli.errors import ApiFailure, CliError, ExitCode
from atonix_cli.framework import GLOBAL_NAMES, LazyRootGroup, global_params, merge_globals

HELP = """The AtonixCorp cloud from your terminal, or an offline twin of it on this machine.

With no profile, commands run against the embedded engine (SQLite, no server, nothing to set up).
Point a profile at an endpoint to use a remote cloud or a shared `atonix engine serve`.

\b
  atonix instance create --name web-1 --flavor t3.micro --image ubuntu-22.04 --wait

  atonix instance list -o json --query '[].name'
"""


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"atonix {__version__}")
        ctx.exit(0)


def _root_callback(**values: Any) -> None:
    merge_globals(click.get_current_context(), {n: values.get(n) for n in GLOBAL_NAMES})


def build_root() -> click.Group:
    params = [
        *global_params(),
        click.Option(
            ["--version"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_version,
            help="Show the version and exit.",
        ),
    ]
    return LazyRootGroup(
        name="atonix",
        params=params,
        callback=_root_callback,
        help=HELP,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )


def main(argv: Sequence[str] | None = None) -> None:
    code = run(argv)
    # The process ends here, and shutdown would garbage-collect every object the imports made
    # (SQLAlchemy, pydantic, typer: 0.1-0.16 s of an embedded command). Nothing left needs a
    # finalizer (run() closed the engine and the client; stdout is flushed at exit regardless),
    # so exempt them from that last collection.
    gc.freeze()
    sys.exit(code)


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (the one place errors become exit codes)."""
    app = Application()
    root = build_root()
    try:
        result = root.main(
            args=list(argv) if argv is not None else None,
            prog_name="atonix",
            standalone_mode=False,
            obj=app,
        )
        return result if isinstance(result, int) else ExitCode.OK
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        # A group run bare: its help on stdout, as `--help` would print it. Typer's panels
        # (on a terminal) have printed themselves and left the message empty; click's plain
        # help (off one) is the message.
        if exc.format_message():
            click.echo(exc.format_message())
        return ExitCode.USAGE
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"Error: {exc.format_message()}{hint}", err=True)
        return ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        return ExitCode.INTERRUPTED
    except ApiFailure as exc:
        click.echo(f"Error: {exc.message} ({exc.code})", err=True)
        if app.options.debug:
            click.echo(
                f"debug: HTTP {exc.status}, request id {exc.request_id}, details {exc.details}",
                err=True,
            )
        return exc.exit_code
    except CliError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        return exc.exit_code
    except Exception as exc:
        if app.options.debug:
            traceback.print_exc()
        else:
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for "
                "a traceback)",
                err=True,
            )
        return ExitCode.UNEXPECTED
    finally:
        app.close()
