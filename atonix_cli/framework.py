"""Typer/click plumbing: the lazy root group, and global options accepted by every command."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click
import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from atonix_cli.output import FORMATS
from atonix_cli.settings import GlobalOptions

GLOBAL_PANEL = "Global options"
GLOBAL_NAMES = ("profile", "output", "query", "no_color", "debug", "quiet")


def global_params() -> list[click.Parameter]:
    """The options every command takes, before or after the subcommand (`None` = not given)."""
    return [
        TyperOption(
            param_decls=["--profile"],
            default=None,
            metavar="NAME",
            help="Profile to use (env ATONIX_PROFILE).",
            rich_help_panel=GLOBAL_PANEL,
        ),
        TyperOption(
            param_decls=["-o", "--output"],
            type=click.Choice(FORMATS),
            default=None,
            help="Output format: table on a terminal, text (tab-separated) in a pipe "
            "(env ATONIX_OUTPUT).",
            rich_help_panel=GLOBAL_PANEL,
        ),
        TyperOption(
            param_decls=["--query"],
            default=None,
            metavar="JMESPATH",
            help="Filter the JSON form of the output with a JMESPath expression.",
            rich_help_panel=GLOBAL_PANEL,
        ),
        TyperOption(
            param_decls=["--no-color"],
            is_flag=True,
            default=None,
            help="No colour (also: NO_COLOR set).",
            rich_help_panel=GLOBAL_PANEL,
        ),
        TyperOption(
            param_decls=["--debug"],
            is_flag=True,
            default=None,
            help="Trace requests and the engine on stderr; tracebacks on errors.",
            rich_help_panel=GLOBAL_PANEL,
        ),
        TyperOption(
            param_decls=["-q", "--quiet"],
            is_flag=True,
            default=None,
            help="Only data on stdout and errors on stderr.",
            rich_help_panel=GLOBAL_PANEL,
        ),
    ]


def merge_globals(ctx: click.Context, values: dict[str, Any]) -> None:
    """Record global options given at any level; the innermost one given wins."""
    from atonix_cli.context import Application

    root = ctx.find_root()
    if not isinstance(root.obj, Application):
        root.obj = Application()
    options: GlobalOptions = root.obj.options
    for name, value in values.items():
        if value is not None:
            setattr(options, name, value)


def plain_help() -> bool:
    """Whether help goes out as click's plain text: off a terminal (a pipe, a file, a script),
    where rich's panels are only noise to `grep`, and importing rich's help renderer would be
    about two thirds of `atonix --help`. On a terminal, typer's panels as usual."""
    return not sys.stdout.isatty()


class AtonixCommand(TyperCommand):
    """A leaf command: accepts the global options, and treats a closed stdout as success."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_params())

    def invoke(self, ctx: click.Context) -> Any:
        merge_globals(ctx, {name: ctx.params.pop(name, None) for name in GLOBAL_NAMES})
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`atonix instance list | head -1`): not an error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if plain_help():
            click.Command.format_help(self, ctx, formatter)
        else:
            super().format_help(ctx, formatter)


class AtonixGroup(TyperGroup):
    """A command group that also accepts the global options (`atonix instance -o json list`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_params())

    def invoke(self, ctx: click.Context) -> Any:
        merge_globals(ctx, {name: ctx.params.pop(name, None) for name in GLOBAL_NAMES})
        return super().invoke(ctx)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if plain_help():
            click.Group.format_help(self, ctx, formatter)
        else:
            super().format_help(ctx, formatter)


class ResourceApp(typer.Typer):
    """A command group whose commands all accept the global options."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", AtonixGroup)
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("add_completion", False)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", AtonixCommand)
        return super().command(name, **kwargs)


class LazyRootGroup(TyperGroup):
    """The `atonix` group: subcommands come from the command table and load on first use."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._describing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        from commands import COMMANDS

        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from commands import COMMANDS

        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if self._describing:
            # Help lists commands from the table alone, without importing a single module.
            return click.Command(cmd_name, help=entry.help, short_help=entry.help)
        module = importlib.import_module(entry.module)
        command = typer.main.get_command(getattr(module, entry.attr))
        command.name = cmd_name
        if isinstance(command, TyperGroup | TyperCommand):
            command.rich_help_panel = entry.panel
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        from commands import COMMANDS

        if args and args[0] not in COMMANDS and not args[0].startswith("-"):
            import difflib

            close = difflib.get_close_matches(args[0], list(COMMANDS))
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(f"No such command {args[0]!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)

    def _main_shell_completion(
        self, ctx_args: Any, prog_name: str, complete_var: str | None = None
    ) -> None:
        # `atonix completion <shell>` prints typer's scripts, so answer them with typer's
        # completion classes: click's own read other variables and print `type,value` lines.
        # Only when a shell is asking, so ordinary runs import nothing more.
        var = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        if os.environ.get(var):
            from typer._completion_classes import completion_init

            completion_init()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._describing = True
        try:
            if plain_help():
                click.Group.format_help(self, ctx, formatter)
            else:
                super().format_help(ctx, formatter)
        finally:
            self._describing = False
