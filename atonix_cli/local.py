"""Embedded transport: the engine in this process, reached through its WSGI app with no socket."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from atonix_cli.client import RawResponse
from atonix_cli.errors import CliError, ExitCode


class LocalTransport:
    def __init__(self, data_dir: Path, *, clock: str) -> None:
        from engine.api.app import EngineApp
        from engine.clock import Clock
        from engine.db import Database, sqlite_url
        from engine.errors import SchemaMismatch

        try:
            self.db = Database(sqlite_url(data_dir / "atonix.db"), clock=Clock(mode=clock))  # type: ignore[arg-type]
        except SchemaMismatch as exc:
            raise CliError(str(exc), ExitCode.CONFLICT) from None
        self.app = EngineApp(self.db)

    def bootstrap_admin(self) -> str | None:
        """The first admin's API key when this engine has no users yet; None otherwise."""
        from engine.identity.service import bootstrap_admin

        created = bootstrap_admin(self.db)
        return created.api_key if created else None

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> RawResponse:
        return call_wsgi(self.app, method, path, params=params, headers=headers, body=body)

    def close(self) -> None:
        self.db.dispose()


def call_wsgi(
    app: Any,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any],
    headers: Mapping[str, str],
    body: bytes | None,
) -> RawResponse:
    """One request to a WSGI app in this process, as a server would hand it over."""
    payload = body or b""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": urlencode(params),
        "SERVER_NAME": "embedded",
        "SERVER_PORT": "0",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(payload)),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ["CONTENT_TYPE" if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = {k.lower(): v for k, v in response_headers}

    content = b"".join(app(environ, start_response))
    return RawResponse(status=captured["status"], body=content, headers=captured["headers"])
