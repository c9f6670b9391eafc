"""Embedded transport: the engine in this process, reached through its WSGI app with no socket."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote_to_bytes, urlencode

from atonix_cli.client import CHUNK, RawResponse, copy_chunks
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

    def open(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        upload: BinaryIO | None,
        length: int,
        trailers: Callable[[], Mapping[str, str]] | None = None,
    ) -> LocalStream:
        return open_wsgi(
            self.app,
            method,
            path,
            params=params,
            headers=headers,
            upload=upload,
            length=length,
            trailers=trailers,
        )

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
    environ = _environ(method, path, params, headers, io.BytesIO(payload), len(payload))
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = {k.lower(): v for k, v in response_headers}

    content = b"".join(app(environ, start_response))
    return RawResponse(status=captured["status"], body=content, headers=captured["headers"])


def open_wsgi(
    app: Any,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any],
    headers: Mapping[str, str],
    upload: BinaryIO | None,
    length: int,
    trailers: Callable[[], Mapping[str, str]] | None = None,
) -> LocalStream:
    """One request to a WSGI app in this process with the body read from `upload` as the app
    asks for it (httpx's WSGITransport would read it whole first), and the response left for
    the caller to iterate. `trailers` gives headers that follow the body: the app calls
    `wsgi.input.trailers()` for them once it has read it (the CLI's checksum of a large file,
    taken while the file is read)."""
    source: Any = _Bounded(upload, length, trailers) if upload is not None else io.BytesIO()
    environ = _environ(method, path, params, headers, source, length if upload else 0)
    captured: dict[str, Any] = {}

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = {k.lower(): v for k, v in response_headers}
        return _no_write

    body = app(environ, start_response)
    if "status" not in captured:
        # PEP 3333 lets an app call start_response as late as its first chunk.
        first = next(iter(body), b"")
        return LocalStream(captured["status"], captured["headers"], body, first)
    return LocalStream(captured["status"], captured["headers"], body)


class LocalStream:
    """A WSGI app's answer, read as the caller iterates it; a file the app handed to
    `wsgi.file_wrapper` is copied to a file by the kernel (copy_file_range, then sendfile)."""

    def __init__(
        self, status: int, headers: dict[str, str], body: Iterable[bytes], first: bytes = b""
    ) -> None:
        self.status = status
        self.headers = headers
        self._body = body
        self._first = first

    in_process = True  # nothing in transit between the engine and this caller

    def chunks(self) -> Iterator[bytes]:
        if self._first:
            yield self._first
        for chunk in self._body:
            if chunk:
                yield chunk

    def copy_to(self, out: BinaryIO, progress: Callable[[int], None] | None = None) -> int:
        body = self._body
        if not self._first:
            if isinstance(body, FileWrapper):
                copied = body.copy_to(out, self.headers.get("content-length"), progress)
                if copied is not None:
                    return copied
            # The engine's own file answer: bytes [start, start + length) of `file`.
            elif all(hasattr(body, name) for name in ("file", "start", "length")):
                file, start, length = body.file, body.start, body.length  # type: ignore[attr-defined]
                copied = kernel_copy(file, out, start, length, progress)
                if copied is not None:
                    return copied
        return copy_chunks(self.chunks(), out, progress)

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


class FileWrapper:
    """`wsgi.file_wrapper`: the app's open file, sent from where it stands (PEP 3333)."""

    def __init__(self, filelike: BinaryIO, block_size: int = CHUNK) -> None:
        self.filelike = filelike
        self.block_size = max(block_size, CHUNK)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.filelike.read(self.block_size):
            yield chunk

    def copy_to(
        self, out: BinaryIO, length: str | None, progress: Callable[[int], None] | None
    ) -> int | None:
        """Copy `length` bytes from where the file stands, in the kernel (None: not possible)."""
        if length is None or not length.isdigit():
            return None
        try:
            start = self.filelike.tell()
        except (AttributeError, OSError):
            return None
        copied = kernel_copy(self.filelike, out, start, int(length), progress)
        if copied is not None:
            self.filelike.seek(start + copied)
        return copied

    def close(self) -> None:
        self.filelike.close()


def kernel_copy(
    source: Any, out: BinaryIO, start: int, length: int, progress: Callable[[int], None] | None
) -> int | None:
    """Copy bytes [start, start + length) of `source` to `out` file to file in the kernel
    (copy_file_range, else sendfile); None when either is not a plain file."""
    try:
        src, dst = source.fileno(), out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    out.flush()
    copied = 0
    while copied < length:
        step = min(length - copied, 64 * CHUNK)
        try:
            n = os.copy_file_range(src, dst, step, start + copied)
        except OSError:
            n = os.sendfile(dst, src, start + copied, step)
        if n == 0:
            break  # the file is shorter than it said: the caller sees the count
        copied += n
        if progress:
            progress(n)
    return copied


class _Bounded:
    """`wsgi.input` over a file: never past the declared length, as a server guarantees; and
    the headers that follow the body, if the caller gave any."""

    def __init__(
        self,
        source: BinaryIO,
        length: int,
        trailers: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self._source = source
        self._left = length
        self._trailers = trailers

    def trailers(self) -> dict[str, str]:
        """The headers sent after the body (waits for them if they are still being made)."""
        return dict(self._trailers()) if self._trailers is not None else {}

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._source.read(size)
        self._left -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        limit = self._left if size is None or size < 0 else min(size, self._left)
        data = self._source.readline(limit)
        self._left -= len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk


def _no_write(data: bytes) -> None:
    raise RuntimeError("the engine streams its responses; start_response's write() is not used")


def _environ(
    method: str,
    path: str,
    params: Mapping[str, Any],
    headers: Mapping[str, str],
    source: Any,
    length: int,
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        # As a server hands it over (PEP 3333, and granian): percent-decoded once, the UTF-8
        # bytes as latin-1 characters; the engine reads an object key from it.
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "RAW_URI": path,
        "QUERY_STRING": urlencode(params),
        "SERVER_NAME": "embedded",
        "SERVER_PORT": "0",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": source,
        "wsgi.url_scheme": "http",
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.version": (1, 0),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(length),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    return environ
