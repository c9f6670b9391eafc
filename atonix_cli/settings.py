"""Settings: flag > environment > profile > default, resolved once per invocation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from atonix_cli.errors import CliError, ExitCode
from profiles.secrets import SecretStore
from profiles.store import DEFAULT_PROFILE, Config, Profile, config_dir

CLOCK_MODES = ("real", "instant", "manual")


@dataclass
class GlobalOptions:
    """The options every command accepts; None means 'not given on the command line'."""

    profile: str | None = None
    output: str | None = None
    query: str | None = None
    no_color: bool = False
    debug: bool = False
    quiet: bool = False


@dataclass
class Settings:
    config: Config
    secrets: SecretStore
    profile: Profile
    endpoint: str | None
    output: str | None
    timeout: float
    clock: str
    env_api_key: str | None

    @property
    def is_remote(self) -> bool:
        return self.endpoint is not None

    @property
    def data_dir(self) -> Path:
        return self.profile.engine_dir()


def resolve(options: GlobalOptions) -> Settings:
    """Every setting for this invocation; creates the default embedded profile on first use."""
    directory = config_dir()
    try:
        config = Config.load(directory)
    except ValueError as exc:
        raise CliError(str(exc), ExitCode.USAGE) from None
    name = options.profile or os.environ.get("ATONIX_PROFILE") or config.default_profile
    env_endpoint = os.environ.get("ATONIX_ENDPOINT") or None
    if name is None:
        name = DEFAULT_PROFILE
    profile = config.profiles.get(name)
    if profile is None:
        if name != DEFAULT_PROFILE:
            raise CliError(f"no profile named {name!r}; see `atonix profile list`", ExitCode.USAGE)
        profile = Profile(name=DEFAULT_PROFILE)
        if env_endpoint is None:
            # First use with no configuration: an embedded engine, ready to go.
            config.profiles[DEFAULT_PROFILE] = profile
            config.default_profile = config.default_profile or DEFAULT_PROFILE
            config.save()
    clock = os.environ.get("ATONIX_CLOCK") or profile.clock or "real"
    if clock not in CLOCK_MODES:
        raise CliError(
            f"unknown clock {clock!r}; use one of {', '.join(CLOCK_MODES)}", ExitCode.USAGE
        )
    timeout_raw = os.environ.get("ATONIX_TIMEOUT")
    try:
        timeout = float(timeout_raw) if timeout_raw else (profile.timeout or 30.0)
    except ValueError:
        raise CliError(
            f"ATONIX_TIMEOUT must be a number of seconds, not {timeout_raw!r}", ExitCode.USAGE
        ) from None
    return Settings(
        config=config,
        secrets=SecretStore(directory),
        profile=profile,
        endpoint=env_endpoint or profile.endpoint,
        output=options.output or os.environ.get("ATONIX_OUTPUT") or profile.output,
        timeout=timeout,
        clock=clock,
        env_api_key=os.environ.get("ATONIX_API_KEY") or None,
    )
