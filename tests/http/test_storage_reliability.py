"""Storage under failure, through the real server: kill -9 mid-upload, eight writers to one key,
an unusable data directory, a disabled encryption key, another user's bucket, a key with the
wrong scope."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.api import KEYS, SERVICES, User, expect, expect_error
from tests.support.server import RunningServer, start_server
from tests.support.storage import BUCKETS, OBJECTS, bucket, data, keys_of, make_bucket, obj, put

MIB = 1024 * 1024


def _blob_files(data_dir: Path) -> list[Path]:
    root = data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


def _leftovers(data_dir: Path) -> list[Path]:
    tmp = data_dir / "blobs" / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def _admin(server: RunningServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Token {server.admin_api_key}"}
    )


def _kill(server: RunningServer) -> None:
    """kill -9 of the server and every worker: nothing gets to clean up."""
    for pid in [*server.worker_pids(), server.process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.wait(10)


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_kill_9_mid_upload_leaves_the_previous_version_whole(
    tmp_path: Path, versioned: bool
) -> None:
    server = start_server(tmp_path)
    previous = os.urandom(MIB) + b"previous"
    sent = threading.Event()
    try:
        with _admin(server) as admin:
            ref = make_bucket(admin, "crash", versioning_enabled=versioned)["bucket_id"]
            put(admin, ref, "big.bin", previous)

            def slow_body() -> Iterator[bytes]:
                for n in range(400):
                    yield b"z" * MIB
                    if n == 20:
                        sent.set()
                        time.sleep(0.5)

            def upload() -> None:
                # The server dies under it, as intended.
                with contextlib.suppress(httpx.HTTPError):
                    admin.put(
                        data(ref, "big.bin"),
                        content=slow_body(),
                        headers={"content-length": str(400 * MIB)},
                        timeout=60,
                    )

            thread = threading.Thread(target=upload)
            thread.start()
            assert sent.wait(30), "the upload never got going"
            assert _leftovers(server.data_dir), "the upload is under way in tmp/"
            _kill(server)
            thread.join(30)
    finally:
        if server.process.poll() is None:
            _kill(server)
    assert _leftovers(server.data_dir), "kill -9 left the interrupted upload behind"
    restarted = start_server(tmp_path, admin_api_key=server.admin_api_key)
    try:
        # Swept as the server started, before any request.
        assert _leftovers(restarted.data_dir) == []
        assert "removed 1 interrupted upload(s)" in restarted.log()
        with _admin(restarted) as admin:
            got = admin.get(data(ref, "big.bin"))
            assert got.status_code == 200 and got.content == previous
            listed = expect(admin.get(bucket(ref, "objects")), 200)
            assert keys_of(listed) == ["big.bin"]
            assert listed["results"][0]["size_bytes"] == len(previous)
            versions = expect(admin.get(bucket(ref, "versions")), 200)["results"]
            assert len(versions) == 1
            shown = expect(admin.get(bucket(ref)), 200)
            assert (shown["total_objects"], shown["total_size_bytes"]) == (1, len(previous))
        assert _leftovers(restarted.data_dir) == []
        assert len(_blob_files(restarted.data_dir)) == 1
    finally:
        assert restarted.stop() == 0, restarted.log()


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_eight_writers_to_one_key_never_mix(
    make_user: Callable[..., User], server: RunningServer, versioned: bool
) -> None:
    owner = make_user()
    ref = make_bucket(owner.client, f"race{os.urandom(4).hex()}", versioning_enabled=versioned)[
        "bucket_id"
    ]
    bodies = [bytes([n]) * (2 * MIB + n) for n in range(8)]
    digests = {hashlib.sha256(b).hexdigest(): b for b in bodies}

    def write(body: bytes) -> int:
        with httpx.Client(base_url=server.url, headers=dict(owner.client.headers)) as client:
            response = client.put(
                data(ref, "contended"),
                content=body,
                headers={"x-atonix-checksum-sha256": hashlib.sha256(body).hexdigest()},
                timeout=60,
            )
            return response.status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(write, bodies)) == [200] * 8
    got = owner.client.get(data(ref, "contended"))
    assert hashlib.sha256(got.content).hexdigest() in digests, "one whole object, never a mix"
    versions = expect(owner.client.get(bucket(ref, "versions"), params={"key": "contended"}), 200)[
        "results"
    ]
    shown = expect(owner.client.get(bucket(ref)), 200)
    if versioned:
        assert len(versions) == 8
        assert sum(v["is_latest"] for v in versions) == 1
        assert {v["checksum_sha256"] for v in versions} == set(digests)
        for version in versions:
            whole = owner.client.get(
                data(ref, "contended"), params={"version_id": version["version_id"]}
            )
            assert hashlib.sha256(whole.content).hexdigest() == version["checksum_sha256"]
        assert shown["total_objects"] == 8
        assert shown["total_size_bytes"] == sum(len(b) for b in bodies)
    else:
        assert len(versions) == 1
        assert (shown["total_objects"], shown["total_size_bytes"]) == (1, len(got.content))
    assert versions[0]["checksum_sha256"] == hashlib.sha256(got.content).hexdigest()


def test_an_unusable_data_directory_is_a_clear_error_with_nothing_stored(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        with _admin(server) as admin:
            ref = make_bucket(admin, "fragile")["bucket_id"]
            put(admin, ref, "kept", b"kept bytes")
            tmp = server.data_dir / "blobs" / "tmp"
            shutil.rmtree(tmp)
            tmp.write_text("a file where the upload directory goes")
            for content in (b"small", b"x" * (3 * MIB)):
                body = expect_error(
                    admin.put(data(ref, "kept"), content=content), 503, "SERVICE_UNAVAILABLE"
                )
                assert "cannot store the object" in body["error"], body
                assert "nothing was stored" in body["error"], body
            shown = expect(admin.get(bucket(ref)), 200)
            assert (shown["total_objects"], shown["total_size_bytes"]) == (1, 10)
            assert admin.get(data(ref, "kept")).content == b"kept bytes"
            tmp.unlink()
            put(admin, ref, "kept", b"writable again")
    finally:
        assert server.stop() == 0, server.log()


def test_a_put_refused_for_a_disabled_key_leaves_nothing_on_disk(
    make_user: Callable[..., User], server: RunningServer
) -> None:
    # A refused put once left its temporary file behind (the data key was asked for after the
    # file was made), for the next sweep, ten minutes later, to find.
    owner = make_user()
    made = make_bucket(owner.client, f"sealed{os.urandom(4).hex()}")
    ref, key_id = made["bucket_id"], made["kms_key_id"]
    put(owner.client, ref, "kept", b"kept bytes")
    kept = sorted(p for p in _blob_files(server.data_dir) if ref in p.parts)
    assert len(kept) == 1
    expect(owner.client.post(f"{SERVICES}/encryption-keys/{key_id}/disable/"), 200)
    for content in (b"small", b"x" * (3 * MIB)):
        refused = owner.client.put(data(ref, "kept"), content=content)
        assert key_id in expect_error(refused, 409, "INVALID_STATE")["error"]
        assert [p.name for p in _leftovers(server.data_dir) if p.name.startswith(ref)] == []
        assert sorted(p for p in _blob_files(server.data_dir) if ref in p.parts) == kept


def test_another_users_bucket_is_404_on_every_route(
    make_user: Callable[..., User],
) -> None:
    alice, bob = make_user(), make_user()
    ref = make_bucket(alice.client, f"alice{os.urandom(4).hex()}")["bucket_id"]
    stored = put(alice.client, ref, "private.txt", b"alice's")
    oid = stored["object_id"]
    for response in (
        bob.client.get(bucket(ref)),
        bob.client.patch(bucket(ref), json={"acl": "public-read"}),
        bob.client.delete(bucket(ref), params={"force": "true"}),
        bob.client.get(bucket(ref, "objects")),
        bob.client.get(bucket(ref, "versions")),
        bob.client.get(bucket(ref, "statistics")),
        bob.client.post(bucket(ref, "enable_versioning")),
        bob.client.post(bucket(ref, "enable_logging"), json={"log_target_bucket": ref}),
        bob.client.post(bucket(ref, "presign"), json={"key": "private.txt"}),
        bob.client.get(data(ref, "private.txt")),
        bob.client.head(data(ref, "private.txt")),
        bob.client.put(data(ref, "private.txt"), content=b"bob's"),
        bob.client.delete(data(ref, "private.txt")),
        bob.client.get(obj(oid)),
        bob.client.patch(obj(oid), json={"tags": {"a": "b"}}),
        bob.client.delete(obj(oid)),
        bob.client.post(obj(oid, "make_public")),
        bob.client.get(OBJECTS, params={"bucket": ref, "prefix": ""}),
    ):
        assert response.status_code == 404, (response.request.method, response.request.url)
    assert expect(bob.client.get(OBJECTS), 200)["count"] == 0
    assert expect(bob.client.get(BUCKETS), 200)["count"] == 0
    assert alice.client.get(data(ref, "private.txt")).content == b"alice's"


def test_a_key_with_the_wrong_scope_cannot_read_or_write(
    make_user: Callable[..., User], server: RunningServer
) -> None:
    owner = make_user()
    ref = make_bucket(owner.client, f"scoped{os.urandom(4).hex()}")["bucket_id"]
    put(owner.client, ref, "k", b"bytes")

    def client_with(scopes: list[str]) -> httpx.Client:
        made = expect(owner.client.post(KEYS, json={"name": "s", "scopes": scopes}), 201)
        return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {made['key']}"})

    with client_with(["compute:*"]) as compute, client_with(["storage:read"]) as reader:
        for response in (
            compute.get(data(ref, "k")),
            compute.put(data(ref, "k"), content=b"x"),
            compute.delete(data(ref, "k")),
            compute.get(bucket(ref, "objects")),
            reader.put(data(ref, "k"), content=b"x"),
            reader.delete(data(ref, "k")),
            reader.post(bucket(ref, "presign"), json={"key": "k", "method": "PUT"}),
        ):
            expect_error(response, 403, "FORBIDDEN")
        assert reader.get(data(ref, "k")).content == b"bytes"
    assert owner.client.get(data(ref, "k")).content == b"bytes"
