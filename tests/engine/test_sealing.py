"""Chunked AES-256-GCM at rest: round trips, ranges, and every kind of tampering refused."""

from __future__ import annotations

import io
import os
import random

import pytest

from engine.storage import sealing
from engine.storage.sealing import CHUNK, HEADER, TAG, SealedDataError

KEY = bytes(range(32))
SIZES = [0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7]


def seal(plain: bytes, key: bytes = KEY, piece: int = 10_000) -> bytes:
    raw = io.BytesIO()
    writer = sealing.SealingWriter(raw, key)
    for at in range(0, len(plain), piece):
        writer.write(plain[at : at + piece])
    writer.close()
    return raw.getvalue()


def unseal(sealed: bytes, start: int = 0, stop: int | None = None, key: bytes = KEY) -> bytes:
    return b"".join(sealing.read_range(io.BytesIO(sealed), key, start, stop))


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_and_size(size: int) -> None:
    plain = os.urandom(size)
    sealed = seal(plain)
    assert len(sealed) == sealing.sealed_size(size)
    assert sealing.plain_size(len(sealed)) == size
    assert unseal(sealed) == plain
    assert unseal(sealed, 0, size) == plain


@pytest.mark.parametrize("piece", [1, 7, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK])
def test_write_piece_sizes_give_the_same_layout(piece: int) -> None:
    plain = os.urandom(3 * CHUNK + 5)
    sealed = seal(plain, piece=piece)
    assert len(sealed) == sealing.sealed_size(len(plain))
    assert unseal(sealed) == plain


def test_sealed_size_formula() -> None:
    assert sealing.sealed_size(0) == HEADER + TAG
    assert sealing.sealed_size(CHUNK - 1) == HEADER + CHUNK - 1 + TAG
    assert sealing.sealed_size(CHUNK) == HEADER + CHUNK + 2 * TAG  # and an empty last chunk
    assert sealing.sealed_size(CHUNK + 1) == HEADER + CHUNK + 1 + 2 * TAG
    for size in (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 7 * CHUNK + 3):
        assert sealing.plain_size(sealing.sealed_size(size)) == size
    with pytest.raises(ValueError):
        sealing.sealed_size(-1)
    with pytest.raises(SealedDataError):
        sealing.plain_size(HEADER + TAG - 1)
    with pytest.raises(SealedDataError):
        sealing.plain_size(HEADER + CHUNK + TAG + 3)  # ends inside a chunk's tag


@pytest.mark.parametrize("chunk", [4096, 1 << 20])
def test_other_chunk_sizes_are_read_from_the_header(chunk: int) -> None:
    plain = os.urandom(3 * chunk + 11)
    raw = io.BytesIO()
    writer = sealing.SealingWriter(raw, KEY, chunk=chunk)
    writer.write(plain)
    writer.close()
    sealed = raw.getvalue()
    assert len(sealed) == sealing.sealed_size(len(plain), chunk)
    assert unseal(sealed) == plain
    assert unseal(sealed, chunk - 5, 2 * chunk + 5) == plain[chunk - 5 : 2 * chunk + 5]


@pytest.mark.parametrize("chunk", [0, 1000, 2048, 1 << 25])
def test_unusable_chunk_sizes(chunk: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        sealing.SealingWriter(io.BytesIO(), KEY, chunk=chunk)


def test_ranges_match_slices() -> None:
    size = 3 * CHUNK + 7
    plain = os.urandom(size)
    sealed = seal(plain)
    rng = random.Random(7)
    edges = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, size - 1, size]
    cases = [(a, b) for a in edges for b in edges if a <= b]
    cases += [tuple(sorted((rng.randrange(size + 1), rng.randrange(size + 1)))) for _ in range(50)]
    for start, stop in cases:
        assert unseal(sealed, start, stop) == plain[start:stop], (start, stop)


def test_range_decrypts_only_the_chunks_it_needs() -> None:
    plain = os.urandom(10 * CHUNK)
    sealed = bytearray(seal(plain))
    # Damage chunk 0 and chunk 9: a range inside chunks 4-5 never reads them.
    sealed[HEADER + 5] ^= 1
    sealed[HEADER + 9 * (CHUNK + TAG) + 5] ^= 1
    start, stop = 4 * CHUNK + 10, 5 * CHUNK + 10
    assert unseal(bytes(sealed), start, stop) == plain[start:stop]
    with pytest.raises(SealedDataError, match="chunk 0"):
        unseal(bytes(sealed), 0, 10)
    with pytest.raises(SealedDataError, match="chunk 9"):
        unseal(bytes(sealed), 9 * CHUNK, 10 * CHUNK)


def test_read_range_yields_pieces_lazily_after_checking_the_first() -> None:
    plain = os.urandom(4 * CHUNK - 1)
    sealed = bytearray(seal(plain))
    sealed[-1] ^= 1
    pieces = sealing.read_range(io.BytesIO(bytes(sealed)), KEY, 0, 4 * CHUNK - 1)
    assert next(pieces) == plain[:CHUNK]
    assert next(pieces) == plain[CHUNK : 2 * CHUNK]
    next(pieces)
    with pytest.raises(SealedDataError):
        next(pieces)


