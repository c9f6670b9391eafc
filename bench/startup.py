"""Start-up and whole-command wall times of the `atonix` console script, hyperfine-style.

    .venv/bin/python bench/startup.py            # 2 warm-ups + 15 timed runs of each command
    .venv/bin/python bench/startup.py --runs 30

Every command runs in a fresh process with ATONIX_CONFIG_DIR and ATONIX_DATA_DIR in a temporary
directory, ATONIX_CLOCK=instant and ATONIX_SECRET_STORE=file (never your keyring). Output goes
to /dev/null, so `instance list` renders the `text` format. Targets (median):
`atonix --help` and `--version` <= 200 ms; `instance list` against a running server (1,000
instances) <= 350 ms; embedded `instance list` with 1,000 instances <= 650 ms. The bare
interpreter and the big imports are measured the same way as baselines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid

from benchlib import (
    ATONIX,
    PYTHON,
    Client,
    InProcess,
    Server,
    Timing,
    isolated_env,
    machine_note,
    say,
    scratch,
    time_command,
)

SEEDED = 1000
TARGETS_MS = {"help": 200.0, "version": 200.0, "remote": 350.0, "embedded": 650.0}


def seed(client: Client, count: int) -> None:
    for i in range(count):
        client.create_instance(f"bench-{i}", idempotency_key=uuid.uuid4().hex)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmups", type=int, default=2)
    args = parser.parse_args()
    opts = {"runs": args.runs, "warmups": args.warmups}
    rows: list[tuple[Timing, float | None]] = []

    say(machine_note())
    with scratch("startup") as root:
        env = isolated_env(root)

        say("baselines (same harness):")
        for label, code in [
            ("python -c pass", "pass"),
            ('python -c "import typer, rich, httpx"', "import typer, rich, httpx"),
            ('python -c "import sqlmodel"', "import sqlmodel"),
        ]:
            timing = time_command(label, [PYTHON, "-c", code], env=env, **opts)
            say("  " + timing.line())
            rows.append((timing, None))

        say("atonix, no engine needed:")
        for label, argv, key in [
            ("atonix --help", [ATONIX, "--help"], "help"),
            ("atonix --version", [ATONIX, "--version"], "version"),
            ("atonix instance --help", [ATONIX, "instance", "--help"], None),
        ]:
            timing = time_command(label, argv, env=env, **opts)
            say("  " + timing.line(TARGETS_MS.get(key or "")))
            rows.append((timing, TARGETS_MS.get(key or "")))

        # Embedded: the first command creates the profile, the engine and its admin.
        subprocess.run([ATONIX, "whoami"], env=env, check=True, capture_output=True)
        key = json.loads((root / "config" / "credentials.json").read_text())["default"]["api_key"]
        engine_dir = root / "data" / "profiles" / "default"
        say("embedded engine:")
        timing = time_command(
            "atonix instance list (embedded, 0 instances)",
            [ATONIX, "instance", "list"],
            env=env,
            **opts,
        )
        say("  " + timing.line())
        rows.append((timing, None))
        client = InProcess(engine_dir)
        client.authorization = f"ApiKey {key}"
        client.raise_quotas("admin", 10 * SEEDED)
        seed(client, SEEDED)
        client.close()
        count = subprocess.run(
            [ATONIX, "instance", "list"], env=env, check=True, capture_output=True, text=True
        ).stdout.count("\n")
        assert count == SEEDED, count
        timing = time_command(
            f"atonix instance list (embedded, {SEEDED:,} instances)",
            [ATONIX, "instance", "list"],
            env=env,
            **opts,
        )
        say("  " + timing.line(TARGETS_MS["embedded"]))
        rows.append((timing, TARGETS_MS["embedded"]))

        say("remote (python -m engine.server on this machine, profile via ATONIX_ENDPOINT):")
        with Server(root / "server") as server:
            remote_env = {
                **env,
                "ATONIX_ENDPOINT": server.url,
                "ATONIX_API_KEY": server.admin_api_key,
            }
            timing = time_command(
                "atonix instance list (remote, 0 instances)",
                [ATONIX, "instance", "list"],
                env=remote_env,
                **opts,
            )
            say("  " + timing.line())
            rows.append((timing, None))
            http = server.client()
            http.raise_quotas("admin", 10 * SEEDED)
            seed(http, SEEDED)
            http.close()
            timing = time_command(
                f"atonix instance list (remote, {SEEDED:,} instances)",
                [ATONIX, "instance", "list"],
                env=remote_env,
                **opts,
            )
            say("  " + timing.line(TARGETS_MS["remote"]))
            rows.append((timing, TARGETS_MS["remote"]))

    missed = [t.label for t, target in rows if target is not None and t.median * 1e3 > target]
    say()
    say(f"missed: {', '.join(missed)}" if missed else "all start-up targets met")
    say(machine_note(end=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
