"""The storage engine's own figures: small puts per second, listing by cursor, page cost.

    .venv/bin/python bench/storage_engine.py
    .venv/bin/python bench/storage_engine.py --puts 3000 --big 200000

Measured:
- 1 KiB puts (each fsynced, its row committed), one client, in-process (EngineApp via WSGI, as
  the embedded CLI) and through `python -m engine.server` on loopback; for an encrypted bucket
  (the default: a data key per object, sealed with AES-256-GCM) and an unencrypted one.
- 10,000 keys listed in all pages (`page_size=1000`, following the cursor), in-process.
- One page of 1,000 keys from the middle of a bucket (`start_after`), at 1,000 keys and at
  100,000: the same index seek, so within 1.5x. Keys past the first 10,000 are inserted
  straight into the table (their rows only, no bytes: a listing never reads bytes).

Targets (issue 7): >= 600 puts/s in-process, >= 400/s through the server; all 10,000 keys in
<= 0.4 s; a page at 100,000 keys within 1.5x of the same page at 1,000.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import REPO, Client, InProcess, Server, machine_note, say, scratch

sys.path.insert(0, str(REPO))

BUCKETS = "/api/v1/services/buckets/"


def fsync_rate(directory: Path, count: int = 300) -> float:
    """The disk's own pace for what a small put does to it: create, write 1 KiB, fsync, link."""
    import os

    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for n in range(count):
        path = directory / f"f{n}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"x" * 1024)
        os.fsync(fd)
        os.close(fd)
        os.link(path, directory / f"g{n}")
        path.unlink()
    return count / (time.perf_counter() - started)


def put_rate(client: Client, bucket_id: str, count: int) -> float:
    body = b"x" * 1024
    digest = hashlib.sha256(body).hexdigest()
    headers = {
        "Authorization": client.authorization or "",
        "Content-Type": "application/octet-stream",
        "x-atonix-checksum-sha256": digest,
    }
    path = f"{BUCKETS}{bucket_id}/objects/"
    for n in range(20):  # warm-up
        client.send("PUT", f"{path}warm/{n}", {}, headers, body)
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        status, content = client.send("PUT", f"{path}k/{n:07d}", {}, headers, body)
        if status != 200:
            raise RuntimeError(f"put {n} -> {status}: {content[:200]!r}")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    global LAST_CPU_MS
    LAST_CPU_MS = cpu / count * 1e3
    return count / elapsed


LAST_CPU_MS = 0.0  # this process's CPU per put in the last put_rate (in-process: the engine's)


def make_bucket(client: Client, name: str, **fields: Any) -> str:
    made = client.call("POST", BUCKETS, body={"bucket_name": name, **fields}, expect=201)
    return str(made["bucket_id"])


def bulk_keys(db: Any, bucket_id: str, start: int, stop: int) -> None:
    """Object rows straight into the table (no bytes, no audit), as a listing sees them."""
    from engine.storage.s3_objects import S3Object

    table = S3Object.__table__  # type: ignore[attr-defined]
    from engine.clock import utcnow

    now = utcnow()
    batch = []
    with db.writing() as conn:
        for n in range(start, stop):
            batch.append(
                {
                    "object_id": f"obj-b{n:011x}",
                    "bucket": bucket_id,
                    "bucket_name": "listing",
                    "object_key": f"data/{n:08d}.json",
                    "version_id": "null",
                    "is_latest": True,
                    "is_delete_marker": False,
                    "listed": True,
                    "size_bytes": 1024,
                    "content_type": "application/json",
                    "etag": "0" * 32,
                    "sha256": "0" * 64,
                    "last_modified": now,
                    "storage_class": "standard",
                    "is_public": False,
                    "acl": "private",
                    "name": "",
                    "description": "",
                    "owner": "admin",
                    "region": "us-west-2",
                    "tags": {},
                    "meta": {},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 10_000:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)


def list_all(client: Client, bucket_id: str) -> tuple[int, float]:
    started = time.perf_counter()
    seen = 0
    token = None
    while True:
        params = {"page_size": 1000, **({"continuation_token": token} if token else {})}
        page = client.call("GET", f"{BUCKETS}{bucket_id}/objects/", params=params)
        seen += len(page["results"])
        token = page["next_continuation_token"]
        if token is None:
            return seen, time.perf_counter() - started


def page_time(client: Client, bucket_id: str, after: str, runs: int) -> float:
    samples = []
    for _ in range(runs + 2):
        started = time.perf_counter()
        page = client.call(
            "GET",
            f"{BUCKETS}{bucket_id}/objects/",
            params={"page_size": 1000, "start_after": after},
        )
        samples.append(time.perf_counter() - started)
        assert len(page["results"]) == 1000, len(page["results"])
    samples = sorted(samples[2:])
    return samples[len(samples) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--puts", type=int, default=2000, help="1 KiB puts per measurement")
    parser.add_argument("--big", type=int, default=100_000, help="keys of the large bucket")
    parser.add_argument("--runs", type=int, default=15, help="timed reads of one page")
    args = parser.parse_args()
    say(machine_note())
    with scratch("atonix-bench-storage-") as root:
        disk = fsync_rate(Path(root) / "disk")
        say(f"the disk: create + write 1 KiB + fsync + link {disk:8.0f}/s (the bound of a put)")
        engine = InProcess(root / "embedded")
        sealed = make_bucket(engine, "sealed")
        plain = make_bucket(engine, "plain", encryption_enabled=False)
        for label, bucket_id in (("encrypted", sealed), ("unencrypted", plain)):
            rate = put_rate(engine, bucket_id, args.puts)
            verdict = "ok" if rate >= 600 else "MISSED"
            say(
                f"1 KiB puts in-process, {label:<11} {rate:8.0f}/s   target >= 600/s: {verdict}"
                f"   (CPU {LAST_CPU_MS:.2f} ms a put)"
            )

        listing = make_bucket(engine, "listing", encryption_enabled=False)
        bulk_keys(engine.db, listing, 0, 1000)
        small_page = page_time(engine, listing, "", args.runs)
        bulk_keys(engine.db, listing, 1000, 10_000)
        seen, elapsed = list_all(engine, listing)
        verdict = "ok" if elapsed <= 0.4 else "MISSED"
        say(
            f"{seen} keys listed in all pages in-process {elapsed:6.3f} s   "
            f"target <= 0.4 s: {verdict}"
        )
        bulk_keys(engine.db, listing, 10_000, args.big)
        big_page = page_time(engine, listing, "", args.runs)
        deep_page = page_time(engine, listing, f"data/{args.big - 5000:08d}.json", args.runs)
        ratio = max(big_page, deep_page) / small_page
        verdict = "ok" if ratio <= 1.5 else "MISSED"
        say(
            f"a 1,000-key page at 1,000 keys {small_page * 1e3:6.1f} ms; at {args.big:,} keys "
            f"{big_page * 1e3:6.1f} ms (early) / {deep_page * 1e3:6.1f} ms (deep)   "
            f"ratio {ratio:.2f}, target <= 1.5: {verdict}"
        )
        engine.close()

        with Server(Path(root) / "server") as server:
            client = server.client()
            sealed = make_bucket(client, "sealed")
            plain = make_bucket(client, "plain", encryption_enabled=False)
            for label, bucket_id in (("encrypted", sealed), ("unencrypted", plain)):
                rate = put_rate(client, bucket_id, args.puts // 2)
                verdict = "ok" if rate >= 400 else "MISSED"
                say(
                    f"1 KiB puts through the server, {label:<11} {rate:6.0f}/s   "
                    f"target >= 400/s: {verdict}"
                )
            client.close()
    say(machine_note(end=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
