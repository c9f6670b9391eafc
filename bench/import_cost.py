"""What a request to one collection loads: its own tables only, and what each other one would cost.

    .venv/bin/python bench/import_cost.py        # ~20 s

For each compute collection, a fresh process imports the engine's app, then serves one `GET` of
the collection's list in-process, and reports which resource tables that loaded and how long the
collection's modules took to import (median of `--runs` processes). Then it times the import of
one more collection module with a table and a state machine (bench/many_collections.py's
synthetic one): what every command of a service would pay per table it does not use, if the
service's models were loaded together.

Target: a compute command loads no table it does not use (instances needs flavors and images
to launch); the cost per unused table is reported for scale.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from benchlib import PYTHON, REPO, machine_note, say

PROBE = """
import json, sys, tempfile, time
from pathlib import Path
from sqlmodel import SQLModel
sys.path.insert(0, "bench")
from benchlib import InProcess
client = InProcess(Path(tempfile.mkdtemp()) / "data", clock="instant")
before = set(SQLModel.metadata.tables)
started = time.perf_counter()
client.call("GET", "/api/v1/services/{name}/")
elapsed = time.perf_counter() - started
print(json.dumps({{"tables": sorted(set(SQLModel.metadata.tables) - before),
                   "first_request_ms": elapsed * 1e3}}))
"""

SYNTHETIC_PROBE = """
import json, sys, time
sys.path.insert(0, "bench"); sys.path.insert(0, {root!r})
import engine.collection, engine.resources, engine.lifecycle
started = time.perf_counter()
import bench_synthetic.synthetic_01
print(json.dumps({{"import_ms": (time.perf_counter() - started) * 1e3}}))
"""


def probe(code: str, runs: int) -> list[dict[str, object]]:
    found = []
    for _ in range(runs):
        out = subprocess.run(
            [PYTHON, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
        )
        found.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    say(machine_note())
    uses = {"flavors": {"flavors"}, "images": {"images"}, "instances": {"instances"}}
    # Launching reads flavors and images; the tables a request to each may load besides its own.
    needed = {"instances": {"flavors", "images"}}
    ok = True
    for name, own in uses.items():
        runs = probe(PROBE.format(name=name), args.runs)
        tables = set(runs[0]["tables"])  # type: ignore[arg-type]
        resource_tables = {t for t in tables if t in ("flavors", "images", "instances")}
        unused = resource_tables - own - needed.get(name, set())
        ms = statistics.median(float(r["first_request_ms"]) for r in runs)  # type: ignore[arg-type]
        ok &= not unused
        say(
            f"GET {name:<10} first request {ms:6.1f} ms; tables loaded: "
            f"{', '.join(sorted(tables))}; unused resource tables: {len(unused)}"
        )
    from many_collections import SYNTHETIC_MODULE

    with tempfile.TemporaryDirectory(prefix="atonix-bench-import-") as root:
        package = Path(root) / "bench_synthetic"
        package.mkdir()
        (package / "__init__.py").write_text("")
        module = textwrap.dedent(SYNTHETIC_MODULE.format(n=1))
        (package / "synthetic_01.py").write_text(module)
        runs = probe(SYNTHETIC_PROBE.format(root=root), args.runs)
    per_table = statistics.median(float(r["import_ms"]) for r in runs)  # type: ignore[arg-type]
    say(f"one more collection module (a table, its bodies, a state machine): {per_table:.2f} ms")
    say("  = what each command would pay per unused table if a service's models loaded together")
    say(machine_note(end=True))
    say("all targets met" if ok else "some targets missed")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
