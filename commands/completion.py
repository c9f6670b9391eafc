"""`atonix completion`: shell completion scripts."""

from __future__ import annotations

import typer

from atonix_cli.framework import ResourceApp

app = ResourceApp(help="Print a shell completion script.")
SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_ATONIX_COMPLETE"


def script(shell: str) -> str:
    """The completion script for `shell`, as `completions/atonix.<shell>` keeps it."""
    import click
    from typer._completion_classes import completion_init

    from atonix_cli.app import build_root

    completion_init()
    cls = click.shell_completion.get_completion_class(shell)
    assert cls is not None
    return cls(build_root(), {}, "atonix", COMPLETE_VAR).source()


@app.command("completion")
def completion(shell: str = typer.Argument(..., help="bash, zsh or fish.")) -> None:
    """Print the completion script for a shell.

    Example: atonix completion bash > ~/.local/share/bash-completion/completions/atonix
    Example: atonix completion zsh > "${fpath[1]}/_atonix"
    """
    if shell not in SHELLS:
        raise typer.BadParameter(f"must be one of {', '.join(SHELLS)}", param_hint="SHELL")
    typer.echo(script(shell), nl=False)
