"""Object bytes at rest: chunked AES-256-GCM that streams both ways and serves a Range."""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Layout of a sealed file:
#   header  = MAGIC (4) | VERSION (1) | reserved (3) | nonce prefix (8)          16 bytes
#   chunk i = AES-GCM(plaintext[i*CHUNK : (i+1)*CHUNK]) | tag (16)
# Every chunk holds CHUNK plaintext bytes except the last, which holds 1..CHUNK (0 only for an
# empty object, which is one empty last chunk), so the plaintext size follows from the file size
# and a Range maps to the chunks it needs. The nonce is the random per-object prefix and the
# chunk index; the header, the chunk index and a last-chunk flag are the associated data, so a
# chunk moved, dropped, repeated, or a file cut at a chunk boundary fails authentication.
MAGIC = b"ATXS"
VERSION = 1
CHUNK = 64 * 1024
TAG = 16
HEADER = 16
KEY_BYTES = 32
_PREFIX = 8
_SEALED_CHUNK = CHUNK + TAG
_MAX_CHUNKS = 2**32  # the 4-byte counter in the nonce: 256 TiB per object, far over the limit


class SealedDataError(Exception):
    """The sealed bytes are not what was sealed with this key (tampered, cut, or wrong key)."""


def sealed_size(plain_size: int) -> int:
    """The size on disk of `plain_size` plaintext bytes once sealed."""
    if plain_size < 0:
        raise ValueError("plain_size must be >= 0")
    chunks = max(1, -(-plain_size // CHUNK))
    return HEADER + plain_size + chunks * TAG


def plain_size(sealed: int) -> int:
    """The plaintext size of a sealed file of `sealed` bytes; SealedDataError if none fits."""
    body = sealed - HEADER
    if body < TAG:
        raise SealedDataError("sealed object is shorter than its header and one chunk")
    full, rest = divmod(body, _SEALED_CHUNK)
    if rest == 0:
        return full * CHUNK
    if rest < TAG:
        raise SealedDataError("sealed object ends inside a chunk tag")
    return full * CHUNK + rest - TAG


def _check_key(data_key: bytes) -> AESGCM:
    if len(data_key) != KEY_BYTES:
        raise ValueError(f"a data key is {KEY_BYTES} bytes, got {len(data_key)}")
    return AESGCM(data_key)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0)


class SealingWriter:
    """Seal a stream of plaintext into `raw_file`, one chunk at a time.

    `write` takes plaintext in pieces of any size; `close` seals the last chunk and flushes
    `raw_file` (it leaves the file open: the caller fsyncs and renames it). Usable as a
    context manager, which closes on success only, so a failed upload never looks complete.
    """

    def __init__(self, raw_file: BinaryIO, data_key: bytes) -> None:
        self._aead = _check_key(data_key)
        self._raw = raw_file
        self._prefix = os.urandom(_PREFIX)
        self._header = MAGIC + bytes([VERSION]) + b"\0\0\0" + self._prefix
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        self.plain_bytes = 0
        raw_file.write(self._header)

    def _seal(self, chunk: bytes | bytearray | memoryview, last: bool) -> None:
        if self._index >= _MAX_CHUNKS:
            raise ValueError("object too large to seal")
        sealed = self._aead.encrypt(
            _nonce(self._prefix, self._index), chunk, _aad(self._header, self._index, last)
        )
        self._raw.write(sealed)
        self._index += 1

    def write(self, plain: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed SealingWriter")
        view = memoryview(plain).cast("B")
        size = len(view)
        self.plain_bytes += size
        # A full chunk is sealed only once a byte beyond it exists: until then it may be the last.
        if self._buffer:
            take = min(CHUNK - len(self._buffer), size)
            self._buffer += view[:take]
            view = view[take:]
            if not view:
                return size
            self._seal(self._buffer, last=False)
            self._buffer.clear()
        while len(view) > CHUNK:
            self._seal(view[:CHUNK], last=False)
            view = view[CHUNK:]
        self._buffer += view
        return size

    def close(self) -> None:
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
    total = plain_size(raw_file.seek(0, os.SEEK_END))
    if stop is None:
        stop = total
    if start < 0 or stop < start:
        raise ValueError(f"invalid range [{start}, {stop})")
    if stop > total:
        raise SealedDataError(f"range ends at {stop} but the sealed object holds {total} bytes")
    raw_file.seek(0)
    header = raw_file.read(HEADER)
    if len(header) != HEADER or header[:4] != MAGIC or header[4] != VERSION:
        raise SealedDataError("not a sealed object (bad header)")
    opener = _Opener(raw_file, aead, header, total)
    # An empty range still authenticates one chunk, so reading nothing of a bad object fails.
    first = min(start // CHUNK, opener.last_index)
    end = max(-(-stop // CHUNK), first + 1)
    raw_file.seek(HEADER + first * _SEALED_CHUNK)
    head = opener.piece(first, start, stop)
    return itertools.chain((head,) if head else (), opener.pieces(first + 1, end, start, stop))


class _Opener:
    """Reads and authenticates consecutive chunks of one sealed file."""

    def __init__(self, raw_file: BinaryIO, aead: AESGCM, header: bytes, total: int) -> None:
        self.raw = raw_file
        self.aead = aead
        self.header = header
        self.prefix = header[8:HEADER]
        self.total = total
        self.last_index = max(0, -(-total // CHUNK) - 1)

    def piece(self, index: int, start: int, stop: int) -> bytes:
        """Chunk `index` (the file positioned at it), cut to [start, stop)."""
        last = index == self.last_index
        want = (self.total - index * CHUNK) if last else CHUNK
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
        lo = max(start - index * CHUNK, 0)
        hi = min(stop - index * CHUNK, len(plain))
        if lo >= hi:
            return b""
        return plain if lo == 0 and hi == len(plain) else plain[lo:hi]

    def pieces(self, first: int, end: int, start: int, stop: int) -> Iterator[bytes]:
        for index in range(first, end):
            piece = self.piece(index, start, stop)
            if piece:
                yield piece
