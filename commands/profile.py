"""`atonix profile`: named backends, embedded (a data dir) or remote (an endpoint URL)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Yes
from atonix_cli.output import FORMATS
from atonix_cli.settings import CLOCK_MODES
from profiles.secrets import SecretStore
from profiles.store import Config, Profile, config_dir, valid_name

app = ResourceApp(help="Profiles: which cloud to talk to, embedded or remote.")

COLUMNS = (
    ("name", "NAME"),
    ("default", "DEFAULT"),
    ("backend", "BACKEND"),
    ("location", "ENDPOINT / DATA DIR"),
    ("credential", "CREDENTIAL"),
)


def _load() -> Config:
    try:
        return Config.load(config_dir())
    except ValueError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None


def _get(config: Config, name: str) -> Profile:
    profile = config.profiles.get(name)
    if profile is None:
        raise CliError(f"no profile named {name!r}; see `atonix profile list`", ExitCode.NOT_FOUND)
    return profile


def _describe(config: Config, profile: Profile) -> dict[str, Any]:
    secrets = SecretStore(config.path.parent)
    secret = (
        secrets.describe(profile.secret_store)
        if profile.credential
        else "none yet (created on first use)"
        if not profile.is_remote
        else "none"
    )
    return {
        "name": profile.name,
        "default": profile.name == (config.default_profile or "default"),
        "backend": "remote" if profile.is_remote else "embedded",
        "location": profile.endpoint or str(profile.engine_dir()),
        "clock": None if profile.is_remote else (profile.clock or "real"),
        "output": profile.output,
        "credential": profile.credential,
        "secret_location": secret,
    }


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Profile name."),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Remote endpoint URL; omit for embedded."
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        help="API key for the endpoint (or set ATONIX_API_KEY to keep it out of shell history).",
    ),
    data_dir: str | None = typer.Option(
        None, "--data-dir", help="Embedded: where the engine keeps data."
    ),
    clock: str | None = typer.Option(None, "--clock", help=f"Embedded: {', '.join(CLOCK_MODES)}."),
    default_output: str | None = typer.Option(
        None, "--default-output", help=f"{', '.join(FORMATS)}."
    ),
    use: bool = typer.Option(False, "--use", help="Make it the default profile."),
) -> None:
    """Create a profile: remote with --endpoint, else an embedded engine of its own.

    Example: atonix profile create team --endpoint http://127.0.0.1:8765 --api-key atonix_…
    Example: atonix profile create sandbox --clock manual
    """
    cli = current()
    config = _load()
    if not valid_name(name):
        raise CliError(
            f"invalid profile name {name!r}: letters, digits, '.', '_', '-'", ExitCode.USAGE
        )
    if name in config.profiles:
        raise CliError(f"profile {name!r} already exists", ExitCode.CONFLICT)
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise CliError("--endpoint must be an http:// or https:// URL", ExitCode.USAGE)
    if endpoint is not None and (data_dir or clock):
        raise CliError("--data-dir and --clock are for embedded profiles only", ExitCode.USAGE)
    if clock is not None and clock not in CLOCK_MODES:
        raise CliError(f"--clock must be one of {', '.join(CLOCK_MODES)}", ExitCode.USAGE)
    if default_output is not None and default_output not in FORMATS:
        raise CliError(f"--default-output must be one of {', '.join(FORMATS)}", ExitCode.USAGE)
    profile = Profile(
        name=name,
        endpoint=endpoint.rstrip("/") if endpoint else None,
        data_dir=os.path.abspath(data_dir) if data_dir else None,
        clock=clock,
        output=default_output,
    )
    key = api_key or (os.environ.get("ATONIX_API_KEY") if endpoint else None)
    if key:
        secrets = SecretStore(config.path.parent)
        profile.secret_store = secrets.choose()
        profile.credential = "api_key"
        secrets.set(profile.secret_store, name, "api_key", key)
    config.profiles[name] = profile
    if use or not config.default_profile:
        config.default_profile = name
    config.save()
    cli.info(
        f"Created profile {name!r}"
        + (" (now the default)" if config.default_profile == name else "")
    )
    cli.render(_describe(config, profile))


@app.command("list")
def list_profiles() -> None:
    """List profiles; the default is marked.

    Example: atonix profile list
    """
    cli = current()
    config = _load()
    cli.render([_describe(config, p) for p in config.profiles.values()], columns=COLUMNS)


@app.command("show")
def show(
    name: str | None = typer.Argument(None, help="Profile name (default: the one in use)."),
) -> None:
    """Show a profile and where its secret lives.

    Example: atonix profile show team
    """
    cli = current()
    config = _load()
    chosen = (
        name
        or cli.options.profile
        or os.environ.get("ATONIX_PROFILE")
        or config.default_profile
        or "default"
    )
    described = _describe(config, _get(config, chosen))
    if os.environ.get("ATONIX_API_KEY"):
        described["secret_location"] = "ATONIX_API_KEY environment variable (overrides the profile)"
    cli.render(described)


@app.command("use")
def use(name: str = typer.Argument(...)) -> None:
    """Make a profile the default.

    Example: atonix profile use team
    """
    cli = current()
    config = _load()
    _get(config, name)
    config.default_profile = name
    config.save()
    cli.info(f"Default profile is now {name!r}")


@app.command("delete")
def delete(
    name: str = typer.Argument(...),
    purge: bool = typer.Option(False, "--purge", help="Embedded: also delete the engine's data."),
    yes: bool = Yes,
) -> None:
    """Delete a profile and its stored secret (and with --purge, its embedded data).

    Example: atonix profile delete sandbox --purge --yes
    """
    cli = current()
    config = _load()
    profile = _get(config, name)
    cli.confirm(f"Delete profile {name!r}{' and its data' if purge else ''}?", yes=yes)
    if profile.credential:
        SecretStore(config.path.parent).delete(profile.secret_store, name, profile.credential)
    if purge and not profile.is_remote:
        shutil.rmtree(profile.engine_dir(), ignore_errors=True)
    del config.profiles[name]
    if config.default_profile == name:
        config.default_profile = None
    config.save()
    cli.info(f"Deleted profile {name!r}")