def test_wrong_key_fails_before_any_byte() -> None:
    sealed = seal(b"secret bytes")
    with pytest.raises(SealedDataError, match="wrong key"):
        sealing.read_range(io.BytesIO(sealed), bytes(32), 0, 5)
    # An empty range still authenticates a chunk.
    with pytest.raises(SealedDataError):
        sealing.read_range(io.BytesIO(sealed), bytes(32), 0, 0)


def test_every_flipped_bit_region_is_refused() -> None:
    plain = os.urandom(2 * CHUNK + 100)
    sealed = seal(plain)
    for at in [0, 4, 5, 8, 15, HEADER, HEADER + CHUNK, HEADER + CHUNK + TAG + 1, len(sealed) - 1]:
        damaged = bytearray(sealed)
        damaged[at] ^= 0x40
        with pytest.raises(SealedDataError):
            unseal(bytes(damaged))


def test_chunks_cannot_be_reordered_dropped_or_repeated() -> None:
    plain = os.urandom(3 * CHUNK + 100)
    sealed = seal(plain)
    header = sealed[:HEADER]
    step = CHUNK + TAG
    c = [sealed[HEADER + i * step : HEADER + (i + 1) * step] for i in range(3)]
    tail = sealed[HEADER + 3 * step :]
    for body in (c[1] + c[0] + c[2] + tail, c[0] + c[0] + c[2] + tail):
        with pytest.raises(SealedDataError):
            unseal(header + body)
    # Cut anywhere, at a chunk boundary or not: what is left was not sealed as the last chunk.
    for cut in (c[0], c[0] + c[1][:TAG], c[0] + c[1][:100], c[0] + c[1] + c[2], c[0] + c[1]):
        with pytest.raises(SealedDataError):
            unseal(header + cut)
    # The empty last chunk of an object whose size is a multiple of the chunk proves its end.
    whole = seal(os.urandom(2 * CHUNK))
    with pytest.raises(SealedDataError):
        unseal(whole[:-TAG])
    assert len(unseal(whole)) == 2 * CHUNK


def test_chunks_cannot_move_between_objects_under_the_same_key() -> None:
    a, b = seal(os.urandom(2 * CHUNK)), seal(os.urandom(2 * CHUNK))
    mixed = a[: HEADER + CHUNK + TAG] + b[HEADER + CHUNK + TAG :]
    with pytest.raises(SealedDataError):
        unseal(mixed)


def test_same_plaintext_seals_differently() -> None:
    plain = b"x" * 1000
    assert seal(plain) != seal(plain)


def test_plaintext_never_on_the_sealed_side() -> None:
    marker = b"PLAINTEXT-MARKER-" * 8
    plain = marker * 5000
    sealed = seal(plain)
    assert marker[:17] not in sealed


def test_range_past_the_end_and_reversed() -> None:
    sealed = seal(b"0123456789")
    with pytest.raises(SealedDataError, match="holds 10 bytes"):
        unseal(sealed, 0, 11)
    with pytest.raises(ValueError):
        unseal(sealed, 5, 4)
    with pytest.raises(ValueError):
        unseal(sealed, -1, 4)
    assert unseal(sealed, 10, 10) == b""
    assert unseal(sealed, 3) == b"3456789"


def test_not_a_sealed_object() -> None:
    with pytest.raises(SealedDataError):
        unseal(b"hello world, this is plain text data")
    with pytest.raises(SealedDataError):
        unseal(b"")


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        sealing.SealingWriter(io.BytesIO(), b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        sealing.read_range(io.BytesIO(seal(b"x")), b"short", 0, 1)


def test_writer_close_is_idempotent_and_final() -> None:
    raw = io.BytesIO()
    writer = sealing.SealingWriter(raw, KEY)
    writer.write(b"abc")
    writer.close()
    writer.close()
    assert writer.plain_bytes == 3
    with pytest.raises(ValueError):
        writer.write(b"more")
    assert unseal(raw.getvalue()) == b"abc"


def test_context_manager_does_not_seal_the_last_chunk_on_error() -> None:
    raw = io.BytesIO()
    with pytest.raises(RuntimeError), sealing.SealingWriter(raw, KEY) as writer:
        writer.write(b"partial")
        raise RuntimeError("upload interrupted")
    with pytest.raises(SealedDataError):
        unseal(raw.getvalue())


def test_real_file_round_trip(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "blob")
    plain = os.urandom(5 * CHUNK + 3)
    with open(path, "wb") as raw:
        writer = sealing.SealingWriter(raw, KEY)
        writer.write(plain)
        writer.close()
        os.fsync(raw.fileno())
    assert os.path.getsize(path) == sealing.sealed_size(len(plain))
    with open(path, "rb") as raw:
        assert b"".join(sealing.read_range(raw, KEY, 100, 4 * CHUNK)) == plain[100 : 4 * CHUNK]
