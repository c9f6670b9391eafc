"""Moving object bytes: sources read once or spooled, checksums, atomic downloads, progress."""

from __future__ import annotations

import contextlib
import hashlib
import json
import mimetypes
import os
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import quote

from atonix_cli.client import CHUNK, ApiClient, Streamed, copy_chunks
from atonix_cli.errors import CliError, ExitCode

PROGRESS_MIN_BYTES = 4 << 20  # smaller transfers finish before a bar would be worth drawing
ALONGSIDE_MIN_BYTES = 8 << 20  # a smaller file is hashed before its upload (no thread for it)
META_PREFIX = "x-atonix-meta-"
CHECKSUM_HEADER = "x-atonix-checksum-sha256"
VERSION_HEADER = "x-atonix-version-id"


def data_path(bucket: str, key: str) -> str:
    """The data route of one object (SPEC A1); the key percent-encoded once, `/` kept, so the
    server's one decoding gives it back exactly (`a%2Fb` travels as `a%252Fb`)."""
    # A segment of dots only is encoded too: a URL library would resolve `..` away (RFC 3986).
    segments = [
        "%2E" * len(part) if part and part.strip(".") == "" else quote(part, safe="")
        for part in key.split("/")
    ]
    return f"services/buckets/{quote(bucket, safe='')}/objects/{'/'.join(segments)}"


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


@dataclass
class Source:
    """What an upload reads: an open file at its start, its length and SHA-256 (hex); or,
    instead of the SHA-256, `trailer`: the checksum as it is ready once the body has gone."""

    file: BinaryIO
    length: int
    sha256: str | None
    trailer: Callable[[], dict[str, str]] | None = None


@contextlib.contextmanager
def open_source(
    path: str,
    *,
    checksum: bool,
    progress: Callable[[int], None] | None = None,
    alongside: bool = False,
) -> Iterator[Source]:
    """An upload's bytes: a file as it is (hashed first, as its header precedes the body), or
    stdin (`-`) and any other pipe spooled to a temporary file (in $TMPDIR) while hashing,
    since the length and SHA-256 must be known before the first byte is sent.

    `alongside` (the embedded engine, which takes the checksum after the body): a large file
    is hashed on another thread while the upload reads it, instead of in a pass of its own
    before the first byte goes (1 GiB: about 0.8 s of SHA-256 here that the upload no longer
    waits for); its checksum is the source's `trailer`."""
    if path == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise CliError("stdin is not readable as bytes", ExitCode.USAGE)
        with _spooled(stdin, checksum) as source:
            yield source
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below, after the caller's upload)
    except IsADirectoryError:
        message = f"{path} is a directory (see `atonix object sync`)"
        raise CliError(message, ExitCode.USAGE) from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", ExitCode.USAGE) from None
    with handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            with _spooled(handle, checksum) as source:
                yield source
            return
        if checksum and alongside and info.st_size >= ALONGSIDE_MIN_BYTES:
            with _hashed_alongside(path, info, progress) as trailer:
                if trailer is not None:
                    yield Source(handle, info.st_size, None, trailer)
                    return
        sha256 = file_digest(handle, "sha256", progress) if checksum else None
        handle.seek(0)
        yield Source(handle, info.st_size, sha256)


class _Stopped(Exception):
    """The upload is over before its checksum was asked for: the hashing stops."""


class _Stoppable:
    """A file whose reads end the hashing once the upload no longer needs it."""

    def __init__(self, file: BinaryIO, stop: threading.Event) -> None:
        self._file = file
        self._stop = stop

    def read(self, size: int = -1, /) -> bytes:
        if self._stop.is_set():
            raise _Stopped
        return self._file.read(size)


@contextlib.contextmanager
def _hashed_alongside(
    path: str, info: os.stat_result, progress: Callable[[int], None] | None
) -> Iterator[Callable[[], dict[str, str]] | None]:
    """The SHA-256 of the file at `path` (the one `info` describes) taken on a thread of its
    own, through a second handle; what the upload calls for it once the body has gone. None if
    `path` is no longer that file (then it is hashed first, as usual)."""
    try:
        second = open(path, "rb")  # noqa: SIM115 (closed below, after the thread)
    except OSError:
        yield None
        return
    with second:
        again = os.fstat(second.fileno())
        if (again.st_dev, again.st_ino) != (info.st_dev, info.st_ino):
            yield None
            return
        stop = threading.Event()
        found: dict[str, Any] = {}

        def run() -> None:
            try:
                found["sha256"] = file_digest(_Stoppable(second, stop), "sha256", progress)
            except _Stopped:
                pass
            except BaseException as error:  # handed to the upload, which asks for the checksum
                found["error"] = error

        thread = threading.Thread(target=run, name="atonix-checksum", daemon=True)
        thread.start()

        def trailer() -> dict[str, str]:
            thread.join()
            if "error" in found:
                raise found["error"]
            return {CHECKSUM_HEADER: found["sha256"]}

        try:
            yield trailer
        finally:
            stop.set()
            thread.join()


@contextlib.contextmanager
def _spooled(stream: BinaryIO, checksum: bool) -> Iterator[Source]:
    with tempfile.TemporaryFile(prefix="atonix-upload-") as spool:
        digest = hashlib.sha256()
        length = 0
        while chunk := stream.read(CHUNK):
            if checksum:
                digest.update(chunk)
            spool.write(chunk)
            length += len(chunk)
        spool.seek(0)
        yield Source(spool, length, digest.hexdigest() if checksum else None)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def file_digest(
    handle: Readable, algorithm: str, progress: Callable[[int], None] | None = None
) -> str:
    digest = hashlib.new(algorithm)
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        if progress:
            progress(len(chunk))
    return digest.hexdigest()


