"""`atonix object`: the issue's tour, stdin and stdout, ranges, versions, cp, sync, presign,
public access and storage classes, on both backends."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from atonix_cli.errors import ExitCode
from tests.cli.runner import Cli, expect_error


@pytest.fixture
def photos(cli: Cli) -> str:
    cli.ok("bucket", "create", "photos", "--versioning")
    return "photos"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def keys(cli: Cli, *args: str) -> list[str]:
    return [o["object_key"] for o in cli.json("object", "ls", *args)["objects"]]


def test_the_tour_from_the_issue(cli: Cli, photos: str, tmp_path: Path) -> None:
    cat = write(tmp_path / "cat.jpg", os.urandom(200_000))
    put = cli.json("object", "put", photos, "2026/cat.jpg", str(cat))
    assert put["size_bytes"] == 200_000
    assert put["content_type"] == "image/jpeg"
    assert put["etag"].strip('"') == hashlib.md5(cat.read_bytes()).hexdigest()

    big = os.urandom(3 << 20)
    piped = cli.binary("object", "put", photos, "backups/big.tar", "-", stdin=big)[0]
    assert piped.exit_code == 0, str(piped)

    listed = cli.json("object", "ls", photos, "--prefix", "2026/", "--delimiter", "/")
    assert [o["object_key"] for o in listed["objects"]] == ["2026/cat.jpg"]
    top = cli.json("object", "ls", photos, "--delimiter", "/")
    assert top["objects"] == []
    assert sorted(top["common_prefixes"]) == ["2026/", "backups/"]

    copy = tmp_path / "copy.jpg"
    got = cli.ok("object", "get", photos, "2026/cat.jpg", str(copy))
    assert copy.read_bytes() == cat.read_bytes()
    assert got.stderr == f"Wrote 200000 bytes to {copy}\n"

    result, data = cli.binary("object", "get", photos, "backups/big.tar", "-")
    assert result.exit_code == 0, str(result)
    assert data == big

    head = tmp_path / "head.bin"
    cli.ok("object", "get", photos, "2026/cat.jpg", "--range", "0-1023", str(head))
    assert head.read_bytes() == cat.read_bytes()[:1024]

    cli.ok("object", "put", photos, "2026/cat.jpg", str(write(tmp_path / "cat2.jpg", b"v2")))
    versions = cli.json("object", "versions", photos, "2026/cat.jpg")
    assert len(versions) == 2
    assert [v["is_latest"] for v in versions] == [True, False]

    removed = cli.ok("object", "rm", photos, "2026/cat.jpg")
    assert "delete marker" in removed.stderr
    expect_error(cli("object", "get", photos, "2026/cat.jpg", str(copy)), ExitCode.NOT_FOUND)
    assert copy.read_bytes() == cat.read_bytes(), "a failed get leaves the old file alone"
    oldest = versions[-1]["version_id"]
    cli.ok("object", "get", photos, "2026/cat.jpg", "--version-id", oldest, str(copy))
    assert copy.read_bytes() == cat.read_bytes()

    stats = cli.json("bucket", "stats", photos)
    assert stats["total_objects"] >= 1


def test_head_shows_metadata_without_bytes(cli: Cli, photos: str, tmp_path: Path) -> None:
    source = write(tmp_path / "report.csv", b"a,b\n1,2\n")
    cli.ok(
        "object",
        "put",
        photos,
        "r.csv",
        str(source),
        "--meta",
        "owner=ana",
        "--storage-class",
        "standard-ia",
    )
    shown = cli.json("object", "head", photos, "r.csv")
    assert shown["storage_class"] == "standard-ia"
    expect_error(cli("object", "put", photos, "r", str(source), "--meta", "x"), 2, "--meta")
    assert shown["size_bytes"] == 8
    assert shown["content_type"] == "text/csv"
    assert shown["checksum_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert shown["metadata"] == {"owner": "ana"}
    assert shown["version_id"]
    expect_error(cli("object", "head", photos, "missing"), ExitCode.NOT_FOUND)


def test_keys_are_opaque(cli: Cli, photos: str, tmp_path: Path) -> None:
    source = write(tmp_path / "x", b"opaque")
    odd = ["../../etc/passwd", "a%2Fb", "with space/ünïcode ✓", "dir/", "q?x=1#frag", "k" * 1024]
    for key in odd:
        cli.ok("object", "put", photos, key, str(source), "--content-type", "text/plain")
    assert sorted(keys(cli, photos)) == sorted(odd)
    for key in odd:
        _, data = cli.binary("object", "get", photos, key, "-")
        assert data == b"opaque", key
    expect_error(
        cli("object", "put", photos, "k" * 1025, str(source)), ExitCode.USAGE, "VALIDATION_ERROR"
    )


def test_a_wrong_checksum_stores_nothing(cli: Cli, photos: str, tmp_path: Path) -> None:
    from atonix_cli import transfer

    source = write(tmp_path / "x", b"real bytes")
    original = transfer.file_digest

    def lying(handle, algorithm, progress=None):  # type: ignore[no-untyped-def]
        return "0" * 64 if algorithm == "sha256" else original(handle, algorithm, progress)

    transfer.file_digest = lying  # type: ignore[assignment]
    try:
        refused = cli("object", "put", photos, "x", str(source))
    finally:
        transfer.file_digest = original  # type: ignore[assignment]
    expect_error(refused, ExitCode.USAGE)
    assert keys(cli, photos) == []


def test_a_large_file_is_checked_whole_when_hashed_while_it_is_sent(
    cli: Cli, photos: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embedded, a large file's SHA-256 is taken on a thread while the upload reads it and
    reaches the engine after the body: a right one stores the object, a wrong one nothing."""
    from atonix_cli import transfer

    monkeypatch.setattr(transfer, "ALONGSIDE_MIN_BYTES", 1 << 20)
    content = os.urandom(3 << 20)
    source = write(tmp_path / "big.bin", content)
    stored = cli.json("object", "put", photos, "big.bin", str(source))
    assert stored["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    original = transfer.file_digest

    def lying(handle, algorithm, progress=None):  # type: ignore[no-untyped-def]
        return "0" * 64 if algorithm == "sha256" else original(handle, algorithm, progress)

    monkeypatch.setattr(transfer, "file_digest", lying)
    expect_error(cli("object", "put", photos, "other.bin", str(source)), ExitCode.USAGE)
    assert keys(cli, photos) == ["big.bin"]


def test_cp_between_files_and_objects(cli: Cli, photos: str, tmp_path: Path) -> None:
    data = os.urandom(50_000)
    source = write(tmp_path / "in" / "pic.png", data)
    cli.ok("object", "cp", str(source), f"{photos}/img/")
    assert keys(cli, photos) == ["img/pic.png"]
    cli.ok("object", "cp", f"{photos}/img/pic.png", f"atonix://{photos}/copy/pic.png")
    assert sorted(keys(cli, photos)) == ["copy/pic.png", "img/pic.png"]
    out = tmp_path / "out"
    out.mkdir()
    cli.ok("object", "cp", f"{photos}/copy/pic.png", f"{out}/")
    assert (out / "pic.png").read_bytes() == data
    head = cli.json("object", "head", photos, "copy/pic.png")
    assert head["content_type"] == "image/png"
    expect_error(cli("object", "cp", str(source), str(out)), ExitCode.USAGE, "BUCKET/KEY")


def test_sync_uploads_only_changes_and_deletes(cli: Cli, photos: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site / "index.html", b"<h1>hi</h1>")
    write(site / "css" / "site.css", b"body{}")
    write(site / "old.txt", b"old")

    first = cli.json("object", "sync", str(site), f"{photos}/www")
    assert sorted(step["target"] for step in first) == [
        "photos/www/css/site.css",
        "photos/www/index.html",
        "photos/www/old.txt",
    ]
    assert cli.json("object", "sync", str(site), f"{photos}/www") == []

    write(site / "index.html", b"<h1>HI</h1>")  # same size, other bytes: the checksum decides
    (site / "old.txt").unlink()
    planned = cli.json("object", "sync", str(site), f"{photos}/www", "--delete", "--dry-run")
    assert sorted((s["action"], s["target"]) for s in planned) == [
        ("delete", "photos/www/old.txt"),
        ("upload", "photos/www/index.html"),
    ]
    assert "photos/www/old.txt" in [f"photos/{k}" for k in keys(cli, photos)], "dry run"

    cli.ok("object", "sync", str(site), f"{photos}/www", "--delete")
    assert sorted(keys(cli, photos, "--prefix", "www/")) == ["www/css/site.css", "www/index.html"]

    # A key that would climb out of the directory is never written there.
    cli.ok("object", "put", photos, "www/../escaped.txt", str(site / "index.html"))
    back = tmp_path / "back"
    synced = cli.ok("object", "sync", f"{photos}/www", str(back), "-o", "json")
    pulled = synced.json()
    assert "skipped photos/www/../escaped.txt" in synced.stderr
    assert not (tmp_path / "escaped.txt").exists()
    assert len(pulled) == 2
    assert (back / "index.html").read_bytes() == b"<h1>HI</h1>"
    assert (back / "css" / "site.css").read_bytes() == b"body{}"


def test_presign_public_and_storage_class(cli: Cli, photos: str, tmp_path: Path) -> None:
    source = write(tmp_path / "cat.jpg", b"meow")
    cli.ok("object", "put", photos, "cat.jpg", str(source))

    url = cli.ok("object", "presign", photos, "cat.jpg", "--expires", "1h").stdout.strip()
    assert "signature=" in url and "expires=" in url
    if cli.backend == "remote":
        assert httpx.get(url).content == b"meow"
        assert httpx.get(url.replace("signature=", "signature=0")).status_code == 403
        upload = cli.ok("object", "presign", photos, "drop.txt", "--method", "put").stdout.strip()
        assert httpx.put(upload, content=b"dropped").is_success
        assert httpx.get(url.replace("cat.jpg", "drop.txt")).status_code == 403
        assert cli.binary("object", "get", photos, "drop.txt", "-")[1] == b"dropped"

    made = cli.json("object", "make-public", photos, "cat.jpg")
    assert made["is_public"] is True
    if cli.backend == "remote":
        anonymous = httpx.get(f"{cli.endpoint}/api/v1/services/buckets/photos/objects/cat.jpg")
        assert anonymous.content == b"meow"
    assert cli.json("object", "make-private", photos, "cat.jpg")["is_public"] is False

    moved = cli.json("object", "set-storage-class", photos, "cat.jpg", "glacier")
    assert moved["storage_class"] == "glacier"
    expect_error(cli("object", "set-storage-class", photos, "cat.jpg", "cold"), ExitCode.USAGE)
    expect_error(cli("object", "presign", photos, "cat.jpg", "--expires", "9d"), ExitCode.USAGE)


def test_errors_are_one_line(cli: Cli, tmp_path: Path) -> None:
    source = write(tmp_path / "x", b"x")
    expect_error(cli("object", "put", "nobucket", "k", str(source)), ExitCode.NOT_FOUND)
    expect_error(cli("object", "put", "nobucket", "k", str(tmp_path / "none")), ExitCode.USAGE)
    expect_error(cli("object", "put", "nobucket", "k", str(tmp_path)), ExitCode.USAGE, "directory")
    expect_error(cli("object", "get", "nobucket", "k", "-"), ExitCode.NOT_FOUND)
    expect_error(cli("object", "get", "nobucket", "k", "--range", "x"), ExitCode.USAGE)


def test_listings_follow_every_page(
    cli: Cli, photos: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import atonix_cli.objects

    source = write(tmp_path / "x", b"x")
    names = [f"k/{i:02d}" for i in range(7)]
    for name in names:
        cli.ok("object", "put", photos, name, str(source))
    cli.ok("object", "put", photos, "k/03", str(source))  # a second version
    monkeypatch.setattr(atonix_cli.objects, "PAGE_SIZE", 2)
    assert keys(cli, photos, "--prefix", "k/") == names
    listed = cli.json("object", "ls", photos, "--delimiter", "/")
    assert listed == {"objects": [], "common_prefixes": ["k/"]}
    versions = cli.json("object", "versions", photos)
    assert [v["object_key"] for v in versions] == sorted([*names, "k/03"])


def test_another_users_bucket_is_not_found(cli: Cli, photos: str, tmp_path: Path) -> None:
    source = write(tmp_path / "x", b"mine")
    cli.ok("object", "put", photos, "x", str(source))
    bob, password = cli.add_user("bob")
    cli.add_profile("bob")
    cli.login("bob", bob, password)
    as_bob = ("--profile", "bob")
    for args in (
        ("object", "put", photos, "x", str(source)),
        ("object", "get", photos, "x", "-"),
        ("object", "head", photos, "x"),
        ("object", "rm", photos, "x"),
        ("object", "ls", photos),
        ("object", "make-public", photos, "x"),
        ("bucket", "show", photos),
        ("bucket", "delete", photos, "--force", "--yes"),
    ):
        expect_error(cli(*as_bob, *args), ExitCode.NOT_FOUND)
    expect_error(cli(*as_bob, "bucket", "create", photos), ExitCode.CONFLICT, "CONFLICT")
    _, data = cli.binary("object", "get", photos, "x", "-")
    assert data == b"mine"


def test_an_empty_object(cli: Cli, photos: str, tmp_path: Path) -> None:
    empty = write(tmp_path / "empty", b"")
    put = cli.json("object", "put", photos, "empty", str(empty))
    assert put["size_bytes"] == 0
    assert cli.binary("object", "put", photos, "empty-stdin", "-", stdin=b"")[0].exit_code == 0
    copy = tmp_path / "copy"
    cli.ok("object", "get", photos, "empty", str(copy))
    assert copy.read_bytes() == b""
    assert cli.binary("object", "get", photos, "empty-stdin", "-")[1] == b""
