"""What the object commands share: listings by cursor, put and get with progress, object
locations, and the plans of `sync`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from atonix_cli import transfer
from atonix_cli.client import PAGE_SIZE
from atonix_cli.context import Application
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.resources import Resource

BUCKETS = Resource("buckets")

# --- listings -------------------------------------------------------------------------------


def bucket_id(cli: Application, ref: str) -> str:
    return BUCKETS.resolve(cli, ref)


def list_objects(
    cli: Application, bucket: str, *, prefix: str | None = None, delimiter: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every object under `prefix` (and the common prefixes a delimiter folds), fetched a page
    at a time by the cursor each page hands back, so no page costs more than the first."""
    prefixes: list[str] = []
    found = list_pages(
        cli,
        BUCKETS.item(bucket_id(cli, bucket), "objects"),
        prefixes,
        prefix=prefix or None,
        delimiter=delimiter or None,
    )
    return found, prefixes


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


def object_id(cli: Application, bucket: str, key: str, version_id: str | None) -> str:
    """The s3-objects id of a key's latest version (or of the version given), from its HEAD."""
    response = cli.client.transfer(
        "HEAD", transfer.data_path(bucket, key), params={"version_id": version_id}
    )
    response.close()
    found = response.headers.get("x-atonix-object-id")
    if not found:
        raise CliError(f"the endpoint did not name the object {key!r}", ExitCode.UNEXPECTED)
    return found


# --- bytes ----------------------------------------------------------------------------------


def _bars(cli: Application) -> bool:
    """Progress bars on a terminal only: scripts and pipes get nothing but the data."""
    return sys.stderr.isatty() and not cli.options.quiet


def put(
    cli: Application,
    bucket: str,
    key: str,
    source: str,
    *,
    content_type: str | None = None,
    metadata: dict[str, str] | None = None,
    checksum: bool = True,
    storage_class: str | None = None,
) -> Any:
    """Upload a file (or `-`, stdin); the stored object as a record."""
    headers = {
        "Content-Type": content_type or transfer.guess_type(key if source == "-" else source)
    }
    headers.update(transfer.metadata_headers(metadata or {}))
    if storage_class:
        headers["x-atonix-storage-class"] = storage_class
    with transfer.progress_bar(transfer.source_size(source), enabled=_bars(cli)) as bars:
        hashing = bars.step(f"checksum {key}") if bars and checksum else None
        # The embedded engine takes the checksum after the body: a large file is hashed while
        # it is sent, not first.
        embedded = not cli.settings.is_remote
        with transfer.open_source(
            source, checksum=checksum, progress=hashing, alongside=embedded
        ) as body:
            answer, sent = transfer.upload(
                cli.client,
                transfer.data_path(bucket, key),
                body,
                headers=headers,
                progress=bars.step(f"put {key}") if bars else None,
            )
    return described(answer, sent, bucket, key)


def get(
    cli: Application,
    bucket: str,
    key: str,
    dest: str,
    *,
    version_id: str | None = None,
    byte_range: str | None = None,
    checksum: bool = True,
) -> int:
    """Download an object (or a range of it) to `dest` (`-` is stdout); the bytes written."""
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
            return transfer.download(
                response,
                dest,
                verify=checksum and response.status == 200,
                progress=bars.step(f"get {key}") if bars else None,
            )
    finally:
        response.close()


def copy(
    cli: Application,
    source: tuple[str, str],
    dest: tuple[str, str],
    *,
    content_type: str | None,
    checksum: bool,
) -> Any:
    """Object to object: the GET streamed into the PUT with the source's type, metadata and
    checksum, neither held whole."""
    response = cli.client.transfer("GET", transfer.data_path(*source))
    try:
        carried = {k: v for k, v in response.headers.items() if k.startswith(transfer.META_PREFIX)}
        carried["Content-Type"] = content_type or response.headers.get(
            "content-type", "application/octet-stream"
        )
        sha256 = response.headers.get(transfer.CHECKSUM_HEADER) if checksum else None
        length = int(response.headers.get("content-length", "0"))
        body = transfer.Source(_ChunkReader(response.chunks()), length, sha256)  # type: ignore[arg-type]
        answer, sent = transfer.upload(cli.client, transfer.data_path(*dest), body, headers=carried)
    finally:
        response.close()
    return described(answer, sent, *dest)


def described(answer: Any, headers: dict[str, str], bucket: str, key: str) -> Any:
    if isinstance(answer, dict):
        return answer
    return transfer.described(headers, bucket=bucket, key=key)


