"""`atonix object`: put, get, list, version, copy, sync and share the objects of a bucket."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from atonix_cli import transfer
from atonix_cli.client import PAGE_SIZE
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
Yes = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


# --- shared ---------------------------------------------------------------------------------


def _bars(cli: Application) -> bool:
    """Progress bars on a terminal only: scripts and pipes get nothing but the data."""
    return sys.stderr.isatty() and not cli.options.quiet


def _bucket_id(cli: Application, ref: str) -> str:
    return BUCKETS.resolve(cli, ref)


def list_objects(
    cli: Application, bucket: str, *, prefix: str | None = None, delimiter: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every object under `prefix` (and the common prefixes a delimiter folds), fetched a page
    at a time by the cursor each page hands back, so no page costs more than the first."""
    prefixes: list[str] = []
    objects = list_pages(
        cli,
        BUCKETS.item(_bucket_id(cli, bucket), "objects"),
        prefixes,
        prefix=prefix or None,
        delimiter=delimiter or None,
    )
    return objects, prefixes


def list_pages(
    cli: Application, path: str, prefixes: list[str] | None = None, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a cursor listing, page after page; folded prefixes added to `prefixes`."""
    query: dict[str, Any] = {**params, "page_size": PAGE_SIZE}
    items: list[dict[str, Any]] = []
    while True:
        page = cli.client.get(path, **query)
        items.extend(page["results"])
        if prefixes is not None:
            prefixes.extend(page.get("common_prefixes") or [])
        following = _next_params(page)
        if following is None:
            return items
        query = following


def _next_params(page: dict[str, Any]) -> dict[str, Any] | None:
    """The next page's query: the `next` link's own, so whatever cursor it carries goes back."""
    link = page.get("next")
    if not link:
        return None
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))


def _object_id(cli: Application, bucket: str, key: str, version_id: str | None) -> str:
    """The s3-objects id of a key's latest version (or of the version given), from its HEAD."""
    response = cli.client.transfer(
        "HEAD", transfer.data_path(bucket, key), params={"version_id": version_id}
    )
    response.close()
    object_id = response.headers.get("x-atonix-object-id")
    if not object_id:
        raise CliError(f"the endpoint did not name the object {key!r}", ExitCode.UNEXPECTED)
    return object_id


def _put(
    cli: Application,
    bucket: str,
    key: str,
    source: str,
    *,
    content_type: str | None,
    metadata: dict[str, str],
    checksum: bool,
    storage_class: str | None = None,
) -> tuple[Any, dict[str, str]]:
    headers = {
        "Content-Type": content_type or transfer.guess_type(key if source == "-" else source)
    }
    headers.update(transfer.metadata_headers(metadata))
    if storage_class:
        headers["x-atonix-storage-class"] = storage_class
    with transfer.progress_bar(transfer.source_size(source), enabled=_bars(cli)) as bars:
        hashing = bars.step(f"checksum {key}") if bars and checksum else None
        with transfer.open_source(source, checksum=checksum, progress=hashing) as body:
            return transfer.upload(
                cli.client,
                transfer.data_path(bucket, key),
                body,
                headers=headers,
                progress=bars.step(f"put {key}") if bars else None,
            )


def _get(
    cli: Application,
    bucket: str,
    key: str,
    dest: str,
    *,
    version_id: str | None = None,
    byte_range: str | None = None,
    checksum: bool = True,
) -> tuple[int, dict[str, str]]:
    headers = {"Range": f"bytes={byte_range}"} if byte_range else {}
    response = cli.client.transfer(
        "GET",
        transfer.data_path(bucket, key),
        params={"version_id": version_id},
        headers=headers,
    )
    try:
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() else None
        with transfer.progress_bar(total, enabled=_bars(cli)) as bars:
            # A range is part of the object: the whole object's checksum cannot judge it.
            written = transfer.download(
                response,
                dest,
                verify=checksum and response.status == 200,
                progress=bars.step(f"get {key}") if bars else None,
            )
    finally:
        response.close()
    return written, response.headers


def _described(answer: Any, headers: dict[str, str], bucket: str, key: str) -> Any:
    if isinstance(answer, dict):
        return answer
    return transfer.described(headers, bucket=bucket, key=key)


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
    answer, headers = _put(
        cli,
        bucket,
        key,
        source,
        content_type=content_type,
        metadata=_pairs(meta, "--meta"),
        checksum=checksum,
        storage_class=storage_class,
    )
    cli.render(_described(answer, headers, bucket, key))


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
    written, _ = _get(
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
    objects, prefixes = list_objects(
        cli, bucket, prefix=(prefix if prefix is not None else inline), delimiter=delimiter
    )
    rows: list[dict[str, Any]] = [
        {"object_key": p, "size_bytes": None, "last_modified": "PRE"} for p in prefixes
    ]
    if cli.output_format() in ("table", "text") and not cli.options.query:
        cli.render([*rows, *objects], columns=COLUMNS)
    else:
        cli.render({"objects": objects, "common_prefixes": prefixes})


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
    found = list_pages(cli, BUCKETS.item(_bucket_id(cli, bucket), "versions"), key=key)
    cli.render(found, columns=VERSION_COLUMNS)


# --- copy and sync --------------------------------------------------------------------------


def _remote(arg: str) -> tuple[str, str] | None:
    """`BUCKET/KEY` (or `atonix://BUCKET/KEY`) as (bucket, key); None for a local path: one
    that starts with `.`, `/` or `~`, is `-`, or exists here."""
    if arg.startswith("atonix://"):
        bucket, _, key = arg[len("atonix://") :].partition("/")
        return bucket, key
    if arg == "-" or arg.startswith((".", "/", "~")) or os.path.exists(arg):
        return None
    bucket, _, key = arg.partition("/")
    return bucket, key


class _ChunkReader:
    """A GET's body as a file the next PUT reads from: an object copied with neither whole."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._pending += chunk
        if size < 0:
            size = len(self._pending)
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data


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
    src, dst = _remote(source), _remote(dest)
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
        answer, headers = _put(
            cli,
            dst[0],
            dst[1],
            source,
            content_type=content_type,
            metadata={},
            checksum=checksum,
        )
        cli.render(_described(answer, headers, *dst))
        return
    assert src is not None
    if dst is None:
        target = dest
        if dest != "-" and (dest.endswith("/") or Path(dest).is_dir()):
            target = str(Path(dest) / src[1].rstrip("/").rsplit("/", 1)[-1])
        written, _ = _get(cli, src[0], src[1], target, checksum=checksum)
        if target != "-":
            cli.info(f"Wrote {written} bytes to {target}")
        return
    response = cli.client.transfer("GET", transfer.data_path(*src))
    try:
        carried = {k: v for k, v in response.headers.items() if k.startswith(transfer.META_PREFIX)}
        carried["Content-Type"] = content_type or response.headers.get(
            "content-type", "application/octet-stream"
        )
        sha256 = response.headers.get(transfer.CHECKSUM_HEADER) if checksum else None
        length = int(response.headers.get("content-length", "0"))
        body = transfer.Source(_ChunkReader(response.chunks()), length, sha256)  # type: ignore[arg-type]
        answer, headers = transfer.upload(
            cli.client, transfer.data_path(*dst), body, headers=carried
        )
    finally:
        response.close()
    cli.render(_described(answer, headers, *dst))


def _local_files(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise CliError(f"{root} is not a directory", ExitCode.USAGE)
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[path.relative_to(root).as_posix()] = path
    return found


def _same(path: Path, remote: dict[str, Any]) -> bool:
    """Same size, and the same MD5 (the ETag) or SHA-256 when the listing gives one."""
    if path.stat().st_size != remote.get("size_bytes"):
        return False
    with path.open("rb") as handle:
        sha256 = remote.get("checksum_sha256")
        if sha256:
            return transfer.file_digest(handle, "sha256") == sha256
        etag = str(remote.get("etag") or "").strip('"')
        return bool(etag) and transfer.file_digest(handle, "md5") == etag


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
    """Make a bucket prefix match a directory (or a directory match a prefix): only files whose
    size or checksum differ move.

    Example: atonix object sync ./site photos/www --delete
    """
    cli = current()
    src, dst = _remote(source), _remote(dest)
    if (src is None) == (dst is None):
        raise CliError("sync a directory with BUCKET[/PREFIX], one each way", ExitCode.USAGE)
    remote = src or dst
    assert remote is not None
    bucket, prefix = remote[0], remote[1].strip("/")
    base = f"{prefix}/" if prefix else ""
    listed, _ = list_objects(cli, bucket, prefix=base or None)
    objects = {o["object_key"][len(base) :]: o for o in listed if o["object_key"] != base}
    local_root = Path(dest if src else source)
    plan: list[dict[str, Any]] = []
    if dst is not None:
        files = _local_files(local_root)
        for name, path in files.items():
            if name not in objects or not _same(path, objects[name]):
                plan.append(
                    {
                        "action": "upload",
                        "source": str(path),
                        "target": f"{bucket}/{base}{name}",
                        "size_bytes": path.stat().st_size,
                    }
                )
        if delete:
            for name in sorted(set(objects) - set(files)):
                plan.append(
                    {
                        "action": "delete",
                        "source": "",
                        "target": f"{bucket}/{base}{name}",
                        "remote": True,
                    }
                )
    else:
        local_root.mkdir(parents=True, exist_ok=True)
        files = _local_files(local_root)
        for name, obj in objects.items():
            if name.endswith("/"):
                continue  # a "folder" marker: no file to write
            parts = name.split("/")
            if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
                cli.warn(f"skipped {bucket}/{base}{name}: not a file name inside {local_root}")
                continue
            path = local_root / name
            if name not in files or not _same(path, obj):
                plan.append(
                    {
                        "action": "download",
                        "source": f"{bucket}/{base}{name}",
                        "target": str(path),
                        "size_bytes": obj.get("size_bytes"),
                    }
                )
        if delete:
            for name in sorted(set(files) - set(objects)):
                plan.append(
                    {"action": "delete", "source": "", "target": str(files[name]), "remote": False}
                )
    for step in plan:
        step.setdefault("remote", dst is not None)
        if not dry_run:
            _apply(cli, step, bucket, checksum=checksum)
    compared = len(files) if dst is not None else len(objects)
    done = "would be made" if dry_run else "made"
    cli.info(f"{compared} compared, {len(plan)} change(s) {done}")
    cli.render(plan, columns=PLAN_COLUMNS)


def _apply(cli: Application, step: dict[str, Any], bucket: str, *, checksum: bool) -> None:
    action, source, target = step["action"], step["source"], step["target"]
    if action == "upload":
        key = target[len(bucket) + 1 :]
        _put(cli, bucket, key, source, content_type=None, metadata={}, checksum=checksum)
    elif action == "download":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        _get(cli, bucket, source[len(bucket) + 1 :], target, checksum=checksum)
    elif step["remote"]:
        path = transfer.data_path(bucket, target[len(bucket) + 1 :])
        cli.client.transfer("DELETE", path).close()
    else:
        Path(target).unlink()


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
        BUCKETS.item(_bucket_id(cli, bucket), "presign"),
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
    object_id = _object_id(cli, bucket, key, version_id)
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
