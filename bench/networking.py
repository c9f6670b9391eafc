"""Networking: the cost of a launch into a large subnet, and the start-up of networking commands.

    .venv/bin/python bench/networking.py              # ~1 min
    .venv/bin/python bench/networking.py --launches 2000

1. Launches into one /16 subnet (65,531 addresses), in-process, one request at a time: the time
   and the SQL statements of the first 20 launches and of the 20 around the 1,000th
   (`--launches`). Target: the 1,000th costs no more than the 10th (the same statements, the
   fastest within 25%; the address is found without reading the used ones). Then instances
   are terminated at random and as many relaunched: each gets the lowest free address, still
   at the same cost.
2. Embedded `atonix vpc list` against `atonix instance list` (fresh processes, 2 warm-ups and 15
   runs each, interleaved), and whether `atonix instance list` loads any networking module (it
   must not).
   Target: `vpc list` median within 10% of `instance list`'s.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from benchlib import (
    ATONIX,
    INSTANCES,
    PYTHON,
    InProcess,
    Timing,
    isolated_env,
    machine_note,
    say,
    scratch,
    time_command,
)

WINDOW = 20  # launches timed around each point (the first 20 for the 10th)
VPCS = "/api/v1/services/vpcs/"
SUBNETS = "/api/v1/services/subnets/"


class Counter:
    """Counts the SQL statements the engine sends, from a SQLAlchemy event."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.n = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.n += 1


def launch(client: InProcess, subnet_id: str, n: int) -> Any:
    body = {"name": f"l-{n}", "flavor": "t3.micro", "image": "ubuntu-22.04", "subnet_id": subnet_id}
    return client.call("POST", INSTANCES, body=body, idempotency_key=uuid.uuid4().hex, expect=201)


def measure(
    client: InProcess, counter: Counter, subnet_id: str, start: int
) -> tuple[float, float, float]:
    """Median and fastest milliseconds, and median statements, of WINDOW launches numbered from
    `start` (the fastest is the least disturbed by other work on a busy machine)."""
    times, statements = [], []
    for n in range(start, start + WINDOW):
        before, started = counter.n, time.perf_counter()
        launch(client, subnet_id, n)
        times.append((time.perf_counter() - started) * 1e3)
        statements.append(counter.n - before)
    return statistics.median(times), min(times), statistics.median(statements)


def launches(total: int) -> bool:
    with scratch("networking") as root:
        client = InProcess(root / "engine")
        client.raise_quotas("admin", 10 * total)
        vpc = client.call("POST", VPCS, body={"name": "big", "cidr_block": "10.8.0.0/16"})
        subnet = client.call(
            "POST",
            SUBNETS,
            body={"name": "whole", "vpc_id": vpc["vpc_id"], "cidr_block": "10.8.0.0/16"},
        )
        sid = subnet["subnet_id"]
        counter = Counter(client.db.engine)
        early = measure(client, counter, sid, 1)
        made = 1 + WINDOW
        while made < total - WINDOW // 2:
            launch(client, sid, made)
            made += 1
        late = measure(client, counter, sid, made)
        made += WINDOW
        for label, (median, fastest, statements) in (
            (f"1-{WINDOW}", early),
            (f"{total - WINDOW // 2}-{total + WINDOW // 2 - 1}", late),
        ):
            say(f"  launches {label}: median {median:.2f} ms, fastest {fastest:.2f} ms, "
                f"{statements:.0f} statements (median)")  # fmt: skip
        listed = client.call("GET", INSTANCES, params={"page_size": 1000})["results"]
        victims = random.Random(8).sample(listed, 50)
        for victim in victims:
            client.call("POST", f"{INSTANCES}{victim['instance_id']}/terminate/")
        freed = sorted(ipaddress.IPv4Address(v["private_ip"]) for v in victims)
        before, started = counter.n, time.perf_counter()
        again = [launch(client, sid, made + i)["private_ip"] for i in range(50)]
        relaunch_ms = (time.perf_counter() - started) * 1e3 / 50
        relaunch_statements = (counter.n - before) / 50
        lowest = [ipaddress.IPv4Address(a) for a in again] == freed
        say(f"  50 relaunches after 50 random terminations: {relaunch_ms:.2f} ms, "
            f"{relaunch_statements:.1f} statements each; lowest free first: {lowest}")  # fmt: skip
        shown = client.call("GET", f"{SUBNETS}{sid}/")
        say(f"  available_ip_count {shown['available_ip_count']:,} of 65,531")
        client.close()
        return late[2] <= early[2] and late[1] <= early[1] * 1.25 and lowest


def startup(runs: int) -> bool:
    with scratch("networking-startup") as root:
        env = isolated_env(root)
        subprocess.run([ATONIX, "whoami"], env=env, check=True, capture_output=True)
        subprocess.run([ATONIX, "vpc", "create", "--name", "prod", "--cidr", "10.1.0.0/16"],
                       env=env, check=True, capture_output=True)  # fmt: skip
        # Interleaved, one run of each in turn, so a burst of load on the machine falls on both.
        argvs = {"instance": [ATONIX, "instance", "list"], "vpc": [ATONIX, "vpc", "list"]}
        samples: dict[str, list[float]] = {"instance": [], "vpc": []}
        for n in range(2 + runs):
            for key, argv in argvs.items():
                timed = time_command(key, argv, env=env, runs=1, warmups=0)
                if n >= 2:
                    samples[key] += timed.samples
        instance = Timing("atonix instance list (embedded)", samples["instance"])
        vpc = Timing("atonix vpc list (embedded)", samples["vpc"])
        say("  " + instance.line())
        say("  " + vpc.line())
        probe = (
            "import sys; from atonix_cli.app import run; run(['instance', 'list']); "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('engine.networking'))))"
        )
        done = subprocess.run([PYTHON, "-c", "import json; " + probe], env=env, check=True,
                              capture_output=True, text=True)  # fmt: skip
        loaded = json.loads(done.stdout.strip().splitlines()[-1])
        say(f"  networking modules loaded by `atonix instance list`: {loaded or 'none'}")
        return vpc.median <= instance.median * 1.10 and not [
            m for m in loaded if m != "engine.networking"
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    say(machine_note())
    say(f"launches into one /16 subnet, in-process ({WINDOW} timed around each point):")
    flat = launches(args.launches)
    say("embedded start-up:")
    light = startup(args.runs)
    say()
    say("the 1,000th launch costs what the 10th does" if flat else "missed: launch cost grows")
    say("vpc list starts as fast as instance list" if light else "missed: vpc list start-up")
    say(machine_note(end=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
