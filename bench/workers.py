"""`engine serve --workers N`: creates/s, and list-page latency, with 1 and 2 workers.

    .venv/bin/python bench/workers.py                    # 1 and 2 workers, 8 clients
    .venv/bin/python bench/workers.py --workers 1 2 4 --creates 400

For each worker count a fresh server (granian, 8 threads a worker, instant clock) on a fresh
SQLite database: `--clients` threads, each with its own keep-alive connection, create
`--creates` instances each (`POST /api/v1/services/instances/` with an Idempotency-Key, as
the CLI sends), then each reads `--reads` list pages (`GET ...?page_size=20`) at once; the
creates/s are over the wall time of all clients, the p50/p99 over every read.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from collections.abc import Callable

from benchlib import REPO, Server, machine_note, say, scratch


def in_parallel(clients: int, work: Callable[[int], list[float]]) -> tuple[float, list[float]]:
    """Run `work(i)` in `clients` threads at once: the wall time, and all latencies sorted."""
    results: list[list[float]] = [[] for _ in range(clients)]
    gate = threading.Barrier(clients + 1)

    def run(i: int) -> None:
        gate.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sorted(x for r in results for x in r)


def measure(workers: int, clients: int, creates: int, reads: int, postgres: bool) -> None:
    database_url = None
    if postgres:  # a fresh database on the server ATONIX_TEST_POSTGRES_URL names
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from tests.support.postgres import fresh_database

        database_url = fresh_database()
    say(f"on {'PostgreSQL' if postgres else 'SQLite'}:")
    with (
        scratch(f"workers{workers}") as root,
        Server(root, workers=workers, database_url=database_url) as server,
    ):
        admin = server.client()
        admin.raise_quotas("admin", 4 * clients * creates + 1000)
        sessions = [server.client() for _ in range(clients)]
        for session in sessions:  # warm each connection (and each worker's imports)
            session.list_page()

        def create(i: int) -> list[float]:
            out = []
            for n in range(creates):
                t0 = time.perf_counter()
                sessions[i].create_instance(f"w{i}-{n}", idempotency_key=uuid.uuid4().hex)
                out.append(time.perf_counter() - t0)
            return out

        def read(i: int) -> list[float]:
            out = []
            for _ in range(reads):
                t0 = time.perf_counter()
                sessions[i].list_page(page_size=20)
                out.append(time.perf_counter() - t0)
            return out

        wall, latencies = in_parallel(clients, create)
        rate = clients * creates / wall
        say(
            f"  {workers} worker(s): {clients * creates:,} creates by {clients} clients "
            f"{rate:6.0f} creates/s   p50 {latencies[len(latencies) // 2] * 1e3:6.1f} ms"
            f"   p99 {latencies[int(len(latencies) * 0.99)] * 1e3:6.1f} ms"
        )
        wall, latencies = in_parallel(clients, read)
        say(
            f"  {workers} worker(s): list page (20 of {clients * creates:,}) by {clients} "
            f"clients {clients * reads / wall:6.0f} pages/s   p50 "
            f"{latencies[len(latencies) // 2] * 1e3:6.1f} ms   p99 "
            f"{latencies[int(len(latencies) * 0.99)] * 1e3:6.1f} ms"
        )
        for session in sessions:
            session.close()
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--creates", type=int, default=250, help="creates per client (250)")
    parser.add_argument("--reads", type=int, default=250, help="list pages per client (250)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also on PostgreSQL (the server $ATONIX_TEST_POSTGRES_URL names, e.g. .ci/postgres)",
    )
    args = parser.parse_args()
    say(machine_note())
    for postgres in (False, True) if args.postgres else (False,):
        for workers in args.workers:
            measure(workers, args.clients, args.creates, args.reads, postgres)
    say(machine_note(end=True))


if __name__ == "__main__":
    main()