class _ChunkReader:
    """A GET's body as a file the next PUT reads from."""

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


# --- locations and sync ---------------------------------------------------------------------


def location(arg: str) -> tuple[str, str] | None:
    """`BUCKET/KEY` (or `atonix://BUCKET/KEY`) as (bucket, key); None for a local path: one
    that starts with `.`, `/` or `~`, is `-`, or exists here."""
    if arg.startswith("atonix://"):
        bucket, _, key = arg[len("atonix://") :].partition("/")
        return bucket, key
    if arg == "-" or arg.startswith((".", "/", "~")) or os.path.exists(arg):
        return None
    bucket, _, key = arg.partition("/")
    return bucket, key


def _local_files(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise CliError(f"{root} is not a directory", ExitCode.USAGE)
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found[path.relative_to(root).as_posix()] = path
    return found


def _same(path: Path, remote: dict[str, Any]) -> bool:
    """Same size, and the same SHA-256 the listing gives (or MD5 against the ETag)."""
    if path.stat().st_size != remote.get("size_bytes"):
        return False
    with path.open("rb") as handle:
        sha256 = remote.get("checksum_sha256")
        if sha256:
            return transfer.file_digest(handle, "sha256") == sha256
        etag = str(remote.get("etag") or "").strip('"')
        return bool(etag) and transfer.file_digest(handle, "md5") == etag


def _remote_side(
    cli: Application, bucket: str, prefix: str
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The prefix as a folder (`www/`) and its objects by their name under it."""
    prefix = prefix.strip("/")
    base = f"{prefix}/" if prefix else ""
    listed, _ = list_objects(cli, bucket, prefix=base or None)
    return base, {o["object_key"][len(base) :]: o for o in listed if o["object_key"] != base}


def plan_upload(
    cli: Application, root: Path, bucket: str, prefix: str, *, delete: bool
) -> tuple[list[dict[str, Any]], int]:
    """What makes BUCKET/PREFIX match the directory; and how many files were compared."""
    base, remote = _remote_side(cli, bucket, prefix)
    files = _local_files(root)
    plan: list[dict[str, Any]] = []
    for name, path in files.items():
        if name not in remote or not _same(path, remote[name]):
            plan.append(
                {
                    "action": "upload",
                    "source": str(path),
                    "target": f"{bucket}/{base}{name}",
                    "size_bytes": path.stat().st_size,
                    "bucket": bucket,
                    "key": f"{base}{name}",
                }
            )
    if delete:
        for name in sorted(set(remote) - set(files)):
            key = f"{base}{name}"
            plan.append(
                {"action": "delete", "source": "", "target": f"{bucket}/{key}"}
                | {"bucket": bucket, "key": key}
            )
    return plan, len(files)


def plan_download(
    cli: Application, bucket: str, prefix: str, root: Path, *, delete: bool
) -> tuple[list[dict[str, Any]], int]:
    """What makes the directory match BUCKET/PREFIX; and how many objects were compared. A key
    that is no file name inside the directory (`../x`, `a//b`) is skipped with a warning."""
    base, remote = _remote_side(cli, bucket, prefix)
    root.mkdir(parents=True, exist_ok=True)
    files = _local_files(root)
    plan: list[dict[str, Any]] = []
    for name, obj in remote.items():
        if name.endswith("/"):
            continue  # a "folder" marker: no file to write
        if name.startswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
            cli.warn(f"skipped {bucket}/{base}{name}: not a file name inside {root}")
            continue
        path = root / name
        if name not in files or not _same(path, obj):
            plan.append(
                {
                    "action": "download",
                    "source": f"{bucket}/{base}{name}",
                    "target": str(path),
                    "size_bytes": obj.get("size_bytes"),
                    "bucket": bucket,
                    "key": f"{base}{name}",
                }
            )
    if delete:
        for name in sorted(set(files) - set(remote)):
            plan.append({"action": "delete", "source": "", "target": str(files[name])})
    return plan, len(remote)


def apply(cli: Application, step: dict[str, Any], *, checksum: bool) -> None:
    """Carry out one step of a sync plan."""
    action = step["action"]
    if action == "upload":
        put(cli, step["bucket"], step["key"], step["source"], checksum=checksum)
    elif action == "download":
        Path(step["target"]).parent.mkdir(parents=True, exist_ok=True)
        get(cli, step["bucket"], step["key"], step["target"], checksum=checksum)
    elif "key" in step:
        cli.client.transfer("DELETE", transfer.data_path(step["bucket"], step["key"])).close()
    else:
        Path(step["target"]).unlink()
