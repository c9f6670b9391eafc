"""`engine serve --workers N`: creates/s, and list-page latency, with 1 and 2 workers.

    .venv/bin/python bench/workers.py                    # 1 and 2 workers, 8 clients
    .venv/bin/python bench/workers.py --workers 1 2 4 --creates 400
    .venv/bin/python bench/workers.py --postgres --moto   # both databases, and the peer

For each worker count a fresh server (granian, 8 threads a worker, instant clock) on a fresh
SQLite database: `--clients` threads, each with its own keep-alive connection, create
`--creates` instances each (`POST /api/v1/services/instances/` with an Idempotency-Key, as
the CLI sends), then each reads `--reads` list pages (`GET ...?page_size=20`) at once; the
creates/s are over the wall time of all clients, the p50/p99 over every read.

`--moto` measures the peer the same way in the same run: `moto_server` (pip install
'moto[server]' boto3) driven by boto3, `ec2.run_instances` for a create and
`describe_instances(MaxResults=20)` for a list page, one boto3 client per thread.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

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
        report(f"{workers} worker(s)", clients * creates, clients, wall, latencies)
        wall, latencies = in_parallel(clients, read)
        report_reads(
            f"{workers} worker(s)", clients * creates, clients * reads, clients, wall, latencies
        )
        for session in sessions:
            session.close()
        admin.close()


def measure_moto(clients: int, creates: int, reads: int) -> None:
    """The peer: moto_server on loopback, driven by boto3 as the issue measured it."""
    import boto3
    from botocore.config import Config

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    say("moto_server (in memory, not durable):")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

        def ec2() -> Any:
            return boto3.client(
                "ec2", region_name="us-west-2", endpoint_url=url,
                config=Config(retries={"max_attempts": 1}),
            )  # fmt: skip

        deadline = time.monotonic() + 30
        while True:
            try:
                image = ec2().describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        sessions = [ec2() for _ in range(clients)]
        for session in sessions:  # warm each connection
            session.describe_instances(MaxResults=5)

        def create(i: int) -> list[float]:
            out = []
            for _ in range(creates):
                t0 = time.perf_counter()
                sessions[i].run_instances(
                    ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1
                )
                out.append(time.perf_counter() - t0)
            return out

        def read(i: int) -> list[float]:
            out = []
            for _ in range(reads):
                t0 = time.perf_counter()
                sessions[i].describe_instances(MaxResults=20)
                out.append(time.perf_counter() - t0)
            return out

        create_wall, create_latencies = in_parallel(clients, create)
        read_wall, read_latencies = in_parallel(clients, read)
        report("moto", clients * creates, clients, create_wall, create_latencies)
        report_reads("moto", clients * creates, clients * reads, clients, read_wall, read_latencies)
    finally:
        server.terminate()
        server.wait(timeout=10)


def report(who: str, total: int, clients: int, wall: float, latencies: list[float]) -> None:
    say(
        f"  {who}: {total:,} creates by {clients} clients {total / wall:6.0f} creates/s   "
        f"p50 {latencies[len(latencies) // 2] * 1e3:6.1f} ms   "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:6.1f} ms"
    )


def report_reads(
    who: str, rows: int, total: int, clients: int, wall: float, latencies: list[float]
) -> None:
    say(
        f"  {who}: list page (20 of {rows:,}) by {clients} clients {total / wall:6.0f} pages/s"
        f"   p50 {latencies[len(latencies) // 2] * 1e3:6.1f} ms"
        f"   p99 {latencies[int(len(latencies) * 0.99)] * 1e3:6.1f} ms"
    )


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
    parser.add_argument(
        "--moto", action="store_true", help="also moto_server driven by boto3, the issue's peer"
    )
    args = parser.parse_args()
    say(machine_note())
    if args.moto:
        measure_moto(args.clients, args.creates, args.reads)
    for postgres in (False, True) if args.postgres else (False,):
        for workers in args.workers:
            measure(workers, args.clients, args.creates, args.reads, postgres)
    say(machine_note(end=True))


if __name__ == "__main__":
    main()
