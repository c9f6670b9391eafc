"""List-page latency at 1,000 and at 100,000 instances.

    .venv/bin/python bench/pagination.py
    .venv/bin/python bench/pagination.py --total 50000 --runs 30

Four users share the instances (a user's default private pool holds 65,531 addresses, so
100,000 cannot belong to one). The first 1,000 are created through the API, 250 per user with
each user's bearer token; the rest are inserted in bulk straight into the tables (see
benchlib.bulk_instances: instance rows, their private IPs, pool cursors and quota usage, no
audit records), because creating 99,000 through the API would take about a quarter of an hour.
Pages are read as the admin, who sees every instance, in-process (EngineApp via WSGI, as the
embedded CLI) and over HTTP from `python -m engine.server` on the same database.

Target: `GET /api/v1/services/instances/?page=1&page_size=20` and the CLI-sized
`page_size=1000` at 100,000 instances within 1.5x of the same page at 1,000.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from benchlib import (
    Client,
    InProcess,
    Server,
    Timing,
    bulk_instances,
    machine_note,
    say,
    scratch,
    time_calls,
)

USERS = ("bench-a", "bench-b", "bench-c", "bench-d")
PASSWORD = "bench-password-1"
FIRST = 1000
RATIO = 1.5


def measure(clients: dict[str, Client], total: int, runs: int) -> dict[tuple[str, str], Timing]:
    out = {}
    for transport, client in clients.items():
        for page_size in (20, 1000):
            label = f"{transport:<9} page=1 page_size={page_size} ({total:,} instances)"

            def read(client: Client = client, page_size: int = page_size) -> None:
                page = client.list_page(1, page_size)
                assert page["count"] == total, page["count"]
                assert len(page["results"]) == min(page_size, total)

            timing = time_calls(label, read, runs=runs)
            say("  " + timing.line())
            out[(transport, str(page_size))] = timing
    return out


def extras(clients: dict[str, Client], users: dict[str, Client], total: int, runs: int) -> None:
    """Not targets: a deep page, and one user's own view."""
    client = clients["inprocess"]
    last = (total + 19) // 20
    timing = time_calls(
        f"inprocess page={last} page_size=20 (last page)",
        lambda: client.list_page(last, 20),
        runs=runs,
    )
    say("  " + timing.line())
    user = users[USERS[0]]
    timing = time_calls(
        f"inprocess page=1 page_size=20 as {USERS[0]} (own only)",
        lambda: user.list_page(1, 20),
        runs=runs,
    )
    say("  " + timing.line())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-http", action="store_true", help="in-process only")
    args = parser.parse_args()
    per_user_limit = 10 * args.total

    say(machine_note())
    with scratch("pagination") as root:
        admin = InProcess(root / "engine")
        assert admin.admin_api_key is not None
        users: dict[str, Client] = {}
        for username in USERS:
            admin.create_user(username, PASSWORD)
            admin.raise_quotas(username, per_user_limit)
            users[username] = admin.as_user(admin.login(username, PASSWORD))

        started = time.perf_counter()
        for i in range(FIRST):
            username = USERS[i % len(USERS)]
            users[username].create_instance(f"api-{i}", idempotency_key=uuid.uuid4().hex)
        say(
            f"created {FIRST:,} instances through the in-process API in "
            f"{time.perf_counter() - started:.1f} s"
        )

        clients: dict[str, Client] = {"inprocess": admin}
        server = None
        if not args.no_http:
            server = Server(root / "engine", admin_api_key=admin.admin_api_key)
            clients["http"] = server.client()
        try:
            say(f"at {FIRST:,} instances:")
            small = measure(clients, FIRST, args.runs)
            extras(clients, users, FIRST, args.runs)

            started = time.perf_counter()
            rest = args.total - FIRST
            for n, username in enumerate(USERS):
                share = rest // len(USERS) + (1 if n < rest % len(USERS) else 0)
                bulk_instances(admin.db, username, share)
            say(f"inserted {rest:,} more in bulk in {time.perf_counter() - started:.1f} s")

            say(f"at {args.total:,} instances:")
            large = measure(clients, args.total, args.runs)
            extras(clients, users, args.total, args.runs)
        finally:
            for client in clients.values():
                client.close()
            if server is not None:
                server.stop()

    say()
    missed = []
    for key, before in small.items():
        after = large[key]
        ratio = after.median / before.median
        ok = ratio <= RATIO
        if not ok:
            missed.append(key)
        say(
            f"{key[0]:<10} page_size={key[1]:<5} {before.median * 1e3:7.1f} ms -> "
            f"{after.median * 1e3:7.1f} ms = {ratio:5.2f}x  (target <= {RATIO}x: "
            f"{'ok' if ok else 'MISSED'})"
        )
    say("all pagination targets met" if not missed else f"{len(missed)} pagination targets MISSED")
    say(machine_note(end=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
