"""What a request costs with the engine's collections declared and 25 more: flat, or it grows.

    .venv/bin/python bench/many_collections.py            # 3 rounds of each, ~1.5 min
    .venv/bin/python bench/many_collections.py --rounds 5 --calls 2000

Each round runs in a fresh process: the engine in-process (WSGI, as the embedded CLI), on a
manual clock (no transition comes due mid-measurement), as the admin. With `--synthetic 25`
the process first declares 25 more collections, each with its own table, a four-state machine
with 60 s transitions and a retention, made only by this benchmark (written into a temporary
package and served through `engine.registry.add`), and touches every one: a create in each, so
its module, routes and lifecycle are loaded and its due work waits on the timeline, as in a
server that has served every service. Then it times, by median, an instance create
(`POST /api/v1/services/instances/`) and a `GET` of one instance.
Rounds alternate between 0 and 25 synthetic collections so machine noise falls on both alike.

Target: with 25 more collections, each median within 10% of the one with the engine's own.
Each request's Python function calls are also counted (cProfile): a figure the machine's noise
does not move, which shows whether any per-request work grows with the collections.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from benchlib import PYTHON, REPO, InProcess, machine_note, say

SYNTHETIC_MODULE = '''
"""A collection made by bench/many_collections.py, never by the product."""

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Field

from engine.collection import Collection, StateMachine
from engine.resources import CommonInput, ResourceBase, apply_common, common_public


class Thing(ResourceBase, table=True):
    __tablename__ = "synthetic_{n:02d}"
    thing_id: str = Field(unique=True, max_length=32)
    status: str = Field(default="creating", max_length=16, index=True)
    status_due_at: datetime | None = None


class ThingCreate(CommonInput):
    name: str


def public(thing: Thing) -> dict[str, Any]:
    return {{**common_public(thing, "thing_id"), "status": thing.status}}


def create(ctx: Any, spec: ThingCreate) -> Thing:
    thing = Thing(
        thing_id=THINGS.new_id(), owner=ctx.principal.username, created_at=ctx.now,
        updated_at=ctx.now, tags={{}}, meta={{}},
    )
    apply_common(thing, spec, now=ctx.now)
    THINGS.begin(ctx, thing, "creating")
    THINGS.added(ctx, thing)
    return thing


def delete(ctx: Any, thing: Thing, *, force: bool = False) -> int:
    THINGS.begin(ctx, thing, "deleting")
    return 202


THINGS = Collection(
    service="compute", name="synthetic-{n:02d}", label="synthetic {n:02d}",
    id_prefix="syn{n:02d}", model=Thing, id_field="thing_id", public=public,
    filters={{"status": str}}, counted=True,
    create_schema=ThingCreate, create=create, delete=delete,
    states=StateMachine(
        states=("creating", "available", "deleting", "deleted"),
        transitions={{"creating": ("available", 60.0), "deleting": ("deleted", 60.0)}},
        final=("deleted",),
        retention=timedelta(days=1),
    ),
)
'''


def declare_synthetic(count: int, root: Path) -> list[str]:
    """Write `count` collection modules into a package under `root`; serve each. Their names."""
    from engine import registry

    package = root / "bench_synthetic"
    package.mkdir()
    (package / "__init__.py").write_text('"""Collections made by bench/many_collections.py."""\n')
    sys.path.insert(0, str(root))
    names = []
    for n in range(1, count + 1):
        (package / f"synthetic_{n:02d}.py").write_text(
            textwrap.dedent(SYNTHETIC_MODULE.format(n=n))
        )
        registry.add(f"bench_synthetic.synthetic_{n:02d}")
        names.append(f"synthetic-{n:02d}")
    return names


def median_ms(call, runs: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e3


def one_round(synthetic: int, calls: int) -> dict[str, float]:
    """Run in a fresh process: the medians of a create and of a GET, in ms."""
    with tempfile.TemporaryDirectory(prefix="atonix-bench-collections-") as name:
        root = Path(name)
        client = InProcess(root / "data", clock="manual")
        assert client.authorization
        for resource_type in ("instances", "vcpus", "memory_gb"):
            client.call(
                "PUT",
                f"/api/v1/quotas/{resource_type}/",
                body={"owner": "admin", "limit": 1_000_000},
            )
        for collection in declare_synthetic(synthetic, root):
            path = f"/api/v1/services/{collection}/"
            client.call("POST", path, body={"name": "touched"}, expect=201)
            client.call("GET", path)
        from engine import registry

        declared = len(registry.modules())
        for i in range(50):  # warm-up, and rows to read
            client.create_instance(f"warm-{i}")
        target = client.create_instance("target")["instance_id"]
        item = f"/api/v1/services/instances/{target}/"
        create = median_ms(
            lambda: client.create_instance(f"c-{uuid.uuid4().hex[:8]}", idempotency_key=None),
            calls,
        )
        get = median_ms(lambda: client.call("GET", item), calls)
        create_calls = calls_per_request(lambda: client.create_instance(f"p-{uuid.uuid4().hex}"))
        get_calls = calls_per_request(lambda: client.call("GET", item))
        client.close()
        return {
            "declared": declared,
            "create_ms": create,
            "get_ms": get,
            "create_calls": create_calls,
            "get_calls": get_calls,
        }


def calls_per_request(call, runs: int = 100) -> float:  # type: ignore[no-untyped-def]
    """Python function calls per request, by cProfile: a count, so free of the machine's noise."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for _ in range(runs):
        call()
    profile.disable()
    return pstats.Stats(profile).total_calls / runs  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--synthetic", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.synthetic is not None:  # one round, in this fresh process
        print(json.dumps(one_round(args.synthetic, args.calls)))
        return 0

    say(machine_note())
    results: dict[int, list[dict[str, float]]] = {0: [], 25: []}
    for round_no in range(args.rounds):
        for synthetic in (0, 25):
            out = subprocess.run(
                [PYTHON, __file__, "--synthetic", str(synthetic), "--calls", str(args.calls)],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            )
            found = json.loads(out.stdout.strip().splitlines()[-1])
            results[synthetic].append(found)
            say(
                f"  round {round_no + 1}: {found['declared']:>2.0f} collections   "
                f"create p50 {found['create_ms']:5.2f} ms ({found['create_calls']:.0f} calls)   "
                f"GET p50 {found['get_ms']:5.2f} ms ({found['get_calls']:.0f} calls)"
            )
    say()
    ok = True
    few_n, many_n = (int(results[n][0]["declared"]) for n in (0, 25))
    for metric, label in (("create_ms", "instance create"), ("get_ms", "GET of one instance")):
        few = statistics.median(r[metric] for r in results[0])
        many = statistics.median(r[metric] for r in results[25])
        change = (many - few) / few
        met = change <= 0.10
        ok &= met
        say(
            f"{label:<20} {few:5.2f} ms with {few_n} collections, {many:5.2f} ms with {many_n}: "
            f"{change:+.1%} ({'met' if met else 'MISSED'}: at most +10%)"
        )
    for metric, label in (
        ("create_calls", "instance create"),
        ("get_calls", "GET of one instance"),
    ):
        few = statistics.median(r[metric] for r in results[0])
        many = statistics.median(r[metric] for r in results[25])
        say(
            f"{label:<20} {few:.0f} Python calls with {few_n} collections, {many:.0f} with {many_n}"
        )
    say(machine_note(end=True))
    say("all targets met" if ok else "some targets missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
