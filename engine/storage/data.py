"""The data route (SPEC A1): object bytes out, streamed, never held whole, and deletes.

`GET` streams the blob back (one `Range`, `If-None-Match`); `HEAD` is the same without a body;
`DELETE` adds a delete marker when the bucket keeps versions, or removes a version for good.
`PUT` is `engine.storage.uploads`'s; what every method shares is here: an object's headers,
access-log lines, the sweep of leftovers.

Who may read or write is `engine.storage.access`'s to say.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from engine.api.http import Request, Response, Stream
from engine.context import Ctx
from engine.errors import NotFound, RangeNotSatisfiable, Unauthenticated
from engine.storage import access, blobs
from engine.storage import s3_objects as objects
from engine.storage.buckets import Bucket
from engine.storage.s3_objects import NULL_VERSION, S3Object

META_PREFIX = "x-atonix-meta-"
PUBLIC_ACLS = ("public-read", "public-read-write")


# --- headers ---------------------------------------------------------------------------------


def object_headers(obj: Any) -> list[tuple[str, str]]:
    headers = [
        ("ETag", f'"{obj.etag}"'),
        ("Last-Modified", _http_date(obj.last_modified)),
        ("Accept-Ranges", "bytes"),
        ("x-atonix-checksum-sha256", obj.sha256),
        ("x-atonix-storage-class", obj.storage_class),
        ("x-atonix-object-id", obj.object_id),
    ]
    if obj.version_id != NULL_VERSION:
        headers.append(("x-atonix-version-id", obj.version_id))
    for name, value in (obj.meta or {}).items():
        headers.append((f"{META_PREFIX}{name}", str(value)))
    return headers


def _http_date(when: datetime) -> str:
    from email.utils import format_datetime

    return format_datetime(when.astimezone(UTC), usegmt=True)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """One `Range` as [start, stop); None for none (or a form this route does not serve, such
    as several ranges: the whole object then, as HTTP allows); 416 if it cannot be met."""
    if not header:
        return None
    found = _RANGE.match(header.strip())
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.groups()
    if first == "":
        length = int(last)
        if length == 0:
            raise _unsatisfiable(size)
        return max(size - length, 0), size
    start = int(first)
    stop = min(int(last) + 1, size) if last else size
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, stop


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    error = RangeNotSatisfiable(
        f"the range is outside the object's {size} bytes", details={"size": size}
    )
    error.headers = [("Content-Range", f"bytes */{size}")]
    return error


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in tags or etag in tags


# --- encryption ------------------------------------------------------------------------------


def sealing() -> Any:
    try:
        from engine.storage import sealing
    except ImportError:  # pragma: no cover - the key service is part of this build
        return None
    return sealing


# --- GET and HEAD ----------------------------------------------------------------------------


def get_object(request: Request) -> Response:
    """The object's bytes (or a `Range` of them), streamed; HEAD: its headers only."""
    response, bucket, obj = _get(request)
    swept(request.ctx.db)
    if bucket.logging_enabled:
        sent = response.body.length if isinstance(response.body, Stream) else 0
        with _unit(request, write=True, audit=False) as ctx:
            log(ctx, bucket, obj, "HEAD" if request.head else "GET", response.status, sent)
    return response


def _get(request: Request) -> tuple[Response, Bucket, S3Object]:
    assert request.unit is not None
    key = access.object_key(request)
    version_id = request.arg("version_id")
    with request.unit(write=False) as ctx:
        store, _ = blobs.store(ctx.db)
        bucket, public_only = access.readable_bucket(ctx, request, key)
        if public_only:
            # Of another user's bucket, only what is public exists for the caller.
            try:
                obj = _find(ctx, bucket, key, version_id)
            except NotFound:
                obj = None
            if obj is None or not (obj.is_public or bucket.acl in PUBLIC_ACLS):
                if ctx.principal.username:
                    raise NotFound(f"bucket {request.params['id']} not found")
                raise Unauthenticated("authentication required: send an API key or a bearer token")
        else:
            obj = _find(ctx, bucket, key, version_id)
        headers = object_headers(obj)
        if _etag_matches(request.headers.get("if-none-match"), obj.etag):
            return Response(304, None, headers=headers), bucket, obj
        wanted = _range(request.headers.get("range"), obj.size_bytes)
        start, stop = wanted or (0, obj.size_bytes)
        status = 206 if wanted is not None else 200
        if wanted is not None:
            headers.append(("Content-Range", f"bytes {start}-{stop - 1}/{obj.size_bytes}"))
        if request.head:
            empty = Stream(iter(()), stop - start, obj.content_type)
            return Response(status, empty, headers), bucket, obj
        try:
            handle = store.open(obj.blob or "")
        except (FileNotFoundError, ValueError):
            raise NotFound(
                f"object {key!r} of bucket {bucket.bucket_name} has no stored bytes",
                details={"key": key},
            ) from None
        if obj.key_id is None:
            chunks = blobs.read_file(handle, start, stop)
            stream = Stream(chunks, stop - start, obj.content_type, file=handle, start=start)
            return Response(status, stream, headers), bucket, obj
        try:
            from engine.storage import data_keys

            data_key = data_keys.unwrap_data_key(
                ctx, key_id=obj.key_id, wrapped=base64.b64decode(obj.wrapped_key or "")
            )
            plain = sealing().read_range(handle, data_key, start, stop)
        except BaseException:
            handle.close()
            raise
    stream = Stream(plain, stop - start, obj.content_type, close=handle.close)
    return Response(status, stream, headers), bucket, obj


