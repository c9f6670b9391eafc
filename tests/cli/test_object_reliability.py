"""`kill -9` of the CLI in the middle of a large upload, on both backends: the previous version
stays whole, no partial object is listed, and nothing of the upload is left on disk once the
engine has started again (embedded: the next command; a server: the aborted request)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error

SIZE = 256 << 20
REPO = Path(__file__).resolve().parents[2]
PUT = ("object", "put")


def _blob_root(cli: Cli, request: pytest.FixtureRequest) -> Path:
    if cli.backend == "embedded":
        return cli.data_dir / "profiles" / cli.profile / "blobs"
    return request.getfixturevalue("server").server.data_dir / "blobs"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock"))


def _read_position(pid: int, target: Path) -> int | None:
    """How far process `pid` has read `target` (from /proc), or None while it has not opened it."""
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) == str(target):
                    info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
                    return int(info.split("pos:")[1].split()[0])
            except OSError:
                continue
    except OSError:
        return None
    return None


def _env(cli: Cli) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATONIX_")}
    secret = cli.secret("api_key")
    assert secret
    env.update(
        ATONIX_CONFIG_DIR=str(cli.config_dir),
        ATONIX_DATA_DIR=str(cli.data_dir),
        ATONIX_PROFILE=cli.profile,
        ATONIX_API_KEY=secret,
        ATONIX_CLOCK="instant",
        PYTHONPATH=str(REPO),
    )
    return env


def test_kill_9_mid_upload_keeps_the_previous_version(
    cli: Cli, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    bucket_id = cli.json("bucket", "create", "safe", "--versioning")["bucket_id"]
    first = tmp_path / "first.bin"
    first.write_bytes(b"version one\n" * 1000)
    cli.ok("object", "put", "safe", "data.bin", str(first))
    root = _blob_root(cli, request)
    stored_before = _files(root / bucket_id)
    assert len(stored_before) == 1

    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        block = os.urandom(1 << 20)
        for _ in range(SIZE >> 20):
            out.write(block)
    # --no-checksum: the file is read once, by the upload, so its read position is its progress.
    upload = subprocess.Popen(
        [sys.executable, "-m", "atonix_cli", *PUT, "safe", "data.bin", str(big), "--no-checksum"],
        env=_env(cli),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            position = _read_position(upload.pid, big)
            if position is not None and position >= SIZE // 8:
                break
            assert upload.poll() is None, "the upload ended before it could be interrupted"
            assert time.monotonic() < deadline, "the upload never got going"
            time.sleep(0.005)
        assert position < SIZE, "the upload was all read before the kill"
        upload.send_signal(signal.SIGKILL)
    finally:
        upload.kill()
        upload.wait()
    assert upload.returncode == -signal.SIGKILL

    # The next start (embedded) or the aborted request (server) cleans up; the previous version
    # is whole and the only one listed.
    _, data = cli.binary("object", "get", "safe", "data.bin", "-")
    assert data == first.read_bytes()
    listed = cli.json("object", "ls", "safe")["objects"]
    assert [(o["object_key"], o["size_bytes"]) for o in listed] == [("data.bin", 12_000)]
    assert len(cli.json("object", "versions", "safe", "data.bin")) == 1
    assert cli.json("bucket", "stats", "safe")["total_objects"] == 1

    # What the upload left is gone once the engine starts its next upload (which sweeps the
    # store first) or, on a server, once the aborted request has been cleaned up.
    cli.ok("bucket", "create", "sweeper")
    deadline = time.monotonic() + 30
    while True:
        # A new process, as the next `atonix` command is: its first upload sweeps.
        subprocess.run(
            [sys.executable, "-m", "atonix_cli", *PUT, "sweeper", "tick", str(first)],
            env=_env(cli),
            stdout=subprocess.DEVNULL,
            check=True,
        )
        left = _files(root / "tmp") + sorted(set(_files(root / bucket_id)) - set(stored_before))
        if not left:
            break
        assert time.monotonic() < deadline, f"left on disk: {left}"
        time.sleep(0.5)
    assert _files(root / bucket_id) == stored_before


def test_an_unusable_data_directory_is_one_clear_error(
    cli: Cli, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cli.ok("bucket", "create", "fragile")
    kept = tmp_path / "kept"
    kept.write_bytes(b"kept bytes")
    cli.ok("object", "put", "fragile", "kept", str(kept))
    before = cli.json("bucket", "show", "fragile")
    tmp = _blob_root(cli, request) / "tmp"
    shutil.rmtree(tmp)
    tmp.write_text("a file where the uploads go")
    try:
        for size in (5, 3 << 20):
            other = tmp_path / f"other-{size}"
            other.write_bytes(b"x" * size)
            refused = cli("object", "put", "fragile", "kept", str(other))
            expect_error(refused, ExitCode.UNAVAILABLE, "cannot store the object", "nothing")
    finally:
        tmp.unlink()
    after = cli.json("bucket", "show", "fragile")
    assert (after["total_objects"], after["total_size_bytes"]) == (
        before["total_objects"],
        before["total_size_bytes"],
    )
    _, data = cli.binary("object", "get", "fragile", "kept", "-")
    assert data == b"kept bytes"
    cli.ok("object", "put", "fragile", "kept", str(kept))  # writable again
