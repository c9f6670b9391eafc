"""Every flag is its API field's name; any other name for it comes from the one alias table."""

from __future__ import annotations

import importlib

import click
import typer

from atonix_cli.flags import ALIASES, flag
from commands import COMMANDS


def _options() -> list[tuple[str, click.Option]]:
    found = []
    for name, entry in COMMANDS.items():
        command = typer.main.get_command(getattr(importlib.import_module(entry.module), entry.attr))
        commands = (
            command.commands.items() if isinstance(command, click.Group) else [(name, command)]
        )
        for sub, leaf in commands:
            for param in leaf.params:
                if isinstance(param, click.Option):
                    found.append((f"{name} {sub}", param))
    return found


def test_a_flag_with_several_names_has_them_from_the_alias_table() -> None:
    for where, option in _options():
        names = [n for n in (*option.opts, *option.secondary_opts) if n.startswith("--")]
        if len(names) <= 1 + bool(option.secondary_opts) or option.name is None:
            continue
        declared = flag(option.name, negatable=bool(option.secondary_opts))
        expected = {part for d in declared for part in d.split("/")}
        assert set(names) == expected, f"{where}: {names} are not {option.name}'s from ALIASES"


def test_every_alias_is_used_by_some_command() -> None:
    used = {option.name for _, option in _options()}
    assert set(ALIASES) <= used
