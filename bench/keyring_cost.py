"""What reading a profile's secret costs: the 0600 file, the remembered keyring backend, discovery.

    .venv/bin/python bench/keyring_cost.py              # ~1 min: 2 warm-ups + 15 timed runs each
    .venv/bin/python bench/keyring_cost.py --site DIR   # reuse a directory holding keyrings.alt

A third-party backend (`keyrings.alt`, from PyPI with pip, into a scratch directory put on
PYTHONPATH) stands in for an OS keyring: `keyrings.alt.file.PlaintextKeyring`, its data under
the scratch directory (XDG_DATA_HOME), never your own keyring. Each sample is a fresh process
that first imports what a command has loaded by the time it reads its secret, then times the
read as the CLI does it (`Config.load`, `SecretStore.get`, importing keyring included); then,
for reference, whole `atonix whoami` runs on an embedded engine (noisier: the engine dominates).

Target (median): the remembered backend <= 30 ms more than the file store. "discovered" is the
same secret with `keyring_backend` removed from its profile, so keyring scans every installed
backend: what the remembered class avoids (more costly still with a real OS keyring and D-Bus).
What is left is importing keyring itself (keyring.backend, jaraco.*), which every backend class
needs, since all of them subclass `keyring.backend.KeyringBackend`; what that drags in but uses
only later (importlib_metadata for entry points, more_itertools, subprocess) runs on first use
(`profiles.secrets.DEFERRED`). Measured here, load ~3 on 2 cores, medians of 15: +70 and +39 ms
before that deferral, +28 and +15 ms after.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

from benchlib import (
    ATONIX,
    PYTHON,
    Timing,
    isolated_env,
    machine_note,
    say,
    scratch,
    time_command,
)

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"
TARGET_MS = 30.0
# What a command has imported by the time it reads its secret (the client, httpx: urllib and
# email with it), then the read itself, timed in-process: the profile's config and its secret.
READ = """
import sys, time
from pathlib import Path
import atonix_cli.context, httpx
started = time.perf_counter()
from profiles.secrets import SecretStore
from profiles.store import Config
directory = Path(sys.argv[1])
profile = Config.load(directory).profiles[sys.argv[2]]
assert SecretStore(directory).get(profile.secret_store, profile.name, profile.credential)
print(time.perf_counter() - started)
"""


def time_reads(label: str, argv: list[str], env: dict[str, str], runs: int, warmups: int) -> Timing:
    """The in-process time that READ prints, one fresh process per sample."""
    samples = []
    for i in range(warmups + runs):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        if i >= warmups:
            samples.append(float(done.stdout))
    return Timing(label, samples)


def install_keyrings_alt(site: Path) -> None:
    subprocess.run(
        [PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--target", str(site), "keyrings.alt>=5"],
        check=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--site", type=Path, help="a directory that already holds keyrings.alt")
    args = parser.parse_args()
    say(machine_note())
    with scratch("keyring") as root:
        site = args.site or root / "site"
        if args.site is None:
            say("installing keyrings.alt into a scratch directory ...")
            install_keyrings_alt(site)
        base = isolated_env(
            root,
            PYTHONPATH=str(site),
            XDG_DATA_HOME=str(root / "xdg-data"),
            XDG_CONFIG_HOME=str(root / "xdg-config"),
        )
        for name in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND"):
            base.pop(name, None)
        keyring_env = {k: v for k, v in base.items() if k != "ATONIX_SECRET_STORE"}
        pinned = {**keyring_env, "PYTHON_KEYRING_BACKEND": PLAINTEXT}
        # Each profile gets an embedded engine and its admin key on a first `whoami`.
        for profile, env in (("filed", base), ("remembered", pinned), ("discovered", pinned)):
            for argv in (["profile", "create", profile], ["--profile", profile, "whoami"]):
                subprocess.run(
                    [ATONIX, *argv], env=env, check=True,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
        config = root / "config" / "config.toml"
        text = config.read_text()
        if text.count(f'keyring_backend = "{PLAINTEXT}"') != 2:
            raise SystemExit(f"the keyring profiles did not remember {PLAINTEXT}:\n{text}")
        # Forget the backend of one profile only: its reads go through keyring's discovery.
        head, _, tail = text.partition("[profiles.discovered]")
        tail = re.sub(r'keyring_backend = "[^"]*"\n', "", tail, count=1)
        config.write_text(head + "[profiles.discovered]" + tail)

        say()
        say("reading the secret inside a command (import keyring, load the backend, get):")
        reads = {}
        for profile in ("filed", "remembered", "discovered"):
            argv = [PYTHON, "-c", READ, str(root / "config"), profile]
            timing = time_reads(f"  {profile}", argv, keyring_env, args.runs, args.warmups)
            say(timing.line())
            reads[profile] = timing.median * 1e3
        say()
        say("whole command, `atonix whoami` on the embedded engine:")
        for profile in ("filed", "remembered", "discovered"):
            argv = [ATONIX, "--profile", profile, "whoami"]
            timing = time_command(
                f"  {profile}", argv, env=keyring_env, runs=args.runs, warmups=args.warmups
            )
            say(timing.line())
        extra = reads["remembered"] - reads["filed"]
        verdict = "ok" if extra <= TARGET_MS else "MISSED"
        say()
        say(f"remembered backend over the file store: {extra:+.1f} ms  (target <= {TARGET_MS:.0f})")
        discovery = reads["discovered"] - reads["filed"]
        say(f"  {verdict}; discovery over the file store: {discovery:+.1f} ms")
        say(machine_note(end=True))


if __name__ == "__main__":
    main()
