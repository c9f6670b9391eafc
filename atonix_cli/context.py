"""The Application object every command gets: settings, the client, output, prompts and lookups."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from atonix_cli.client import ApiClient
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.output import FORMATS, Column, apply_query, render
from atonix_cli.settings import GlobalOptions, Settings, resolve


class Application:
    def __init__(self, options: GlobalOptions | None = None) -> None:
        self.options = options or GlobalOptions()
        self._settings: Settings | None = None
        self._client: ApiClient | None = None

    # --- settings and client -----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = resolve(self.options)
        return self._settings

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> ApiClient:
        settings = self.settings
        trace = self.debug if self.options.debug else None
        if settings.endpoint is not None:
            from atonix_cli.remote import HttpTransport

            transport: Any = HttpTransport(settings.endpoint, timeout=settings.timeout)
            self.debug(f"profile {settings.profile.name}: remote {settings.endpoint}")
        else:
            import logging

            from atonix_cli.local import LocalTransport

            engine_log = logging.getLogger("atonix.engine")
            if self.options.debug:
                logging.basicConfig(level=logging.DEBUG, format="debug: engine: %(message)s")
                engine_log.setLevel(logging.DEBUG)
            # The engine's own error reports are for --debug; otherwise the user gets one line.
            if not any(isinstance(h, logging.NullHandler) for h in engine_log.handlers):
                engine_log.addHandler(logging.NullHandler())
            engine_log.propagate = self.options.debug
            transport = LocalTransport(settings.data_dir, clock=settings.clock)
            self.debug(f"profile {settings.profile.name}: embedded engine in {settings.data_dir}")
        return ApiClient(transport, authorization=self._authorization(transport), trace=trace)

    def _authorization(self, transport: Any) -> str | None:
        settings = self.settings
        if settings.env_api_key:
            return f"ApiKey {settings.env_api_key}"
        profile = settings.profile
        if (settings.endpoint or "").rstrip("/") != (profile.endpoint or "").rstrip("/"):
            # ATONIX_ENDPOINT points elsewhere: a profile's secret never goes to another backend.
            return None
        kind = profile.credential or "api_key"
        secret = settings.secrets.get(profile.secret_store, profile.name, kind)
        if secret is None and not settings.is_remote:
            secret = transport.bootstrap_admin()
            if secret is not None:
                self.save_secret("api_key", secret)
                self.info(f"Created the embedded engine's admin user for profile {profile.name!r}")
                kind = "api_key"
        if secret is None:
            return None
        return f"Bearer {secret}" if kind == "token" else f"ApiKey {secret}"

    def save_secret(self, kind: str, secret: str) -> str:
        """Store the profile's credential (replacing any other) and return where it went."""
        settings = self.settings
        profile = settings.profile
        if profile.secret_store and profile.credential:
            settings.secrets.delete(profile.secret_store, profile.name, profile.credential)
        store = settings.secrets.choose()
        settings.secrets.set(store, profile.name, kind, secret)
        profile.secret_store, profile.credential = store, kind
        settings.config.profiles[profile.name] = profile
        settings.config.save()
        return settings.secrets.describe(store)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # --- output ------------------------------------------------------------------------------

    @property
    def color(self) -> bool:
        return not self.options.no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()

    def output_format(self) -> str:
        fmt = self.options.output or os.environ.get("ATONIX_OUTPUT")
        if fmt is None and self._settings is not None:
            fmt = self._settings.output
        fmt = fmt or ("table" if sys.stdout.isatty() else "text")
        if fmt not in FORMATS:
            raise CliError(
                f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}", ExitCode.USAGE
            )
        return fmt

    def render(self, data: Any, *, columns: Sequence[Column] | None = None) -> None:
        """Print data on stdout in the chosen format, after --query if one was given."""
        if self.options.query:
            data = apply_query(data, self.options.query)
            columns = None
        render(data, fmt=self.output_format(), columns=columns, stream=sys.stdout, color=self.color)

    def info(self, message: str) -> None:
        if not self.options.quiet:
            click.echo(message, err=True)

    def warn(self, message: str) -> None:
        click.echo(f"warning: {message}", err=True)

    def debug(self, message: str) -> None:
        if self.options.debug:
            click.echo(f"debug: {message}", err=True)

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty() and sys.stderr.isatty()

    def spinner(self) -> bool:
        return sys.stderr.isatty() and not self.options.quiet

    def confirm(self, question: str, *, yes: bool) -> None:
        """Ask on a terminal; off a terminal never prompt: `--yes` is required instead."""
        if yes:
            return
        if not self.interactive:
            raise CliError(f"{question} Not on a terminal: pass --yes to confirm", ExitCode.USAGE)
        if not click.confirm(question, default=False, err=True):
            raise CliError("cancelled", ExitCode.USAGE)


def current() -> Application:
    """The Application of the running command."""
    ctx = click.get_current_context()
    app = ctx.find_root().obj
    if not isinstance(app, Application):
        app = ctx.find_root().obj = Application()
    return app
