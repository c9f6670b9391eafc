"""`atonix object`: put, get, list, version, copy, sync and share the objects of a bucket."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from atonix_cli import objects, transfer
from atonix_cli.context import Application, current
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.resources import Resource

app = ResourceApp(help="Objects: put, get, ls, rm, versions, cp, sync, presign, public access.")

BUCKETS = Resource("buckets")
OBJECTS = Resource("s3-objects")
STORAGE_CLASSES = ("standard", "standard-ia", "intelligent-tiering", "glacier", "deep-archive")
COLUMNS = (
    ("last_modified", "MODIFIED"),
    ("size_bytes", "SIZE"),
    ("object_key", "KEY"),
)
VERSION_COLUMNS = (
    ("version_id", "VERSION"),
    ("is_latest", "LATEST"),
    ("is_delete_marker", "DELETE MARKER"),
    ("last_modified", "MODIFIED"),
    ("size_bytes", "SIZE"),
    ("object_key", "KEY"),
)
PLAN_COLUMNS = (("action", "ACTION"), ("source", "FROM"), ("target", "TO"), ("size_bytes", "SIZE"))

Bucket = typer.Argument(..., metavar="BUCKET", help="Bucket name or id.")
Key = typer.Argument(..., metavar="KEY", help="Object key (any bytes but NUL, ≤1024).")
VersionId = typer.Option(None, *flag("version_id"), help="A version of the object, not the latest.")
Checksum = typer.Option(
    True,
    "--checksum/--no-checksum",
    help="Send the SHA-256 of the bytes, which the engine checks (default on).",
)


# --- shared ---------------------------------------------------------------------------------


# --- the commands ---------------------------------------------------------------------------


@app.command("put")
def put(
    bucket: str = Bucket,
    key: str = Key,
    source: str = typer.Argument(..., metavar="FILE", help="File to upload; - reads stdin."),
    content_type: str | None = typer.Option(
        None, *flag("content_type"), help="Default: guessed from the file name (or the key)."
    ),
    meta: list[str] = typer.Option([], "--meta", help="User metadata KEY=VALUE, repeatable."),
    storage_class: str | None = typer.Option(
        None, *flag("storage_class"), help=f"One of {', '.join(STORAGE_CLASSES)} (standard)."
    ),
    checksum: bool = Checksum,
) -> None:
    """Upload a file (or stdin) as an object; the bytes are streamed and checksummed.

    Example: atonix object put photos 2026/cat.jpg ./cat.jpg
    """
    cli = current()
    stored = objects.put(
        cli,
        bucket,
        key,
        source,
        content_type=content_type,
        metadata=_pairs(meta, "--meta"),
        checksum=checksum,
        storage_class=storage_class,
    )
    cli.render(stored)


def _pairs(pairs: list[str], option: str) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=option)
        found[name] = value
    return found


@app.command("get")
def get(
    bucket: str = Bucket,
    key: str = Key,
    dest: str | None = typer.Argument(
        None, metavar="[DEST]", help="File to write (default: the key's last part); - is stdout."
    ),
    version_id: str | None = VersionId,
    byte_range: str | None = typer.Option(
        None, "--range", metavar="FIRST-LAST", help="Only these bytes, e.g. 0-1023 or -500."
    ),
    checksum: bool = typer.Option(
        True,
        "--checksum/--no-checksum",
        help="Check what arrives over the network against the object's SHA-256 (default on).",
    ),
) -> None:
    """Download an object (or a byte range of it) to a file or stdout.

    Example: atonix object get photos 2026/cat.jpg ./copy.jpg
    """
    cli = current()
    if byte_range is not None and not re.fullmatch(r"\d+-\d*|-\d+", byte_range):
        raise typer.BadParameter("use FIRST-LAST, FIRST- or -SUFFIX bytes", param_hint="--range")
    target = dest or key.rstrip("/").rsplit("/", 1)[-1]
    if not target:
        raise typer.BadParameter("the key has no file name; name DEST", param_hint="DEST")
    written = objects.get(
        cli, bucket, key, target, version_id=version_id, byte_range=byte_range, checksum=checksum
    )
    if target != "-":
        cli.info(f"Wrote {written} bytes to {target}")


@app.command("head")
def head(bucket: str = Bucket, key: str = Key, version_id: str | None = VersionId) -> None:
    """Show an object's size, type, checksums, version and metadata without its bytes.

    Example: atonix object head photos 2026/cat.jpg -o json
    """
    cli = current()
    response = cli.client.transfer(
        "HEAD", transfer.data_path(bucket, key), params={"version_id": version_id}
    )
    response.close()
    cli.render(transfer.described(response.headers, bucket=bucket, key=key))


@app.command("ls")
def ls(
    location: str = typer.Argument(
        ..., metavar="BUCKET[/PREFIX]", help="A bucket, optionally with a key prefix."
    ),
    prefix: str | None = typer.Option(None, "--prefix", help="Only keys starting with this."),
    delimiter: str | None = typer.Option(
        None, "--delimiter", help="Fold keys past this character into prefixes, e.g. /."
    ),
) -> None:
    """List the objects of a bucket (every page), with folded prefixes shown as PRE lines.

    Example: atonix object ls photos --prefix 2026/ --delimiter /
    """
    cli = current()
    bucket, _, inline = location.partition("/")
    found, prefixes = objects.list_objects(
        cli, bucket, prefix=(prefix if prefix is not None else inline), delimiter=delimiter
    )
    rows: list[dict[str, Any]] = [
        {"object_key": p, "size_bytes": None, "last_modified": "PRE"} for p in prefixes
    ]
    if cli.output_format() in ("table", "text") and not cli.options.query:
        cli.render([*rows, *found], columns=COLUMNS)
    else:
        cli.render({"objects": found, "common_prefixes": prefixes})


@app.command("rm")
def rm(
    bucket: str = Bucket,
    keys: list[str] = typer.Argument(..., metavar="KEY...", help="One or more object keys."),
    version_id: str | None = typer.Option(
        None, *flag("version_id"), help="Delete this version for good (one key only)."
    ),
) -> None:
    """Delete objects; on a versioned bucket this adds a delete marker unless a version is given.

    Example: atonix object rm photos 2026/cat.jpg
    """
    cli = current()
    if version_id and len(keys) != 1:
        raise typer.BadParameter("with --version-id give exactly one key", param_hint="KEY")
    for key in keys:
        response = cli.client.transfer(
            "DELETE", transfer.data_path(bucket, key), params={"version_id": version_id}
        )
        marker = response.headers.get("x-atonix-delete-marker") == "true"
        response.close()
        if version_id:
            cli.info(f"Deleted version {version_id} of {key}")
        elif marker:
            cli.info(f"Deleted {key} (a delete marker; earlier versions are kept)")
        else:
            cli.info(f"Deleted {key}")


@app.command("versions")
def versions(
    bucket: str = Bucket,
    key: str | None = typer.Argument(None, metavar="[KEY]", help="One key (default: all)."),
) -> None:
    """List the versions (and delete markers) of a key, or of every key, newest first.

    Example: atonix object versions photos 2026/cat.jpg
    """
    cli = current()
    path = BUCKETS.item(objects.bucket_id(cli, bucket), "versions")
    found = objects.list_pages(cli, path, key=key)
    cli.render(found, columns=VERSION_COLUMNS)


# --- copy and sync --------------------------------------------------------------------------


@app.command("cp")
def cp(
    source: str = typer.Argument(..., metavar="SOURCE", help="FILE, - or BUCKET/KEY."),
    dest: str = typer.Argument(
        ..., metavar="DEST", help="FILE, - or BUCKET/KEY (a trailing / keeps the name)."
    ),
    content_type: str | None = typer.Option(None, *flag("content_type")),
    checksum: bool = Checksum,
) -> None:
    """Copy a file to an object, an object to a file, or an object to another object.

    Example: atonix object cp ./cat.jpg photos/2026/  (a path with ./ or / is local)
    """
    cli = current()
    src, dst = objects.location(source), objects.location(dest)
    if src is None and dst is None:
        raise CliError(
            "one side must be an object: BUCKET/KEY or atonix://BUCKET/KEY", ExitCode.USAGE
        )
    if dst is not None:
        bucket, key = dst
        if not key or key.endswith("/"):
            name = (src[1] if src else source).rstrip("/").rsplit("/", 1)[-1]
            if not name or name == "-":
                raise CliError(f"name the object to write: {dest}KEY", ExitCode.USAGE)
            key += name
        dst = (bucket, key)
    if src is None and dst is not None:
        stored = objects.put(
            cli, dst[0], dst[1], source, content_type=content_type, checksum=checksum
        )
        cli.render(stored)
        return
    assert src is not None
    if dst is None:
        target = dest
        if dest != "-" and (dest.endswith("/") or Path(dest).is_dir()):
            target = str(Path(dest) / src[1].rstrip("/").rsplit("/", 1)[-1])
        written = objects.get(cli, src[0], src[1], target, checksum=checksum)
        if target != "-":
            cli.info(f"Wrote {written} bytes to {target}")
        return
    cli.render(objects.copy(cli, src, dst, content_type=content_type, checksum=checksum))


@app.command("sync")
def sync(
    source: str = typer.Argument(..., metavar="SOURCE", help="DIR or BUCKET[/PREFIX]."),
    dest: str = typer.Argument(..., metavar="DEST", help="BUCKET[/PREFIX] or DIR."),
    delete: bool = typer.Option(
        False, "--delete", help="Also remove what the source no longer has."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be done."),
    checksum: bool = Checksum,
) -> None:
    """Make a bucket prefix match a directory, or a directory match a prefix.

    Only files whose size or checksum differ move; --delete also removes what the source no
    longer has, --dry-run prints the plan alone.

    Example: atonix object sync ./site photos/www --delete
    """
    cli = current()
    src, dst = objects.location(source), objects.location(dest)
    if (src is None) == (dst is None):
        raise CliError("sync a directory with BUCKET[/PREFIX], one each way", ExitCode.USAGE)
    if dst is not None:
        plan, compared = objects.plan_upload(cli, Path(source), *dst, delete=delete)
    else:
        assert src is not None
        plan, compared = objects.plan_download(cli, *src, Path(dest), delete=delete)
    if not dry_run:
        for step in plan:
            objects.apply(cli, step, checksum=checksum)
    done = "would be made" if dry_run else "made"
    cli.info(f"{compared} compared, {len(plan)} change(s) {done}")
    cli.render(plan, columns=PLAN_COLUMNS)


# --- sharing and classes --------------------------------------------------------------------


@app.command("presign")
def presign(
    bucket: str = Bucket,
    key: str = Key,
    expires: str = typer.Option(
        "1h", "--expires", help="How long the URL works: 90s, 15m, 1h, 7d (at most 7d)."
    ),
    method: str = typer.Option("GET", "--method", help="GET (download) or PUT (upload)."),
) -> None:
    """Print a URL that anyone can use for one GET (or PUT) of this key until it expires.

    Example: atonix object presign photos 2026/cat.jpg --expires 1h
    """
    cli = current()
    method = method.upper()
    if method not in ("GET", "PUT"):
        raise typer.BadParameter("GET or PUT", param_hint="--method")
    seconds = _duration(expires)
    answer = cli.client.post(
        BUCKETS.item(objects.bucket_id(cli, bucket), "presign"),
        {"key": key, "method": method, "expires_in": seconds},
    )
    # The endpoint this CLI reached, as the server may not know its public name; embedded,
    # the path, which `atonix engine serve` on the same data directory answers.
    endpoint = cli.settings.endpoint
    url = f"{endpoint.rstrip('/')}{answer['path']}" if endpoint else answer["path"]
    if cli.output_format() in ("table", "text") and not cli.options.query:
        typer.echo(url)
    else:
        cli.render({**answer, "url": url})


def _duration(text: str) -> int:
    found = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not found:
        raise typer.BadParameter("a number with s, m, h or d, e.g. 1h", param_hint="--expires")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]
    seconds = int(found.group(1)) * unit
    if not 1 <= seconds <= 7 * 86400:
        raise typer.BadParameter("from 1 second to 7 days", param_hint="--expires")
    return seconds


def _act(
    cli: Application, bucket: str, key: str, version_id: str | None, action: str, **body: Any
) -> Any:
    object_id = objects.object_id(cli, bucket, key, version_id)
    return cli.client.post(OBJECTS.item(object_id, action), body)


@app.command("make-public")
def make_public(bucket: str = Bucket, key: str = Key, version_id: str | None = VersionId) -> None:
    """Let anyone read this object through the server, with no credentials.

    Example: atonix object make-public photos 2026/cat.jpg
    """
    cli = current()
    cli.render(_act(cli, bucket, key, version_id, "make_public"))


@app.command("make-private")
def make_private(bucket: str = Bucket, key: str = Key, version_id: str | None = VersionId) -> None:
    """Make a public object readable by its owner only again.

    Example: atonix object make-private photos 2026/cat.jpg
    """
    cli = current()
    cli.render(_act(cli, bucket, key, version_id, "make_private"))


@app.command("set-storage-class")
def set_storage_class(
    bucket: str = Bucket,
    key: str = Key,
    storage_class: str = typer.Argument(
        ..., metavar="CLASS", help=f"One of {', '.join(STORAGE_CLASSES)}."
    ),
    version_id: str | None = VersionId,
) -> None:
    """Move an object to another storage class (its price per GB-month changes).

    Example: atonix object set-storage-class photos backups/big.tar glacier
    """
    cli = current()
    if storage_class not in STORAGE_CLASSES:
        raise typer.BadParameter(f"must be one of {', '.join(STORAGE_CLASSES)}", param_hint="CLASS")
    cli.render(
        _act(cli, bucket, key, version_id, "change_storage_class", storage_class=storage_class)
    )