def _unit(request: Request, **kwargs: Any) -> Any:
    assert request.unit is not None
    return request.unit(**kwargs)


def log(ctx: Ctx, bucket: Bucket, obj: Any, operation: str, status: int, sent: int) -> None:
    """An access-log line when the bucket logs (engine.storage.access_logs)."""
    if bucket.logging_enabled:
        from engine.storage import access_logs

        version = None if obj.version_id == NULL_VERSION else obj.version_id
        text = access_logs.line(
            ctx,
            bucket,
            operation=operation,
            key=obj.object_key,
            status=status,
            sent=sent,
            size=obj.size_bytes,
            version_id=version,
        )
        access_logs.record(ctx, bucket, text)


def _find(ctx: Ctx, bucket: Bucket, key: str, version_id: str | None) -> S3Object:
    if version_id is not None:
        obj = objects.version(ctx, bucket, key, version_id or NULL_VERSION)
    else:
        found = objects.latest(ctx, bucket, key)
        if found is None or found.is_delete_marker:
            raise NotFound(
                f"no object {key!r} in bucket {bucket.bucket_name}",
                details={"key": key, "delete_marker": found is not None},
            )
        obj = found
    if obj.is_delete_marker:
        raise NotFound(
            f"version {obj.version_id} of {key!r} is a delete marker",
            details={"key": key, "delete_marker": True},
        )
    return obj


# --- DELETE ----------------------------------------------------------------------------------


def delete_object(request: Request) -> Response:
    """Without `version_id`: the object goes (a delete marker when the bucket keeps versions);
    with it, that version goes for good."""
    assert request.unit is not None
    key = access.object_key(request)
    version_id = request.arg("version_id")
    with request.unit(write=True) as ctx:
        bucket = access.writable_bucket(ctx, request, key, "DELETE", lock=True)
        headers: list[tuple[str, str]] = []
        if version_id is not None:
            obj = objects.version(ctx, bucket, key, version_id or NULL_VERSION)
            request.subject = obj
            objects.remove_version(ctx, bucket, obj)
            if obj.is_delete_marker:
                headers.append(("x-atonix-delete-marker", "true"))
        else:
            current = objects.latest(ctx, bucket, key)
            if current is None or current.is_delete_marker:
                raise NotFound(
                    f"no object {key!r} in bucket {bucket.bucket_name}", details={"key": key}
                )
            if bucket.versioning_enabled:
                objects.demote_latest(ctx, bucket, key)
                marker = S3Object(
                    object_id=objects.S3_OBJECTS.new_id(),
                    bucket=bucket.bucket_id,
                    bucket_name=bucket.bucket_name,
                    object_key=key,
                    owner=bucket.owner,
                    region=bucket.region,
                    version_id=secrets.token_hex(12),
                    is_delete_marker=True,
                    is_latest=True,
                    listed=False,
                    etag="",
                    last_modified=ctx.now,
                    created_at=ctx.now,
                    updated_at=ctx.now,
                    tags={},
                    meta={},
                )
                ctx.session.add(marker)
                objects.counted(ctx, bucket, 1)
                ctx.session.flush()
                request.subject = marker
                headers += [("x-atonix-delete-marker", "true")]
                headers += [("x-atonix-version-id", marker.version_id)]
            else:
                request.subject = current
                objects.remove_version(ctx, bucket, current)
        bucket.updated_at = ctx.now
        ctx.session.add(bucket)
        ctx.audit_details.update(bucket=bucket.bucket_id, object_key=key, version_id=version_id)
        log(ctx, bucket, request.subject, "DELETE", 204, 0)
    return Response(204, None, headers=headers)


# --- leftovers -------------------------------------------------------------------------------


def swept(db: Any) -> None:
    """Sweep the blob store of leftovers on its first use in this process, and now and then
    (outside any unit of work: the sweep reads and writes in transactions of its own)."""
    store, first = blobs.store(db)
    if first or store.sweep_due():
        sweep(db)


def sweep(db: Any) -> int:
    """Remove what interrupted uploads and unfinished deletions left on disk."""
    store, _ = blobs.store(db)

    def known(names: list[str]) -> set[str]:
        with db.engine.connect() as conn:
            table = S3Object.__table__  # type: ignore[attr-defined]
            found = conn.execute(select(table.c.blob).where(table.c.blob.in_(names))).scalars()
            named = set(found)
            conn.rollback()
        return named

    removed = store.sweep(known)
    objects.collect_garbage(db)
    return removed
