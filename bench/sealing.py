"""Sealing throughput: chunked AES-256-GCM (engine.storage.sealing) against a plain copy.

    .venv/bin/python bench/sealing.py            # ~20 s; --mib 1024 for a 1 GiB object

Copies one file of random bytes (`--mib`, default 256) in 1 MiB reads, three ways, each timed
`--runs` times (median): a plain copy; sealing it with `SealingWriter`; opening the sealed file
with `read_range` into a plain file. Then the same in memory (no file system), and the time of
a 1 MiB `Range` read from the middle of the sealed file (only its chunks are decrypted).

Target: the storage issue asks encrypted buckets for at least 0.8x the plain put and get
throughput (put >= 300 MiB/s, get >= 500 MiB/s embedded), so sealing and opening must run well
above those rates: >= 1,000 MiB/s each here. The ratio to a plain copy is printed for scale:
a copy between files in the page cache runs at memory speed (3-4 GiB/s here), which no
object put or get approaches.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import machine_note, say

from engine.storage import sealing

READ = 1 << 20
KEY = os.urandom(32)


class Discard:
    """A sink that keeps nothing: sealing's own cost, without a growing buffer's copies."""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass


def timed(runs: int, work: Callable[[], None]) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def plain_copy(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("wb") as out:
        while piece := src.read(READ):
            out.write(piece)


def seal_file(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("wb") as out:
        writer = sealing.SealingWriter(out, KEY)
        while piece := src.read(READ):
            writer.write(piece)
        writer.close()


def open_file(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("wb") as out:
        for piece in sealing.read_range(src, KEY):
            out.write(piece)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="object size in MiB")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = args.mib << 20
    say(machine_note())
    say(
        f"object: {args.mib} MiB of random bytes, {READ >> 10} KiB reads, "
        f"chunks of {sealing.CHUNK >> 10} KiB"
    )
    with tempfile.TemporaryDirectory(prefix="atonix-bench-sealing-") as tmp:
        root = Path(tmp)
        source, copy, sealed, opened = (root / n for n in ("plain", "copy", "sealed", "opened"))
        with source.open("wb") as out:
            for _ in range(args.mib):
                out.write(os.urandom(READ))
        rates: dict[str, float] = {}
        works = {
            "plain copy": (lambda: plain_copy(source, copy), copy),
            "seal (SealingWriter)": (lambda: seal_file(source, sealed), sealed),
            "open (read_range)": (lambda: open_file(sealed, opened), opened),
        }
        seal_file(source, sealed)
        # Round-robin, each run writing a fresh file, so page-cache writeback and other load
        # fall on all three alike.
        samples: dict[str, list[float]] = {label: [] for label in works}
        for _ in range(args.runs):
            for label, (work, target) in works.items():
                target.unlink(missing_ok=True)
                samples[label].append(timed(1, work))
        for label, seconds_list in samples.items():
            seconds = statistics.median(seconds_list)
            rates[label] = args.mib / seconds
            say(f"  {label:<28} {rates[label]:8.0f} MiB/s   ({seconds * 1e3:.0f} ms)")
        assert opened.read_bytes() == source.read_bytes(), "the round trip changed the bytes"
        overhead = sealed.stat().st_size / size - 1
        say(
            f"  size on disk: +{overhead * 100:.3f}% "
            f"({sealing.TAG} bytes per chunk, {sealing.HEADER} of header)"
        )

        plain = source.read_bytes()
        sealed_bytes = sealed.read_bytes()

        def seal_memory() -> None:
            writer = sealing.SealingWriter(Discard(), KEY)  # type: ignore[arg-type]
            view = memoryview(plain)
            for at in range(0, size, READ):
                writer.write(view[at : at + READ])
            writer.close()

        def open_memory() -> None:
            for _ in sealing.read_range(io.BytesIO(sealed_bytes), KEY):
                pass

        for label, work in (("seal, to no sink", seal_memory), ("open, in memory", open_memory)):
            seconds = timed(args.runs, work)
            rates[label] = args.mib / seconds
            say(f"  {label:<28} {rates[label]:8.0f} MiB/s")

        middle = size // 2
        with sealed.open("rb") as src:

            def one_range() -> None:
                for _ in sealing.read_range(src, KEY, middle, middle + READ):
                    pass

            seconds = timed(max(args.runs, 20), one_range)
        say(f"  1 MiB Range from the middle  {seconds * 1e3:8.2f} ms")

    base = rates["plain copy"]
    say()
    for label in ("seal (SealingWriter)", "open (read_range)"):
        ratio = rates[label] / base
        ok = rates[label] >= 1000
        say(
            f"{label}: {rates[label]:.0f} MiB/s ({ratio:.2f}x the plain copy); "
            f"target >= 1000 MiB/s: {'ok' if ok else 'MISSED'}"
        )
    say(machine_note(end=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
