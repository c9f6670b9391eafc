"""Instance creates per second: in-process (WSGI, as the embedded CLI) and over HTTP (granian).

    .venv/bin/python bench/throughput.py                 # both: 1,000 creates, fill, 1,000 more
    .venv/bin/python bench/throughput.py --only inprocess --after 2000   # a quick look

Each create is `POST /api/v1/services/instances/` as the admin, one at a time, with an
Idempotency-Key as the CLI sends, in blocks of 1,000: the first three blocks (0 -> 3,000
instances) are timed, the engine is filled up to 10,000, and three more blocks (10,000 -> 13,000)
are timed. Each point's rate is its median block: one block against one block varied by +-15%
here (a checkpoint, a collection, the other process on two cores), more than the 10% allowed.
`--fill seed` (default) fills by calling the engine's own create_instance service function in
one transaction per 2,000 (quotas, IPs, lifecycle and audit records as through the API, but no
HTTP, auth or idempotency records); `--fill api` fills through the API and prints the rate of
every block (about 2 minutes more per transport on a 2-core machine).

Targets: >= 400 creates/s in-process, >= 150/s over HTTP, and the blocks after 10,000 no slower
than the first ones (10% allowed for noise). Rates are also given from the median latency, which
other work on the machine disturbs less.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from typing import Any

from benchlib import Client, InProcess, Server, machine_note, say, scratch, seed_instances

TARGETS = {"inprocess": 400.0, "http": 150.0}
BLOCK = 1000
BLOCKS = 3  # timed at each point; the point's rate is the median block
NOISE = 0.10


def run_block(client: Client, block: int, label: str) -> float:
    latencies = []
    started = time.perf_counter()
    for i in range(BLOCK):
        t0 = time.perf_counter()
        client.create_instance(f"{label}-{block}-{i}", idempotency_key=uuid.uuid4().hex)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = latencies[BLOCK // 2]
    say(
        f"  {label:<9} instances {block * BLOCK:>6,} -> {(block + 1) * BLOCK:<6,} "
        f"{BLOCK / elapsed:6.1f} creates/s   p50 {p50 * 1e3:5.2f} ms (= {1 / p50:4.0f}/s)"
        f"   p95 {latencies[int(BLOCK * 0.95)] * 1e3:5.2f} ms"
    )
    return BLOCK / elapsed


def run_blocks(client: Client, first_block: int, label: str) -> float:
    """BLOCKS blocks in a row from `first_block`: the median block's rate."""
    return statistics.median(
        run_block(client, block, label) for block in range(first_block, first_block + BLOCKS)
    )


def fill(client: Client, db: Any, start: int, stop: int, how: str, label: str) -> list[float]:
    """From `start` to `stop` instances; the rates of the API blocks if filling through it."""
    if how == "api":
        return [run_block(client, block, label) for block in range(start // BLOCK, stop // BLOCK)]
    from engine import timeline

    began = time.perf_counter()
    seed_instances(db, "admin", stop - start, prefix=label)
    # The seeded boots fall due together; through the API each create completes the one before
    # it, so the timed block is left as many as that would leave (none), not thousands.
    while timeline.work_due_now(db):
        pass
    say(
        f"  {label:<9} filled {start:,} -> {stop:,} with the service function in "
        f"{time.perf_counter() - began:.1f} s"
    )
    return []


def verdict(label: str, rates: list[float], after: int) -> bool:
    target = TARGETS[label]
    first, last = rates
    ok_rate = first >= target
    ok_flat = last >= first * (1 - NOISE)
    say(
        f"{label:<9}: first {BLOCKS * BLOCK:,}: {first:5.0f}/s (target >= {target:.0f}/s: "
        f"{'ok' if ok_rate else 'MISSED'}); after {after:,}: {last:5.0f}/s = "
        f"{last / first:.2f}x the first ({'ok' if ok_flat else 'SLOWER'})"
    )
    return ok_rate and ok_flat


def measure(client: Client, db: Any, how: str, label: str, after: int) -> list[float]:
    """The first blocks, a fill up to `after`, then more blocks: [first rate, later rate], each
    the median of its blocks."""
    client.raise_quotas("admin", 4 * (after + BLOCKS * BLOCK))  # t3.micro: 2 vCPUs, 1 GB each
    first = run_blocks(client, 0, label)
    fill(client, db, BLOCKS * BLOCK, after, how, label)
    last = run_blocks(client, after // BLOCK, label)
    return [first, last]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--after", type=int, default=10_000, help="instances before the later timed blocks (10,000)"
    )
    parser.add_argument("--fill", choices=("seed", "api"), default="seed")
    parser.add_argument("--only", choices=("inprocess", "http"), default=None)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    say(machine_note())

    if args.only in (None, "inprocess"):
        with scratch("throughput") as root:
            client = InProcess(root / "engine")
            say("in-process (EngineApp via WSGI, as the embedded CLI):")
            results["inprocess"] = measure(client, client.db, args.fill, "inprocess", args.after)
            client.close()

    if args.only in (None, "http"):
        with scratch("throughput") as root, Server(root / "server") as server:
            from engine.db import Database, sqlite_url

            remote = server.client()
            # The fill writes to the server's database from this process (SQLite WAL).
            db = Database(sqlite_url(server.data_dir / "atonix.db"))
            say(f"over HTTP ({server.url}: granian, 1 worker x 8 threads; one client):")
            results["http"] = measure(remote, db, args.fill, "http", args.after)
            remote.close()
            db.dispose()

    say()
    ok = all([verdict(label, rates, args.after) for label, rates in results.items()])
    say("all throughput targets met" if ok else "some throughput targets MISSED")
    say(machine_note(end=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
