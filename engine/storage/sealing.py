"""Object bytes at rest: chunked AES-256-GCM that streams both ways and serves a Range."""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Layout of a sealed file:
#   header  = MAGIC (4) | VERSION (1) | log2 of the chunk size (1) | reserved (2) | prefix (8)
#   chunk i = AES-GCM(plaintext[i*CHUNK : (i+1)*CHUNK]) with its tag (16)
# Every chunk but the last holds CHUNK plaintext bytes; the last holds the rest, 0..CHUNK-1
# bytes (an empty last chunk ends an object whose size is a multiple of CHUNK), so the plaintext
# size follows from the file size, a Range maps to the chunks it needs, and a full chunk is
# sealed as soon as it is full. The nonce is the random per-object prefix and the chunk index;
# the header, the chunk index and a last-chunk flag are the associated data, so a chunk moved,
# dropped, repeated, taken from another object, or a file cut anywhere fails authentication.
MAGIC = b"ATXS"
VERSION = 1
CHUNK = 256 * 1024
TAG = 16
HEADER = 16
KEY_BYTES = 32
_PREFIX = 8
_LOG2_RANGE = range(12, 25)  # chunks a reader accepts: 4 KiB to 16 MiB
_MAX_CHUNKS = 2**32  # the 4-byte counter in the nonce: 1 PiB per object, far over the limit


class SealedDataError(Exception):
    """The sealed bytes are not what was sealed with this key (tampered, cut, or wrong key)."""


def sealed_size(plain_size: int, chunk: int = CHUNK) -> int:
    """The size on disk of `plain_size` plaintext bytes once sealed."""
    if plain_size < 0:
        raise ValueError("plain_size must be >= 0")
    return HEADER + plain_size + (plain_size // chunk + 1) * TAG


def plain_size(sealed: int, chunk: int = CHUNK) -> int:
    """The plaintext size of a sealed file of `sealed` bytes; SealedDataError if none fits."""
    body = sealed - HEADER
    if body < TAG:
        raise SealedDataError("sealed object is shorter than its header and one chunk")
    full, rest = divmod(body, chunk + TAG)
    if rest < TAG:
        raise SealedDataError("sealed object ends inside a chunk")
    return full * chunk + rest - TAG


def _check_key(data_key: bytes) -> AESGCM:
    if len(data_key) != KEY_BYTES:
        raise ValueError(f"a data key is {KEY_BYTES} bytes, got {len(data_key)}")
    return AESGCM(data_key)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0)