class _Counting:
    """A file whose reads report their size to a progress bar."""

    def __init__(self, file: BinaryIO, progress: Callable[[int], None]) -> None:
        self._file = file
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._progress(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._file.readline(size)
        self._progress(len(data))
        return data


def upload(
    client: ApiClient,
    path: str,
    source: Source,
    *,
    headers: dict[str, str],
    progress: Callable[[int], None] | None = None,
) -> tuple[Any, dict[str, str]]:
    """PUT the source's bytes; the engine's answer (JSON, when it sends any) and its headers."""
    sent = dict(headers)
    if source.sha256:
        sent[CHECKSUM_HEADER] = source.sha256
    body: Any = _Counting(source.file, progress) if progress else source.file
    response = client.transfer(
        "PUT", path, headers=sent, upload=body, length=source.length, trailers=source.trailer
    )
    try:
        raw = response.read()
    finally:
        response.close()
    try:
        answer = json.loads(raw) if raw else None
    except ValueError:
        answer = None
    return answer, response.headers


def download(
    response: Streamed,
    dest: str,
    *,
    verify: bool,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write a GET's body to `dest` (`-` is stdout): into a temporary file beside it, renamed
    over it only once whole and, for a whole object that came over the network, checked against
    the engine's SHA-256, so an interrupted or corrupted download never leaves a partial file
    where the real one goes. In-process nothing is in transit: an encrypted object's chunks are
    authenticated as they are opened, a plain one is copied file to file by the kernel."""
    expected = response.headers.get(CHECKSUM_HEADER) if verify else None
    if getattr(response, "in_process", False):
        expected = None
    if dest == "-":
        out = getattr(sys.stdout, "buffer", None)
        if out is None:
            raise CliError("stdout is not writable as bytes", ExitCode.USAGE)
        written = _write_checked(response, out, expected, progress)
        out.flush()
        if written is None:
            raise CliError(
                "the bytes received do not match the object's SHA-256 (stdout has them all)",
                ExitCode.UNEXPECTED,
            )
        return written
    target = Path(dest)
    if target.is_dir():
        raise CliError(f"{dest} is a directory; name the file to write", ExitCode.USAGE)
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    except OSError as exc:
        raise CliError(f"cannot write in {target.parent}: {exc.strerror}", ExitCode.USAGE) from None
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if expected:
                written = _write_checked(response, out, expected, progress)
                if written is None:
                    raise CliError(
                        f"the bytes received do not match the object's SHA-256; {dest} is "
                        "unchanged",
                        ExitCode.UNEXPECTED,
                    )
            else:
                written = response.copy_to(out, progress)
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise CliError(f"cannot write {dest}: {exc.strerror}", ExitCode.UNEXPECTED) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return written


def _write_checked(
    response: Streamed,
    out: BinaryIO,
    expected: str | None,
    progress: Callable[[int], None] | None,
) -> int | None:
    """Copy the body to `out`, hashing it on another thread (hashlib lets go of the GIL) so
    the SHA-256 costs little beside the network; the count, or None if it does not match."""
    if not expected:
        return copy_chunks(response.chunks(), out, progress)
    hasher = _Hasher()
    try:
        written = 0
        for chunk in response.chunks():
            out.write(chunk)
            hasher.feed(chunk)
            written += len(chunk)
            if progress:
                progress(len(chunk))
    finally:
        digest = hasher.finish()
    return written if digest == expected else None


class _Hasher:
    """SHA-256 on a thread of its own, fed through a short queue (a few chunks in flight)."""

    def __init__(self) -> None:
        import queue
        import threading

        self._digest = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._digest.update(chunk)

    def feed(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def finish(self) -> str:
        self._queue.put(None)
        self._thread.join()
        return self._digest.hexdigest()


class Bars:
    """The progress bars of one transfer, one per step (checksum, then upload)."""

    def __init__(self, progress: Any, total: int | None) -> None:
        self._progress = progress
        self._total = total

    def step(self, label: str) -> Callable[[int], None]:
        task = self._progress.add_task(label, total=self._total)
        return lambda n: self._progress.advance(task, n)


@contextlib.contextmanager
def progress_bar(total: int | None, *, enabled: bool) -> Iterator[Bars | None]:
    """Rich progress bars on stderr for a transfer over a few MB on a terminal, else None."""
    if not enabled or (total is not None and total < PROGRESS_MIN_BYTES):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        yield Bars(progress, total)


def source_size(path: str) -> int | None:
    """A regular file's size before it is opened (None for stdin and pipes)."""
    try:
        info = os.stat(path) if path != "-" else None
    except OSError:
        return None
    return info.st_size if info is not None and stat.S_ISREG(info.st_mode) else None


def metadata_headers(pairs: dict[str, str]) -> dict[str, str]:
    return {f"{META_PREFIX}{name.lower()}": value for name, value in pairs.items()}


def described(headers: dict[str, str], *, bucket: str, key: str) -> dict[str, Any]:
    """An object's HEAD (or GET) headers as a record for `-o` output."""
    meta = {k[len(META_PREFIX) :]: v for k, v in headers.items() if k.startswith(META_PREFIX)}
    length = headers.get("content-length")
    return {
        "bucket": bucket,
        "object_key": key,
        "size_bytes": int(length) if length and length.isdigit() else None,
        "content_type": headers.get("content-type"),
        "etag": (headers.get("etag") or "").strip('"') or None,
        "checksum_sha256": headers.get(CHECKSUM_HEADER),
        "version_id": headers.get(VERSION_HEADER),
        "last_modified": headers.get("last-modified"),
        "storage_class": headers.get("x-atonix-storage-class"),
        "metadata": meta,
    }
