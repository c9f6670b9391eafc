"""Encryption at rest through the data route: no plaintext on disk, a disabled key stops reads
and writes naming itself until enabled, rotation keeps old versions readable."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from engine.storage import sealing
from engine.storage.s3_objects import S3Object
from tests.support.api import SERVICES, expect, expect_error
from tests.support.engine import LocalEngine

BUCKETS = f"{SERVICES}/buckets/"
KEYS = f"{SERVICES}/encryption-keys/"
MARKER = b"PLAINTEXT-MARKER-0123456789-"


def data(bucket: str, key: str) -> str:
    return f"{BUCKETS}{bucket}/objects/{key}"


def key(key_id: str, action: str = "") -> str:
    return f"{KEYS}{key_id}/{action + '/' if action else ''}"


def make_bucket(client: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    made: dict[str, Any] = expect(client.post(BUCKETS, json={"bucket_name": name, **fields}), 201)
    return made


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def blob_files(local: LocalEngine) -> list[Path]:
    """The stored blobs, without the temporary files of uploads."""
    root = Path(local.db.data_dir) / "blobs"
    return [p for p in files_under(root) if p.relative_to(root).parts[0] != "tmp"]


def disk_holds(root: Path, needle: bytes) -> list[Path]:
    """The files under `root` (blobs, temporary files, the database) that contain `needle`."""
    return [p for p in files_under(root) if needle in p.read_bytes()]


def object_rows(local: LocalEngine) -> list[S3Object]:
    with local.db.session(write=False) as session:
        return list(session.exec(select(S3Object)).all())


def payload(size: int) -> bytes:
    whole = (MARKER * (size // len(MARKER) + 1))[:size]
    return whole


SIZES = [1, len(MARKER), 1000, sealing.CHUNK - 1, sealing.CHUNK, 3 * sealing.CHUNK + 17]


def test_an_encrypted_buckets_bytes_on_disk_never_hold_the_plaintext(
    engine: LocalEngine,
) -> None:
    alice = engine.user()
    made = make_bucket(alice.client, "sealed-photos")
    assert made["encryption_enabled"] is True and made["kms_key_id"].startswith("key-")
    bodies = {f"obj-{size}": payload(size) for size in SIZES}
    bodies["random"] = os.urandom(100_000) + MARKER
    for name, body in bodies.items():
        expect(alice.client.put(data("sealed-photos", name), content=body), 200)
    root = Path(engine.db.data_dir)
    assert disk_holds(root, MARKER) == []
    assert disk_holds(root, bodies["random"][:64]) == []
    rows = {row.object_key: row for row in object_rows(engine)}
    for name, body in bodies.items():
        got = alice.client.get(data("sealed-photos", name))
        assert got.status_code == 200 and got.content == body, name
        assert rows[name].key_id == made["kms_key_id"] and rows[name].wrapped_key
        assert rows[name].size_bytes == len(body)
    # Each version has a data key of its own: no two wrapped keys are alike.
    assert len({row.wrapped_key for row in rows.values()}) == len(rows)
    # The blobs are exactly the sealed sizes of the objects.
    blob_sizes = sorted(p.stat().st_size for p in blob_files(engine))
    assert sorted(sealing.sealed_size(len(b)) for b in bodies.values()) == blob_sizes


def test_the_check_finds_plaintext_in_an_unencrypted_bucket(engine: LocalEngine) -> None:
    # The disk scan above would see the bytes if they were there: a bucket without encryption.
    alice = engine.user()
    made = make_bucket(alice.client, "plain-photos", encryption_enabled=False)
    assert made["kms_key_id"] is None
    expect(alice.client.put(data("plain-photos", "a"), content=payload(1000)), 200)
    assert disk_holds(Path(engine.db.data_dir), MARKER)


def test_ranges_of_an_encrypted_object(engine: LocalEngine) -> None:
    alice = engine.user()
    make_bucket(alice.client, "ranges")
    body = os.urandom(3 * sealing.CHUNK + 500)
    expect(alice.client.put(data("ranges", "big"), content=body), 200)
    edge = sealing.CHUNK
    for first, last in ((0, 0), (0, 1023), (edge - 10, edge + 10), (2 * edge, 3 * edge + 499)):
        got = alice.client.get(data("ranges", "big"), headers={"Range": f"bytes={first}-{last}"})
        assert got.status_code == 206, got.text
        assert got.content == body[first : last + 1], (first, last)
    tail = alice.client.get(data("ranges", "big"), headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == body[-100:]
    head = alice.client.head(data("ranges", "big"))
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(body)


def test_a_disabled_key_fails_reads_and_writes_naming_it_until_enabled(
    engine: LocalEngine,
) -> None:
    alice = engine.user()
    made = make_bucket(alice.client, "guarded", versioning_enabled=True)
    key_id = made["kms_key_id"]
    expect(alice.client.put(data("guarded", "doc"), content=b"version one"), 200)
    expect(alice.client.post(key(key_id, "disable")), 200)

    for refused in (
        alice.client.get(data("guarded", "doc")),
        alice.client.get(data("guarded", "doc"), headers={"Range": "bytes=0-3"}),
        alice.client.put(data("guarded", "doc"), content=b"version two"),
        alice.client.put(data("guarded", "new"), content=b"anything"),
    ):
        error = expect_error(refused, 409, "INVALID_STATE")
        assert key_id in error["error"] and f"bucket-{made['bucket_id']}" in error["error"]
        assert "disabled" in error["error"]
        assert error["details"] == {"key_id": key_id, "key_state": "disabled"}
    # What needs no key still answers: HEAD and the listing.
    head = alice.client.head(data("guarded", "doc"))
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(b"version one")
    listed = expect(alice.client.get(f"{BUCKETS}{made['bucket_id']}/objects/"), 200)
    assert [o["object_key"] for o in listed["results"]] == ["doc"]
    # Nothing was stored by the refused writes: one version of one object, the totals as before.
    rows = object_rows(engine)
    assert [(r.object_key, r.size_bytes) for r in rows] == [("doc", len(b"version one"))]
    shown = expect(alice.client.get(f"{BUCKETS}{made['bucket_id']}/"), 200)
    assert (shown["total_objects"], shown["total_size_bytes"]) == (1, len(b"version one"))

    expect(alice.client.post(key(key_id, "enable")), 200)
    assert alice.client.get(data("guarded", "doc")).content == b"version one"
    expect(alice.client.put(data("guarded", "doc"), content=b"version two"), 200)
    assert alice.client.get(data("guarded", "doc")).content == b"version two"


def test_rotation_keeps_old_versions_readable(engine: LocalEngine) -> None:
    alice = engine.user()
    made = make_bucket(alice.client, "rotating", versioning_enabled=True)
    key_id = made["kms_key_id"]
    versions = []
    for n in range(3):
        put = alice.client.put(data("rotating", "doc"), content=f"version {n}".encode() * 1000)
        expect(put, 200)
        versions.append(put.headers["x-atonix-version-id"])
        expect(alice.client.post(key(key_id, "rotate")), 200)
    shown = expect(alice.client.get(key(key_id)), 200)
    assert (shown["rotation_count"], shown["encryption_operations_count"]) == (3, 3)
    for n, version_id in enumerate(versions):
        got = alice.client.get(data("rotating", "doc"), params={"version_id": version_id})
        assert got.status_code == 200 and got.content == f"version {n}".encode() * 1000
    # Each version's data key is wrapped under the material current when it was written.
    material_versions = sorted(
        int.from_bytes(base64.b64decode(row.wrapped_key or "")[1:5], "big")
        for row in object_rows(engine)
    )
    assert material_versions == [1, 2, 3]
    assert disk_holds(Path(engine.db.data_dir), b"version 1version 1") == []


def test_a_bucket_on_a_key_of_ones_own(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    mine = expect(alice.client.post(KEYS, json={"name": "app-data"}), 201)
    made = make_bucket(alice.client, "on-my-key", kms_key_id="app-data")
    assert made["kms_key_id"] == mine["key_id"]
    expect(alice.client.put(data("on-my-key", "a"), content=payload(5000)), 200)
    assert disk_holds(Path(engine.db.data_dir), MARKER) == []
    theirs = expect(bob.client.post(KEYS, json={"name": "bobs"}), 201)
    error = expect_error(
        alice.client.post(BUCKETS, json={"bucket_name": "on-bobs", "kms_key_id": theirs["key_id"]}),
        400,
        "VALIDATION_ERROR",
    )
    assert "kms_key_id" in error["details"]
    expect(alice.client.post(key(mine["key_id"], "disable")), 200)
    expect_error(
        alice.client.post(BUCKETS, json={"bucket_name": "on-disabled", "kms_key_id": "app-data"}),
        409,
        "INVALID_STATE",
    )


def test_a_key_in_use_cannot_be_deleted_until_its_bucket_is_gone(engine: LocalEngine) -> None:
    alice = engine.user()
    made = make_bucket(alice.client, "doomed")
    key_id = made["kms_key_id"]
    expect(alice.client.put(data("doomed", "a"), content=b"bytes"), 200)
    error = expect_error(alice.client.delete(key(key_id)), 409, "DEPENDENCY_VIOLATION")
    assert "bucket" in error["error"]
    expect(alice.client.delete(f"{BUCKETS}{made['bucket_id']}/", params={"force": "true"}), 202)
    # On the instant clock the bucket is gone (deleted) by the next request.
    expect(alice.client.delete(key(key_id)), 204)


def test_damaged_bytes_on_disk_are_refused_not_served(engine: LocalEngine) -> None:
    alice = engine.user()
    make_bucket(alice.client, "damaged")
    body = os.urandom(2 * sealing.CHUNK)
    expect(alice.client.put(data("damaged", "a"), content=body), 200)
    (blob,) = blob_files(engine)
    raw = bytearray(blob.read_bytes())
    raw[sealing.HEADER + 10] ^= 1
    blob.chmod(0o600)
    blob.write_bytes(bytes(raw))
    got = alice.client.get(data("damaged", "a"))
    assert got.status_code == 500, got.status_code
    assert body[:1000] not in got.content


@pytest.mark.parametrize("size", [0, 5])
def test_empty_and_tiny_objects(engine: LocalEngine, size: int) -> None:
    alice = engine.user()
    make_bucket(alice.client, "tiny")
    expect(alice.client.put(data("tiny", "t"), content=b"z" * size), 200)
    got = alice.client.get(data("tiny", "t"))
    assert got.status_code == 200 and got.content == b"z" * size


# --- a real server: the master key from a secret, or the data dir's file shared by workers ----


def _server_client(server: Any) -> httpx.Client:
    headers = {"Authorization": f"Token {server.admin_api_key}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def test_a_server_takes_its_master_key_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.storage.master_key import MASTER_ENV, MASTER_FILE
    from tests.support.server import start_server

    monkeypatch.setenv(MASTER_ENV, base64.b64encode(b"s" * 32).decode())
    body = payload(300_000)
    with start_server(tmp_path) as server, _server_client(server) as client:
        make_bucket(client, "from-secret")
        expect(client.put(data("from-secret", "doc"), content=body), 200)
        assert client.get(data("from-secret", "doc")).content == body
    assert not (tmp_path / "data" / MASTER_FILE).exists()
    assert disk_holds(tmp_path / "data", MARKER) == []
    # Restarted with the same secret: readable; with another: a clear refusal, never bytes.
    with start_server(tmp_path) as server, _server_client(server) as client:
        assert client.get(data("from-secret", "doc")).content == body
    monkeypatch.setenv(MASTER_ENV, base64.b64encode(b"t" * 32).decode())
    with start_server(tmp_path) as server, _server_client(server) as client:
        error = expect_error(client.get(data("from-secret", "doc")), 500, "INTERNAL_ERROR")
        assert "another master key" in error["error"]
        error = expect_error(client.post(KEYS, json={"name": "new"}), 500, "INTERNAL_ERROR")
        assert f"the same {MASTER_ENV}" in error["error"]


def test_a_servers_workers_share_the_data_dirs_master_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.storage.master_key import MASTER_ENV, MASTER_FILE
    from tests.support.server import start_server

    monkeypatch.delenv(MASTER_ENV, raising=False)
    bodies = {f"k{n}": os.urandom(1000 + n) for n in range(12)}
    with start_server(tmp_path, workers=2) as server, _server_client(server) as client:
        make_bucket(client, "two-workers")
        for name, body in bodies.items():
            expect(client.put(data("two-workers", name), content=body), 200)
        for name, body in bodies.items():
            assert client.get(data("two-workers", name)).content == body
    master = tmp_path / "data" / MASTER_FILE
    assert master.exists() and oct(master.stat().st_mode & 0o777) == "0o600"