class Sink(Protocol):
    """Where sealed bytes go: a binary file, or a blob writer (which writes all it is given)."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int | None: ...

    def flush(self) -> None: ...


class SealingWriter:
    """Seal a stream of plaintext into `raw_file`, one chunk at a time.

    `write` takes plaintext in pieces of any size (full chunks are sealed straight from the
    caller's buffer, without a copy); `close` seals the last chunk and flushes `raw_file`,
    leaving it open: the caller fsyncs and renames it. As a context manager it closes on
    success only, so an interrupted upload never reads as complete.
    """

    def __init__(self, raw_file: Sink, data_key: bytes, *, chunk: int = CHUNK) -> None:
        log2 = chunk.bit_length() - 1
        if log2 not in _LOG2_RANGE or chunk != 1 << log2:
            raise ValueError("the chunk size must be a power of two from 4 KiB to 16 MiB")
        self._aead = _check_key(data_key)
        self._raw = raw_file
        self._chunk = chunk
        self._prefix = os.urandom(_PREFIX)
        self._header = MAGIC + bytes([VERSION, log2]) + b"\0\0" + self._prefix
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        self.plain_bytes = 0
        self._write(self._header)

    def _write(self, data: bytes) -> None:
        # An unbuffered file may take less than it was given: write until all of it is out.
        view = memoryview(data)
        while view:
            written = self._raw.write(view)
            view = view[len(view) if written is None else written :]

    def _seal(self, chunk: bytes | bytearray | memoryview, last: bool) -> None:
        if self._index >= _MAX_CHUNKS:
            raise ValueError("object too large to seal")
        sealed = self._aead.encrypt(
            _nonce(self._prefix, self._index), chunk, _aad(self._header, self._index, last)
        )
        self._write(sealed)
        self._index += 1

    def write(self, plain: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed SealingWriter")
        view = memoryview(plain).cast("B")
        size, chunk = len(view), self._chunk
        self.plain_bytes += size
        if self._buffer:
            take = min(chunk - len(self._buffer), size)
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) < chunk:
                return size
            self._seal(self._buffer, last=False)
            self._buffer.clear()
        while len(view) >= chunk:
            self._seal(view[:chunk], last=False)
            view = view[chunk:]
        if view:
            self._buffer += view
        return size

    def close(self) -> None:
        """Seal the last chunk (the rest of the plaintext, possibly empty) and flush."""
        if self._closed:
            return
        self._seal(self._buffer, last=True)
        self._buffer.clear()
        self._closed = True
        self._raw.flush()

    def __enter__(self) -> SealingWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()


def read_range(
    raw_file: BinaryIO, data_key: bytes, start: int = 0, stop: int | None = None
) -> Iterator[bytes]:
    """The plaintext bytes [start, stop) of a sealed file, decrypting only their chunks.

    `stop=None` reads to the end. The header and the first chunk are checked before this
    returns, so a wrong key or a damaged object fails before a response is started; every
    later chunk is authenticated before any of its bytes are yielded. SealedDataError on
    tampering, a wrong key, or a range past the sealed size; ValueError on a reversed range.
    """
    aead = _check_key(data_key)
    size = raw_file.seek(0, os.SEEK_END)
    raw_file.seek(0)
    header = raw_file.read(HEADER)
    if len(header) != HEADER or header[:4] != MAGIC or header[4] != VERSION:
        raise SealedDataError("not a sealed object (bad header)")
    if header[5] not in _LOG2_RANGE:
        raise SealedDataError("not a sealed object (bad chunk size)")
    chunk = 1 << header[5]
    total = plain_size(size, chunk)
    if stop is None:
        stop = total
    if start < 0 or stop < start:
        raise ValueError(f"invalid range [{start}, {stop})")
    if stop > total:
        raise SealedDataError(f"range ends at {stop} but the sealed object holds {total} bytes")
    opener = _Opener(raw_file, aead, header, total, chunk)
    # The chunks holding [start, stop); an empty range still authenticates one, so reading
    # nothing of a damaged object fails too.
    first = min(start // chunk, opener.last_index)
    end = min(max(-(-stop // chunk), first + 1), opener.last_index + 1)
    if stop == total:
        end = opener.last_index + 1  # the last chunk too, empty or not: it proves the end
    raw_file.seek(HEADER + first * (chunk + TAG))
    head = opener.piece(first, start, stop)
    return itertools.chain((head,) if head else (), opener.pieces(first + 1, end, start, stop))


class _Opener:
    """Reads and authenticates consecutive chunks of one sealed file."""

    def __init__(
        self, raw_file: BinaryIO, aead: AESGCM, header: bytes, total: int, chunk: int
    ) -> None:
        self.raw = raw_file
        self.aead = aead
        self.header = header
        self.prefix = header[8:HEADER]
        self.total = total
        self.chunk = chunk
        self.last_index = total // chunk

    def piece(self, index: int, start: int, stop: int) -> bytes:
        """Chunk `index` (the file positioned at it), cut to [start, stop)."""
        last = index == self.last_index
        base = index * self.chunk
        want = (self.total - base) if last else self.chunk
        sealed = self.raw.read(want + TAG)
        if len(sealed) != want + TAG:
            raise SealedDataError("sealed object changed size while it was read")
        try:
            plain = self.aead.decrypt(
                _nonce(self.prefix, index), sealed, _aad(self.header, index, last)
            )
        except InvalidTag:
            raise SealedDataError(
                f"chunk {index} failed authentication (tampered, or the wrong key)"
            ) from None
        lo = max(start - base, 0)
        hi = min(stop - base, len(plain))
        if lo >= hi:
            return b""
        return plain if lo == 0 and hi == len(plain) else plain[lo:hi]

    def pieces(self, first: int, end: int, start: int, stop: int) -> Iterator[bytes]:
        for index in range(first, end):
            piece = self.piece(index, start, stop)
            if piece:
                yield piece
