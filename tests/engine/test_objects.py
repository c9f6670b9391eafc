"""Objects through the data route, in-process: bytes and headers, checksums, ranges, versions,
opaque keys, listings by cursor, metadata, public objects, presigned URLs, limits, sealing."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from engine.storage import uploads
from tests.support.api import AUDIT, expect, expect_error
from tests.support.engine import LocalEngine
from tests.support.storage import OBJECTS, bucket, data, keys_of, make_bucket, obj, put


def _blob_files(engine: LocalEngine) -> list[Path]:
    root = engine.db.data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _totals(client: httpx.Client, ref: str) -> tuple[int, int]:
    shown = expect(client.get(bucket(ref)), 200)
    return shown["total_objects"], shown["total_size_bytes"]


@pytest.fixture
def photos(engine: LocalEngine) -> str:
    return str(make_bucket(engine.admin, "photos")["bucket_id"])


def test_put_then_get_returns_the_bytes_and_their_headers(engine: LocalEngine, photos: str) -> None:
    content = b"\x00\xffcat" * 5000
    stored = put(
        engine.admin,
        "photos",
        "2026/cat.jpg",
        content,
        **{"content-type": "image/jpeg", "x-atonix-meta-camera": "x100"},
    )
    assert stored["object_id"].startswith("obj-")
    assert (stored["bucket"], stored["bucket_name"], stored["object_key"]) == (
        photos,
        "photos",
        "2026/cat.jpg",
    )
    assert stored["size_bytes"] == len(content)
    assert stored["etag"] == hashlib.md5(content).hexdigest()
    assert stored["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert (stored["content_type"], stored["metadata"]) == ("image/jpeg", {"camera": "x100"})
    assert (stored["version_id"], stored["is_latest"], stored["encrypted"]) == (None, True, True)
    got = engine.admin.get(data(photos, "2026/cat.jpg"))
    assert got.status_code == 200 and got.content == content
    assert got.headers["etag"] == f'"{stored["etag"]}"'
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-length"] == str(len(content))
    assert got.headers["x-atonix-checksum-sha256"] == stored["checksum_sha256"]
    assert got.headers["x-atonix-meta-camera"] == "x100"
    head = engine.admin.head(data("photos", "2026/cat.jpg"))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(content))
    assert _totals(engine.admin, photos) == (1, len(content))
    audit = expect(engine.admin.get(AUDIT, params={"action": "upload"}), 200)["results"]
    assert audit[0]["resource_type"] == "s3_object"
    assert audit[0]["resource_id"] == stored["object_id"]


def test_an_unversioned_put_replaces_the_object(engine: LocalEngine, photos: str) -> None:
    first = put(engine.admin, photos, "k", b"one")
    second = put(engine.admin, photos, "k", b"second")
    assert second["object_id"] == first["object_id"]
    assert engine.admin.get(data(photos, "k")).content == b"second"
    assert _totals(engine.admin, photos) == (1, 6)
    assert len(_blob_files(engine)) == 1, "the replaced bytes are gone from disk"


def test_a_checksum_mismatch_stores_nothing(engine: LocalEngine, photos: str) -> None:
    put(engine.admin, photos, "k", b"original")
    before = _blob_files(engine)
    wrong = {"x-atonix-checksum-sha256": hashlib.sha256(b"other").hexdigest()}
    body = expect_error(
        engine.admin.put(data(photos, "k"), content=b"changed", headers=wrong),
        400,
        "CHECKSUM_MISMATCH",
    )
    assert "nothing was stored" in body["error"]
    md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    expect_error(
        engine.admin.put(data(photos, "k"), content=b"changed", headers={"content-md5": md5}),
        400,
        "CHECKSUM_MISMATCH",
    )
    good = base64.b64encode(hashlib.md5(b"changed!").digest()).decode()
    expect(
        engine.admin.put(data(photos, "j"), content=b"changed!", headers={"content-md5": good}),
        200,
    )
    assert engine.admin.get(data(photos, "k")).content == b"original"
    assert _totals(engine.admin, photos) == (2, 16)
    assert len(_blob_files(engine)) == len(before) + 1
    assert not list((engine.db.data_dir / "blobs" / "tmp").iterdir())


def test_one_range_if_none_match_and_their_errors(engine: LocalEngine, photos: str) -> None:
    content = bytes(range(256)) * 1000
    stored = put(engine.admin, photos, "r", content)
    for header, start, stop in (
        ("bytes=0-1023", 0, 1024),
        ("bytes=1000-", 1000, len(content)),
        ("bytes=-10", len(content) - 10, len(content)),
        ("bytes=255990-999999", 255990, len(content)),
    ):
        got = engine.admin.get(data(photos, "r"), headers={"range": header})
        assert got.status_code == 206, header
        assert got.content == content[start:stop], header
        assert got.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(content)}"
    whole = engine.admin.get(data(photos, "r"), headers={"range": "bytes=0-1,5-6"})
    assert whole.status_code == 200 and whole.content == content
    error = expect_error(
        engine.admin.get(data(photos, "r"), headers={"range": "bytes=256000-"}),
        416,
        "RANGE_NOT_SATISFIABLE",
    )
    assert error["details"] == {"size": len(content)}
    same = engine.admin.get(data(photos, "r"), headers={"if-none-match": f'"{stored["etag"]}"'})
    assert (same.status_code, same.content) == (304, b"")
    other = engine.admin.get(data(photos, "r"), headers={"if-none-match": '"0000"'})
    assert other.status_code == 200


def test_versions_delete_markers_and_reads_by_version(engine: LocalEngine) -> None:
    ref = make_bucket(engine.admin, "history", versioning_enabled=True)["bucket_id"]
    v1 = put(engine.admin, ref, "doc", b"v1")
    v2 = put(engine.admin, ref, "doc", b"v2")
    assert v1["version_id"] and v2["version_id"] and v1["version_id"] != v2["version_id"]
    assert engine.admin.get(data(ref, "doc")).content == b"v2"
    old = engine.admin.get(data(ref, "doc"), params={"version_id": v1["version_id"]})
    assert old.content == b"v1" and old.headers["x-atonix-version-id"] == v1["version_id"]
    gone = engine.admin.delete(data(ref, "doc"))
    assert gone.status_code == 204 and gone.headers["x-atonix-delete-marker"] == "true"
    expect_error(engine.admin.get(data(ref, "doc")), 404, "NOT_FOUND")
    assert keys_of(expect(engine.admin.get(bucket(ref, "objects")), 200)) == []
    versions = expect(engine.admin.get(bucket(ref, "versions"), params={"key": "doc"}), 200)
    assert [(v["is_delete_marker"], v["is_latest"]) for v in versions["results"]] == [
        (True, True),
        (False, False),
        (False, False),
    ]
    marker = versions["results"][0]["version_id"]
    # Removing the marker brings the newest version back.
    expect(engine.admin.delete(data(ref, "doc"), params={"version_id": marker}), 204)
    assert engine.admin.get(data(ref, "doc")).content == b"v2"
    expect(engine.admin.delete(data(ref, "doc"), params={"version_id": v2["version_id"]}), 204)
    assert engine.admin.get(data(ref, "doc")).content == b"v1"
    assert _totals(engine.admin, ref) == (1, 2)
    expect_error(
        engine.admin.get(data(ref, "doc"), params={"version_id": v2["version_id"]}),
        404,
        "NOT_FOUND",
    )


def test_an_unversioned_delete_removes_the_object_and_its_bytes(
    engine: LocalEngine, photos: str
) -> None:
    put(engine.admin, photos, "k", b"bytes")
    expect(engine.admin.delete(data(photos, "k")), 204)
    expect_error(engine.admin.delete(data(photos, "k")), 404, "NOT_FOUND")
    assert _totals(engine.admin, photos) == (0, 0)
    assert _blob_files(engine) == []


KEYS = [
    "../../etc/passwd",
    "/etc/passwd",
    "k" * 1024,
    "é" * 512,
    "日本語/ファイル.txt",
    "with space and + plus",
    "a%2Fb",
    "trailing/",
    "./.",
    "query?x=1#frag",
    "emoji 🐈",
]


@pytest.mark.parametrize("key", KEYS)
def test_keys_are_opaque(engine: LocalEngine, photos: str, key: str) -> None:
    content = key.encode() * 3
    stored = put(engine.admin, photos, key, content)
    assert stored["object_key"] == key
    assert engine.admin.get(data(photos, key)).content == content
    listed = expect(engine.admin.get(bucket(photos, "objects")), 200)
    assert keys_of(listed) == [key]
    root = (engine.db.data_dir / "blobs").resolve()
    assert all(p.resolve().is_relative_to(root) for p in _blob_files(engine))
    assert not (engine.db.data_dir / "etc").exists()


@pytest.mark.parametrize("key", ["k" * 1025, "é" * 513, "nul\x00byte"])
def test_a_nul_or_a_key_over_1024_bytes_is_refused(
    engine: LocalEngine, photos: str, key: str
) -> None:
    body = expect_error(engine.admin.put(data(photos, key), content=b"x"), 400, "VALIDATION_ERROR")
    assert "key" in body["details"] or "path" in body["details"]


def test_listing_by_prefix_delimiter_and_cursor(engine: LocalEngine, photos: str) -> None:
    keys = [f"2026/{m:02d}/img{n}.jpg" for m in (1, 2) for n in range(3)]
    keys += ["2025/old.jpg", "readme.txt", "2026/top.jpg"]
    for key in keys:
        put(engine.admin, photos, key, b"x")
    every = expect(engine.admin.get(bucket(photos, "objects")), 200)
    assert keys_of(every) == sorted(keys) and every["count"] == len(keys)
    rolled = expect(engine.admin.get(bucket(photos, "objects"), params={"delimiter": "/"}), 200)
    assert (keys_of(rolled), rolled["common_prefixes"]) == (["readme.txt"], ["2025/", "2026/"])
    inside = expect(
        engine.admin.get(bucket(photos, "objects"), params={"prefix": "2026/", "delimiter": "/"}),
        200,
    )
    assert keys_of(inside) == ["2026/top.jpg"]
    assert inside["common_prefixes"] == ["2026/01/", "2026/02/"]
    after = expect(
        engine.admin.get(bucket(photos, "objects"), params={"start_after": "2026/02/img2.jpg"}),
        200,
    )
    assert keys_of(after) == ["2026/top.jpg", "readme.txt"]
    # Every page by cursor: the `next` link, followed to the end.
    seen: list[str] = []
    prefixes: list[str] = []
    url: str | None = bucket(photos, "objects") + "?page_size=2&delimiter=/&prefix=2026/"
    while url:
        page = expect(engine.admin.get(url), 200)
        assert len(page["results"]) + len(page["common_prefixes"]) <= 2
        seen += keys_of(page)
        prefixes += page["common_prefixes"]
        url = page["next"]
        assert page["is_truncated"] == (url is not None)
    assert (seen, prefixes) == (["2026/top.jpg"], ["2026/01/", "2026/02/"])
    flat: list[str] = []
    url = bucket(photos, "objects") + "?page_size=4"
    while url:
        page = expect(engine.admin.get(url), 200)
        flat += keys_of(page)
        url = page["next"]
    assert flat == sorted(keys)
    # The collection lists a bucket by the same cursor.
    same = expect(engine.admin.get(OBJECTS, params={"bucket": photos, "prefix": "2026/01/"}), 200)
    assert keys_of(same) == [k for k in sorted(keys) if k.startswith("2026/01/")]
    expect_error(
        engine.admin.get(bucket(photos, "objects"), params={"continuation_token": "!!"}),
        400,
        "VALIDATION_ERROR",
    )


def test_metadata_tags_acl_and_storage_class(engine: LocalEngine, photos: str) -> None:
    stored = put(engine.admin, photos, "k", b"x")
    oid = stored["object_id"]
    patched = expect(
        engine.admin.patch(obj(oid), json={"metadata": {"a": "1"}, "tags": {"team": "web"}}), 200
    )
    assert (patched["metadata"], patched["tags"]) == ({"a": "1"}, {"team": "web"})
    assert engine.admin.head(data(photos, "k")).headers["x-atonix-meta-a"] == "1"
    assert expect(engine.admin.post(obj(oid, "make_public")), 200)["acl"] == "public-read"
    private = expect(engine.admin.post(obj(oid, "make_private")), 200)
    assert (private["is_public"], private["acl"]) == (False, "private")
    moved = expect(
        engine.admin.post(obj(oid, "change_storage_class"), json={"storage_class": "glacier"}),
        200,
    )
    assert moved["storage_class"] == "glacier"
    body = expect_error(
        engine.admin.post(obj(oid, "change_storage_class"), json={"storage_class": "cold"}),
        400,
        "VALIDATION_ERROR",
    )
    assert body["error"] == "Invalid storage_class"
    expect_error(
        engine.admin.patch(obj(oid), json={"storage_class": "cold"}), 400, "VALIDATION_ERROR"
    )
    expect_error(engine.admin.patch(obj(oid), json={"size_bytes": 1}), 400, "VALIDATION_ERROR")
    shown = expect(engine.admin.get(obj(oid)), 200)
    assert (shown["storage_class"], shown["size_mb"]) == ("glacier", 1 / 1024**2)
    expect(engine.admin.delete(obj(oid)), 204)
    expect_error(engine.admin.get(data(photos, "k")), 404, "NOT_FOUND")
    assert _totals(engine.admin, photos) == (0, 0)


def test_a_public_object_is_readable_with_no_credentials(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    ref = make_bucket(alice.client, "alices-site")["bucket_id"]
    public = put(alice.client, ref, "index.html", b"<h1>hi</h1>")
    put(alice.client, ref, "secret.txt", b"secret")
    anonymous = engine.client()
    expect_error(anonymous.get(data(ref, "index.html")), 401, "UNAUTHENTICATED")
    expect_error(bob.client.get(data(ref, "index.html")), 404, "NOT_FOUND")
    expect(alice.client.post(obj(public["object_id"], "make_public")), 200)
    assert anonymous.get(data("alices-site", "index.html")).content == b"<h1>hi</h1>"
    assert bob.client.get(data(ref, "index.html")).content == b"<h1>hi</h1>"
    expect_error(anonymous.get(data(ref, "secret.txt")), 401, "UNAUTHENTICATED")
    expect_error(anonymous.get(data(ref, "missing")), 401, "UNAUTHENTICATED")
    expect_error(bob.client.get(data(ref, "secret.txt")), 404, "NOT_FOUND")
    expect_error(anonymous.put(data(ref, "index.html"), content=b"x"), 401, "UNAUTHENTICATED")
    expect_error(bob.client.put(data(ref, "index.html"), content=b"x"), 404, "NOT_FOUND")
    expect_error(bob.client.delete(data(ref, "index.html")), 404, "NOT_FOUND")
    expect_error(bob.client.get(obj(public["object_id"])), 404, "NOT_FOUND")
    # A bucket ACL of public-read opens every object of it to reads, never to writes.
    expect(alice.client.patch(bucket(ref), json={"acl": "public-read"}), 200)
    assert anonymous.get(data(ref, "secret.txt")).content == b"secret"
    assert anonymous.head(data(ref, "secret.txt")).headers["content-length"] == "6"
    expect_error(anonymous.put(data(ref, "secret.txt"), content=b"x"), 401, "UNAUTHENTICATED")
    expect_error(anonymous.get(bucket(ref, "objects")), 401, "UNAUTHENTICATED")


def test_presigned_urls_work_once_signed_and_fail_altered_or_expired(
    manual: LocalEngine,
) -> None:
    ref = make_bucket(manual.admin, "shared")["bucket_id"]
    manual.advance(1)
    put(manual.admin, ref, "report.pdf", b"%PDF")
    anonymous = manual.client()
    signed = expect(
        manual.admin.post(bucket(ref, "presign"), json={"key": "report.pdf", "expires_in": 60}),
        200,
    )
    assert signed["method"] == "GET" and signed["url"].startswith("http://")
    assert anonymous.get(signed["path"]).content == b"%PDF"
    parts = urlsplit(signed["path"])
    for altered in (
        signed["path"].replace("report.pdf", "other.pdf"),
        signed["path"][:-1] + ("0" if signed["path"][-1] != "0" else "1"),
        signed["path"].replace("method=GET", "method=PUT"),
        parts.path + "?" + parts.query.replace("expires=", "expires=9"),
    ):
        expect_error(anonymous.get(altered), 403, "FORBIDDEN")
    upload = expect(
        manual.admin.post(
            bucket(ref, "presign"), json={"key": "in/up.bin", "method": "PUT", "expires_in": 30}
        ),
        200,
    )
    expect_error(anonymous.get(upload["path"]), 403, "FORBIDDEN")
    expect(anonymous.put(upload["path"], content=b"uploaded"), 200)
    assert manual.admin.get(data(ref, "in/up.bin")).content == b"uploaded"
    manual.advance(61)
    expect_error(anonymous.get(signed["path"]), 403, "FORBIDDEN")
    expect_error(anonymous.put(upload["path"], content=b"late"), 403, "FORBIDDEN")
    expect_error(
        manual.admin.post(bucket(ref, "presign"), json={"key": "x", "expires_in": 0}),
        400,
        "VALIDATION_ERROR",
    )


def test_over_the_object_limit_is_413_with_nothing_stored(
    engine: LocalEngine, photos: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_OBJECT_BYTES", 1000)
    body = expect_error(
        engine.admin.put(data(photos, "big"), content=b"x" * 1001), 413, "TOO_LARGE"
    )
    assert body["details"] == {"limit": 1000}
    monkeypatch.setattr(uploads, "SMALL_BODY", 10)

    def stream() -> Any:
        yield b"x" * 600
        yield b"x" * 600

    expect_error(engine.admin.put(data(photos, "big"), content=stream()), 413, "TOO_LARGE")
    expect(engine.admin.put(data(photos, "fits"), content=b"x" * 1000), 200)
    assert _totals(engine.admin, photos) == (1, 1000)
    assert len(_blob_files(engine)) == 1


def test_past_the_bucket_limit_is_429_with_nothing_stored(
    engine: LocalEngine, photos: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "BUCKET_LIMIT_BYTES", 2500)
    put(engine.admin, photos, "a", b"x" * 1000)
    put(engine.admin, photos, "b", b"x" * 1000)
    body = expect_error(
        engine.admin.put(data(photos, "c"), content=b"x" * 1000), 429, "QUOTA_EXCEEDED"
    )
    assert body["details"]["limit"] == 2500 and body["details"]["used"] == 2000
    put(engine.admin, photos, "a", b"x" * 1500)  # a replacement counts what it frees
    assert _totals(engine.admin, photos) == (2, 2500)
    assert len(_blob_files(engine)) == 2


def test_an_encrypted_object_is_sealed_on_disk(engine: LocalEngine) -> None:
    plaintext = b"the plaintext marker " * 10_000
    sealed = make_bucket(engine.admin, "sealed")["bucket_id"]
    plain = make_bucket(engine.admin, "plain", encryption_enabled=False)["bucket_id"]
    assert put(engine.admin, sealed, "s", plaintext)["encrypted"] is True
    assert put(engine.admin, plain, "p", plaintext)["encrypted"] is False
    files = {p.parts[-3]: p.read_bytes() for p in _blob_files(engine)}
    assert b"plaintext marker" not in files[sealed]
    assert files[plain] == plaintext
    assert engine.admin.get(data(sealed, "s")).content == plaintext
    got = engine.admin.get(data(sealed, "s"), headers={"range": "bytes=70000-70099"})
    assert got.status_code == 206 and got.content == plaintext[70000:70100]


@pytest.mark.parametrize("sealed", [False, True], ids=["plain", "sealed"])
def test_a_full_data_volume_is_a_clear_503_with_nothing_half_stored(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch, sealed: bool
) -> None:
    import errno

    from engine.storage import blobs

    ref = make_bucket(engine.admin, "fills-up", encryption_enabled=sealed)["bucket_id"]
    put(engine.admin, ref, "kept", b"kept")

    class FullDisk:
        """The temporary file on a volume with 300 kB left."""

        def __init__(self, raw: Any) -> None:
            self.raw, self.written = raw, 0

        def write(self, data: Any) -> int:
            self.written += len(data)
            if self.written > 300_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return int(self.raw.write(data))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.raw, name)

    real_init = blobs.LocalWriter.__init__

    def init(self: blobs.LocalWriter, *args: Any) -> None:
        real_init(self, *args)
        self._file = FullDisk(self._file)  # type: ignore[assignment]

    monkeypatch.setattr(blobs.LocalWriter, "__init__", init)
    for size in (400_000, 3_000_000):  # read whole, and streamed
        body = expect_error(
            engine.admin.put(data(ref, "kept"), content=b"x" * size), 503, "SERVICE_UNAVAILABLE"
        )
        assert body["error"] == (
            "cannot store the object: the data volume is full; nothing was stored"
        )
    assert engine.admin.get(data(ref, "kept")).content == b"kept"
    assert _totals(engine.admin, ref) == (1, 4)
    assert not list((engine.db.data_dir / "blobs" / "tmp").iterdir())
    assert len(_blob_files(engine)) == 1


def test_the_collection_counts_versions_without_counting_rows(engine: LocalEngine) -> None:
    alice = engine.user()
    ref = make_bucket(alice.client, "counted", versioning_enabled=True)["bucket_id"]
    plain = make_bucket(alice.client, "counted-plain")["bucket_id"]
    for key in ("a", "a", "b"):
        put(alice.client, ref, key, b"x")
    put(alice.client, plain, "p", b"1")
    put(alice.client, plain, "p", b"2")  # a replacement is no new row
    expect(alice.client.delete(data(ref, "b")), 204)  # a delete marker is one
    assert expect(alice.client.get(OBJECTS), 200)["count"] == 5
    first = expect(alice.client.get(OBJECTS, params={"object_key": "a"}), 200)["results"][0]
    expect(alice.client.delete(obj(first["object_id"])), 204)
    assert expect(alice.client.get(OBJECTS), 200)["count"] == 4
    expect(alice.client.delete(bucket(ref), params={"force": "true"}), 202)
    assert expect(alice.client.get(OBJECTS), 200)["count"] == 1
    assert expect(engine.admin.get(OBJECTS), 200)["count"] == 1
