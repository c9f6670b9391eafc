"""Where object bytes live: a small BlobStore interface and the local directory store.

A blob is named by the engine (`<bucket_id>/<blob_id>`, random hex), never by the object key,
so no key can reach a path outside the store. An upload is written to `tmp/` under an exclusive
lock while the caller hashes it, linked into place, then fsynced with the directory naming it;
the metadata row commits after that, and only then is the temporary name removed (and its lock
released). A crash at any point leaves either a whole blob that a committed row names, or a
temporary file whose lock is free: `sweep` removes such leftovers, and the blob linked for them
if no row came to name it.
Deleted blobs are removed by the timeline after the deleting transaction commits.

A second backend (a shared directory for several servers, an S3-compatible store) implements
`BlobStore` and is returned by `store()`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from engine.errors import ServiceUnavailable

log = logging.getLogger("atonix.engine")

CHUNK = 1 << 20  # read and write in 1 MiB pieces
WRITE_BEHIND = 8 << 20  # an upload's bytes are sent on to the disk every 8 MiB as they come
_FADVISE = getattr(os, "posix_fadvise", None)  # not on macOS: the fsync then writes it all
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 4)
SWEEP_EVERY = 600.0  # seconds between sweeps of one process's store
_NEW_GRACE = 60.0  # an unlocked `.new` file this old was left by a writer that died


class BlobWriter(Protocol):
    """One upload in progress: `write` the stored bytes, then `finish` (durable, in place);
    `done` after the row committed; `abort` otherwise (both idempotent)."""

    blob: str

    def write(self, data: bytes | bytearray | memoryview) -> None: ...

    def flush(self) -> None: ...

    def finish(self) -> None: ...

    def done(self) -> None: ...

    def abort(self) -> None: ...

    @property
    def raw(self) -> BinaryIO: ...


class BlobStore(Protocol):
    def writer(self, bucket_id: str) -> BlobWriter: ...

    def open(self, blob: str) -> BinaryIO: ...

    def path(self, blob: str) -> Path | None: ...

    def delete(self, blob: str) -> None: ...

    def delete_bucket(self, bucket_id: str) -> None: ...

    def sweep(self, known: Callable[[list[str]], set[str]]) -> int: ...


def storage_error(error: OSError) -> ServiceUnavailable:
    """A clear 503 for a data directory that cannot take the bytes (full, read-only, gone)."""
    reason = {
        errno.ENOSPC: "the data volume is full",
        errno.EDQUOT: "the data volume's quota is exhausted",
        errno.EACCES: "the data directory is not writable",
        errno.EPERM: "the data directory is not writable",
        errno.EROFS: "the data volume is read-only",
        errno.ENOTDIR: "the data directory is not usable (a file is where a directory goes)",
    }.get(error.errno or 0, error.strerror or str(error))
    return ServiceUnavailable(
        f"cannot store the object: {reason}; nothing was stored",
        details={"reason": reason},
    )


class LocalWriter:
    """A temporary file in `tmp/`, locked while its upload is in progress."""

    def __init__(self, store: LocalBlobStore, bucket_id: str) -> None:
        self.store = store
        self.blob = f"{bucket_id}/{secrets.token_hex(16)}"
        # Plain strings, not Paths: a small put makes these for every object.
        self.final = store.place(self.blob)
        self.temp = f"{store.tmp}/{self.blob.replace('/', '.')}.part"
        self._linked = False
        self._written = self._behind = 0  # bytes written, and sent on to the disk
        # Locked before it takes its `.part` name, so a sweep never finds one whose writer is
        # alive unlocked.
        born = f"{self.temp.removesuffix('.part')}.new"
        try:
            fd = os.open(born, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:
            os.makedirs(store.tmp, exist_ok=True)
            fd = os.open(born, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(born, self.temp)
        except BaseException:
            os.close(fd)
            _unlink(born)
            raise
        self._file: BinaryIO | None = os.fdopen(fd, "wb", buffering=0)

    @property
    def raw(self) -> BinaryIO:
        assert self._file is not None
        return self._file

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert self._file is not None
        view = memoryview(data).cast("B")
        self._written += len(view)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]
        if self._written - self._behind >= WRITE_BEHIND:
            self._write_behind()

    def flush(self) -> None:
        assert self._file is not None
        self._file.flush()

    def _write_behind(self) -> None:
        """Start the disk writing what came since the last call, without waiting for it: a large
        upload's fsync then finds little left, instead of all of it at the end (1 GiB: 1-2 s
        here). POSIX_FADV_DONTNEED starts the writeback of the range's dirty pages (Linux) and
        drops only clean ones: these were all written just now, so they stay cached."""
        assert self._file is not None
        if _FADVISE is not None:
            _FADVISE(self._file.fileno(), self._behind, self._written - self._behind, _DONTNEED)
        self._behind = self._written

    def finish(self) -> None:
        """Durable and in place under its final name (the temporary name stays, locked).

        Linked first, then the file and the directory holding the new name are fsynced, so the
        bytes and the name are on disk before the row naming the blob commits: SQLite's WAL
        (synchronous=NORMAL) may reach the disk before the filesystem's journal does, and a
        name left to the journal could be lost under a committed row. Linked before the
        file's fsync, the name mostly goes to disk with it (ext4); the directory's fsync adds
        about 0.15 ms to a small put here. A crash before the row commits leaves a blob no
        row names and its unlocked `.part`: `sweep` removes both."""
        assert self._file is not None
        self._file.flush()
        made: tuple[str, ...] = ()
        try:
            os.link(self.temp, self.final)
        except FileNotFoundError:
            made = self._make_directories()
            os.link(self.temp, self.final)
        self._linked = True
        os.fsync(self._file.fileno())
        for directory in (os.path.dirname(self.final), *made):
            _fsync_directory(directory)

    def _make_directories(self) -> tuple[str, ...]:
        """The blob's directory made (and its bucket's); the directories that name them."""
        prefix = os.path.dirname(self.final)
        os.makedirs(prefix, exist_ok=True)
        return os.path.dirname(prefix), str(self.store.root)

    def done(self) -> None:
        """The row naming the blob committed: drop the temporary name and its lock."""
        self._close()
        _unlink(self.temp)

    def abort(self) -> None:
        """Nothing names the blob: remove it and the temporary file."""
        if self._linked:
            _unlink(self.final)
            self._linked = False
        self._close()
        _unlink(self.temp)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()  # releases the lock
            self._file = None


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_directory(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs under one directory: `<root>/<bucket_id>/<2 hex>/<blob hex>`, uploads in `tmp/`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = str(root / "tmp")
        # Never swept: due at once (not 0.0: monotonic time counts from boot, and 0.0 would
        # not be due on a machine up for less than SWEEP_EVERY).
        self._last_sweep = -SWEEP_EVERY

    def writer(self, bucket_id: str) -> LocalWriter:
        try:
            return LocalWriter(self, bucket_id)
        except OSError as error:
            raise storage_error(error) from None

    def path(self, blob: str) -> Path:
        return Path(self.place(blob))

    def place(self, blob: str) -> str:
        """Where a blob's bytes go, as a string; ValueError for anything not a blob name."""
        bucket_id, _, name = blob.partition("/")
        if not bucket_id or "/" in name or not name.isalnum() or ".." in bucket_id:
            raise ValueError(f"not a blob name: {blob!r}")
        return f"{self.root}/{bucket_id}/{name[:2]}/{name}"

    def open(self, blob: str) -> BinaryIO:
        return self.path(blob).open("rb")

    def delete(self, blob: str) -> None:
        self.path(blob).unlink(missing_ok=True)

    def delete_bucket(self, bucket_id: str) -> None:
        if bucket_id and "/" not in bucket_id and ".." not in bucket_id:
            shutil.rmtree(self.root / bucket_id, ignore_errors=True)

    def sweep(self, known: Callable[[list[str]], set[str]]) -> int:
        """Remove what interrupted uploads left: unlocked temporary files, and the blob linked
        for one whose row never committed (`known` says which blobs rows name). The count."""
        self._last_sweep = time.monotonic()
        tmp = self.root / "tmp"
        try:
            entries = list(os.scandir(tmp))
        except FileNotFoundError:
            return 0
        stale: list[tuple[str, Path, int]] = []
        for entry in entries:
            path = Path(entry.path)
            try:
                if not entry.name.endswith(".part"):
                    # A writer that died between creating its file and locking it.
                    if time.time() - entry.stat().st_mtime > _NEW_GRACE:
                        path.unlink(missing_ok=True)
                    continue
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # its writer is alive
                continue
            blob = entry.name.removesuffix(".part").replace(".", "/", 1)
            stale.append((blob, path, fd))
        if not stale:
            return 0
        try:
            named = known([blob for blob, _, _ in stale])
            for blob, path, _fd in stale:
                if blob not in named:
                    with contextlib.suppress(ValueError):
                        self.delete(blob)
                path.unlink(missing_ok=True)
        finally:
            for _, _, fd in stale:
                os.close(fd)
        log.info("storage: swept %d interrupted upload(s)", len(stale))
        return len(stale)

    def sweep_due(self) -> bool:
        return time.monotonic() - self._last_sweep >= SWEEP_EVERY


def read_file(handle: BinaryIO, start: int, stop: int) -> Iterator[bytes]:
    """Bytes [start, stop) of an open file, a chunk at a time; closes it at the end."""
    try:
        handle.seek(start)
        left = stop - start
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        handle.close()


# One store per data directory in this process (the root is where the database says).
_STORES: dict[Path, LocalBlobStore] = {}
_LOCK = threading.Lock()


def store(db: Any) -> tuple[LocalBlobStore, bool]:
    """The blob store of a database (`<data_dir>/blobs`), and whether this is its first use in
    this process (when the caller sweeps it)."""
    root = Path(db.data_dir) / "blobs"
    found = _STORES.get(root)
    if found is not None:
        return found, False
    with _LOCK:
        found = _STORES.get(root)
        if found is not None:
            return found, False
        found = _STORES[root] = LocalBlobStore(root)
    return found, True
