"""Options several resource commands share, declared once so their flags and help agree."""

from __future__ import annotations

import typer

from atonix_cli.flags import flag

Wait = typer.Option(False, "--wait", help="Wait until the change has completed.")
Timeout = typer.Option(300.0, "--timeout", min=0, help="Seconds to wait at most with --wait.")
Zone = typer.Option(None, *flag("availability_zone"), help="us-west-2a, us-west-2b or us-west-2c.")
Description = typer.Option(None, "--description", help="Free text.")
Tags = typer.Option([], "--tag", help="KEY=VALUE, repeatable.")
NewTags = typer.Option([], "--tag", help="KEY=VALUE, repeatable; replaces all tags.")
Yes = typer.Option(False, "--yes", "-y", help="Do not ask.")
