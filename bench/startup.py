"""Start-up and whole-command wall times of the `atonix` console script, hyperfine-style.

    .venv/bin/python bench/startup.py            # 2 warm-ups + 15 timed runs of each command
    .venv/bin/python bench/startup.py --runs 30

Every command runs in a fresh process with ATONIX_CONFIG_DIR and ATONIX_DATA_DIR in a temporary
directory, ATONIX_CLOCK=instant and ATONIX_SECRET_STORE=file (never your keyring). Output goes
to /dev/null, so `instance list` renders the `text` format. Targets (median):
`atonix --help` and `--version` <= 200 ms; `instance list` against a running server (1,000
instances) <= 350 ms; embedded `instance list` with 1,000 instances <= 650 ms. The bare
interpreter and the big imports are measured the same way as baselines.

The peer, side by side in the same run when `aws` (aws-cli) is on PATH: `aws --version` against
`atonix --version` (target: at most a third), and, when `moto_server` is on PATH too, `aws ec2
describe-instances` against moto on loopback beside `atonix instance list` against our server,
both with nothing to list (a remote command's start-up and one round trip).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
PEER_SHARE = 1 / 3  # of aws-cli's start-up


def real_command(name: str) -> str | None:
    """`name` on PATH, past a pyenv shim (a shell script that would add its own start-up)."""
    found = shutil.which(name)
    if found and "/.pyenv/shims/" in found:
        done = subprocess.run(["pyenv", "which", name], capture_output=True, text=True)
        found = done.stdout.strip() if done.returncode == 0 else found
    return found


@contextmanager
def moto_server(command: str) -> Iterator[str]:
    """moto_server on a free loopback port; its URL once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def measure_peer(
    root: Path, env: dict[str, str], atonix: dict[str, Timing], opts: dict[str, int]
) -> list[str]:
    """aws-cli beside atonix in this run; the side-by-side targets it missed."""
    aws = real_command("aws")
    if not aws:
        say("aws-cli: not on PATH; skipped")
        return []
    aws_env = {
        **env,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(root / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(root / "aws-credentials"),
        "AWS_PAGER": "",
    }
    say(f"the peer, aws-cli ({aws}):")
    pairs = [(time_command("aws --version", [aws, "--version"], env=aws_env, **opts), "version")]
    moto = real_command("moto_server")
    if moto:
        with moto_server(moto) as url:
            argv = [aws, "ec2", "describe-instances", "--endpoint-url", url, "--output", "text"]
            label = "aws ec2 describe-instances (moto, 0 instances)"
            pairs.append((time_command(label, argv, env=aws_env, **opts), "remote-empty"))
    else:
        say("  moto_server: not on PATH; the remote pair is skipped")
    missed = []
    for timing, ours in pairs:
        share = atonix[ours].median / timing.median
        line = f"  {timing.line()}  atonix: {share:.2f}x of it"
        if ours == "version":  # the start-up target; the remote pair is for reference
            ok = share <= PEER_SHARE
            line += f" (target <= {PEER_SHARE:.2f}x: {'ok' if ok else 'MISSED'})"
            if not ok:
                missed.append(f"{atonix[ours].label} against {timing.label}")
        say(line)
    return missed


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
    ours: dict[str, Timing] = {}  # what the peer is compared with

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
            ours[key or label] = timing
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
            ours["remote-empty"] = timing
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

        peer_missed = measure_peer(root, env, ours, opts)

    missed = [t.label for t, target in rows if target is not None and t.median * 1e3 > target]
    missed += peer_missed
    say()
    say(f"missed: {', '.join(missed)}" if missed else "all start-up targets met")
    say(machine_note(end=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
