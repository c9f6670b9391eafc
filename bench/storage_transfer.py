"""1 GiB `atonix object put` and `get`, embedded and through a server: MiB/s and peak RSS of the
CLI and of the server, on an encrypted bucket (the default) and a plain one; moto side by side
when `moto[server]` and boto3 are installed.

Run by hand: `.venv/bin/python bench/storage_transfer.py [--size-mib 1024] [--only server]`.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from benchlib import ATONIX, Server, isolated_env, say, scratch

TARGETS = {  # MiB/s (SPEC issue 7), for the plain bucket; an encrypted one at least 0.8x these
    ("embedded", "put"): 300,
    ("embedded", "get"): 500,
    ("server", "put"): 200,
    ("server", "get"): 300,
}
RSS_TARGET_MIB = 100


def make_file(path: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as out:
        for i in range(mib):
            # Every MiB differs, so nothing could be deduplicated or compressed away.
            out.write(i.to_bytes(8, "big") + block[8:])


def drop_page_cache_hint(path: Path) -> None:
    """Ask the kernel to forget the file's pages, so a read starts from the disk (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass


LAST_CPU = [0.0]  # the CPU seconds (user + system) of the last process `run` waited for


def run(argv: Sequence[str], env: Mapping[str, str]) -> tuple[float, float]:
    """Run one CLI process; its wall time (s) and its own peak RSS (MiB, from wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}: {stderr}")
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss / 1024


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds the live processes have used so far (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def peak_rss_mib(pids: Sequence[int]) -> float:
    """The largest VmHWM (peak resident set) among live processes."""
    peak = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


def line(
    where: str,
    what: str,
    bucket: str,
    mib: int,
    seconds: float,
    startup: float,
    rss: float,
    server_rss: float | None,
    server_cpu: float = 0.0,
) -> None:
    rate = mib / seconds
    target = TARGETS[(where, what)] * (0.8 if bucket == "encrypted" else 1.0)
    verdict = "ok" if rate >= target else "MISSED"
    rss_ok = "ok" if rss <= RSS_TARGET_MIB else "MISSED"
    server = ""
    if server_rss is not None:
        server_ok = "ok" if server_rss <= RSS_TARGET_MIB else "MISSED"
        server = f"  server peak RSS {server_rss:6.1f} MiB ({server_ok})"
    moving = mib / max(seconds - startup, 1e-9)
    cpu = f"CPU: CLI {LAST_CPU[0]:.1f} s" + (f", server {server_cpu:.1f} s" if server_cpu else "")
    say(
        f"{where:<8} {what} {bucket:<9} {rate:7.1f} MiB/s (target >= {target:.0f}: {verdict};"
        f" {moving:6.1f} without start-up)  CLI peak RSS {rss:6.1f} MiB ({rss_ok}){server}"
        f"  {cpu}"
    )


def measure(
    where: str,
    env: dict[str, str],
    source: Path,
    work: Path,
    mib: int,
    server_pids: Sequence[int] = (),
) -> None:
    run([ATONIX, "whoami"], env)
    # A command's own start-up (imports, the engine opened), to tell it from the transfer.
    startup = min(run([ATONIX, "whoami"], env)[0] for _ in range(3))
    say(f"{where}: `atonix whoami` takes {startup:.2f} s")
    for bucket in ("encrypted", "plain"):
        name = f"bench-{bucket}-{os.getpid()}"
        flags = [] if bucket == "encrypted" else ["--no-encryption-enabled"]
        run([ATONIX, "bucket", "create", name, *flags], env)
        # Earlier runs' dirty pages written out first, so no run pays for another's writeback.
        os.sync()
        drop_page_cache_hint(source)
        busy = cpu_seconds(server_pids)
        seconds, rss = run([ATONIX, "object", "put", name, "big.bin", str(source)], env)
        busy = cpu_seconds(server_pids) - busy
        line(where, "put", bucket, mib, seconds, startup, rss, _server(server_pids), busy)
        copy = work / f"copy-{bucket}.bin"
        os.sync()
        busy = cpu_seconds(server_pids)
        seconds, rss = run([ATONIX, "object", "get", name, "big.bin", str(copy)], env)
        busy = cpu_seconds(server_pids) - busy
        line(where, "get", bucket, mib, seconds, startup, rss, _server(server_pids), busy)
        if copy.stat().st_size != source.stat().st_size:
            raise RuntimeError(f"{copy} has {copy.stat().st_size} bytes")
        copy.unlink()
        run([ATONIX, "bucket", "delete", name, "--force", "--yes"], env)


def _server(pids: Sequence[int]) -> float | None:
    return peak_rss_mib(pids) if pids else None


def measure_moto(source: Path, work: Path, mib: int) -> None:
    try:
        import boto3
        from boto3.s3.transfer import TransferConfig
    except ImportError:
        say("moto: not installed (pip install 'moto[server]' boto3); skipped")
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        for _ in range(100):
            try:
                s3.list_buckets()
                break
            except Exception:
                time.sleep(0.1)
        s3.create_bucket(Bucket="bench")
        config = TransferConfig(multipart_threshold=8 << 20, max_concurrency=4)
        started = time.perf_counter()
        s3.upload_file(str(source), "bench", "big.bin", Config=config)
        put = time.perf_counter() - started
        started = time.perf_counter()
        s3.download_file("bench", "big.bin", str(work / "moto-copy.bin"), Config=config)
        get = time.perf_counter() - started
        rss = peak_rss_mib([server.pid])
        say(
            f"moto     put           {mib / put:7.1f} MiB/s   "
            "(boto3 in this process; in memory, not durable)"
        )
        say(f"moto     get           {mib / get:7.1f} MiB/s   moto_server peak RSS {rss:.1f} MiB")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--only", choices=("embedded", "server", "moto"))
    args = parser.parse_args()
    say(f"load average {os.getloadavg()}; {args.size_mib} MiB object")
    with scratch("transfer") as root:
        source = root / "big.bin"
        make_file(source, args.size_mib)
        if args.only in (None, "embedded"):
            measure("embedded", isolated_env(root / "embedded"), source, root, args.size_mib)
        if args.only in (None, "server"):
            with Server(root / "server") as server:
                env = isolated_env(
                    root / "client",
                    ATONIX_ENDPOINT=server.url,
                    ATONIX_API_KEY=server.admin_api_key,
                )
                pids = [server._running.process.pid, *server._running.worker_pids()]
                measure("server", env, source, root, args.size_mib, pids)
        if args.only in (None, "moto"):
            measure_moto(source, root, args.size_mib)


if __name__ == "__main__":
    main()
