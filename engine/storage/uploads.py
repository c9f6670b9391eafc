"""The data route's PUT (SPEC A1): object bytes in, streamed into a blob, never held whole.

`PUT buckets/<bucket>/objects/<key>` streams the body into a blob while hashing it (MD5, the
ETag, and SHA-256), checks the checksums the client sent (as headers, or in-process after the
body), makes the blob durable, and only then commits the row with the bucket's totals, its
limit and the audit record in one transaction (`commit_upload`, which access logs use too).

Reads and deletes, and what they share with a put (headers, access logs, the sweep), are
`engine.storage.data`'s; who may write is `engine.storage.access`'s to say.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import select

from engine.api.http import Request, Response
from engine.context import Ctx
from engine.errors import ChecksumMismatch, QuotaExceeded, TooLarge, ValidationFailed, field_error
from engine.storage import access, blobs, buckets, data
from engine.storage import s3_objects as objects
from engine.storage.buckets import GIB, Bucket
from engine.storage.data import META_PREFIX
from engine.storage.s3_objects import NULL_VERSION, S3Object

MAX_OBJECT_BYTES = 5 * GIB  # SPEC B5: 5 GB per object
BUCKET_LIMIT_BYTES = 1000 * GIB  # SPEC B5: 1000 GB per bucket
SMALL_BODY = 256 * 1024  # a body this small is read whole, then stored in one transaction


# --- metadata and encryption -----------------------------------------------------------------


def _user_metadata(request: Request) -> dict[str, str]:
    found = {}
    for name, value in request.headers.items():
        if name.startswith(META_PREFIX) and len(name) > len(META_PREFIX):
            found[name[len(META_PREFIX) :]] = value
    if any("\x00" in k or "\x00" in v for k, v in found.items()):
        raise field_error("metadata", "must not contain NUL characters")
    if sum(len(k) + len(v) for k, v in found.items()) > 2048:
        raise field_error("metadata", "user metadata must total at most 2 KB (as S3's)")
    return found


def new_data_key(ctx: Ctx, bucket: Bucket) -> tuple[str, bytes, bytes] | None:
    if not bucket.encryption_enabled or not bucket.kms_key_id or data.sealing() is None:
        return None
    from engine.storage import data_keys

    data_key, wrapped = data_keys.new_data_key(ctx, key_id=bucket.kms_key_id)
    return bucket.kms_key_id, data_key, wrapped


# --- PUT -------------------------------------------------------------------------------------


class Upload:
    """The body on its way into a blob: hashed, counted, bounded, sealed if the bucket says."""

    def __init__(self, writer: Any, sealed: tuple[str, bytes, bytes] | None) -> None:
        self.writer = writer
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.sealed = sealed
        self._sealer: Any = None
        if sealed is not None:
            # Sealed chunks go through the writer too, which sends them on to the disk.
            self._sealer = data.sealing().SealingWriter(writer, sealed[1])

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > MAX_OBJECT_BYTES:
            raise _too_large()
        # MD5 on a thread of its own while SHA-256 and the write go on here (hashlib lets go of
        # the GIL over large buffers): one core no longer runs both digests back to back.
        md5 = _hasher().submit(self.md5.update, chunk) if len(chunk) >= PARALLEL_HASH else None
        if md5 is None:
            self.md5.update(chunk)
        try:
            self.sha256.update(chunk)
            if self._sealer is not None:
                self._sealer.write(chunk)
            else:
                self.writer.write(chunk)
        finally:
            if md5 is not None:
                md5.result()

    def finish(self) -> None:
        try:
            if self._sealer is not None:
                self._sealer.close()
            self.writer.finish()
        except OSError as error:
            raise blobs.storage_error(error) from None


PARALLEL_HASH = 64 * 1024  # a chunk at least this large has its MD5 taken on another thread
_HASHERS: dict[int, ThreadPoolExecutor] = {}


def _hasher() -> ThreadPoolExecutor:
    """This process's MD5 thread (made again in a forked worker, which inherits no threads)."""
    pid = os.getpid()
    pool = _HASHERS.get(pid)
    if pool is None:
        pool = _HASHERS.setdefault(pid, ThreadPoolExecutor(4, thread_name_prefix="atonix-md5"))
    return pool


def _too_large() -> TooLarge:
    return TooLarge(
        f"an object may hold at most {MAX_OBJECT_BYTES} bytes (5 GB); nothing was stored",
        details={"limit": MAX_OBJECT_BYTES},
    )


def _chunks(request: Request, declared: int | None) -> Iterator[bytes]:
    """The body in pieces, as the client sends it; 400 if it ends before its declared length."""
    read = request.stream.read
    if declared is None:
        while True:
            chunk = read(blobs.CHUNK)
            if not chunk:
                return
            yield chunk
    left = declared
    while left > 0:
        chunk = read(min(blobs.CHUNK, left))
        if not chunk:
            raise ValidationFailed(
                f"the upload ended after {declared - left} of its {declared} bytes; "
                "nothing was stored",
                details={"received": declared - left, "declared": declared},
            )
        left -= len(chunk)
        yield chunk


def _check_checksums(request: Request, upload: Upload) -> None:
    sent = request.headers.get("x-atonix-checksum-sha256")
    if sent is None:
        sent = _trailers(request).get("x-atonix-checksum-sha256")
    if sent is not None and sent.strip().lower() != upload.sha256.hexdigest():
        raise ChecksumMismatch(
            "the SHA-256 of the bytes received does not match x-atonix-checksum-sha256; "
            "nothing was stored",
            details={"expected": sent.strip().lower(), "received": upload.sha256.hexdigest()},
        )
    md5 = request.headers.get("content-md5")
    if md5 is not None:
        try:
            expected = base64.b64decode(md5.strip(), validate=True).hex()
        except (binascii.Error, ValueError):
            raise field_error("content-md5", "must be the base64 of an MD5 digest") from None
        if expected != upload.md5.hexdigest():
            raise ChecksumMismatch(
                "the MD5 of the bytes received does not match Content-MD5; nothing was stored",
                details={"expected": expected, "received": upload.md5.hexdigest()},
            )


def _trailers(request: Request) -> dict[str, str]:
    """Headers sent after the body, as HTTP/1.1 trailers: the embedded transport's input has
    `trailers()` (the CLI hashes a large file while it is read instead of reading it twice)."""
    trailers = getattr(request.stream, "trailers", None)
    if not callable(trailers):
        return {}
    try:
        return {name.lower(): value for name, value in trailers().items()}
    except OSError as error:
        raise ValidationFailed(
            f"the client could not finish the checksum it sends after the body "
            f"({error.strerror or error}); nothing was stored"
        ) from None


def _over_limit(bucket: Bucket, adding: int) -> QuotaExceeded:
    return QuotaExceeded(
        f"bucket {bucket.bucket_name} would pass its {BUCKET_LIMIT_BYTES / GIB:g} GB limit; "
        "nothing was stored",
        details={
            "resource_type": "bucket_bytes",
            "limit": BUCKET_LIMIT_BYTES,
            "used": bucket.total_size_bytes,
            "requested": adding,
        },
    )


def put_object(request: Request) -> Response:
    """Store the body as the object `key` (a new version when the bucket keeps versions)."""
    assert request.unit is not None
    key = access.object_key(request)
    declared = request.content_length
    if declared is not None and declared > MAX_OBJECT_BYTES:
        raise _too_large()
    storage_class = request.headers.get("x-atonix-storage-class", "standard")
    if storage_class not in objects.STORAGE_CLASSES:
        raise field_error("x-atonix-storage-class", "Invalid storage_class")
    content_type = (request.headers.get("content-type") or "application/octet-stream")[:255]
    if "\x00" in content_type:
        raise field_error("content-type", "must not contain NUL characters")
    described = (content_type, storage_class, _user_metadata(request))
    if declared is not None and declared <= SMALL_BODY:
        # Read whole first: the bucket, the data key, the blob and the row then take one
        # transaction (a small put costs one write, one fsync).
        body = b"".join(_chunks(request, declared))
        with request.unit(write=True) as ctx:
            bucket = access.writable_bucket(ctx, request, key, "PUT", lock=True)
            # The data key before the temporary file: a put refused for its key (disabled)
            # leaves nothing on disk.
            sealed = new_data_key(ctx, bucket)
            store, _ = blobs.store(ctx.db)
            writer = store.writer(bucket.bucket_id)
            try:
                upload = _received(request, Upload(writer, sealed), (body,))
                obj = request.subject = commit_upload(ctx, bucket, key, upload, *described)
                data.log(ctx, bucket, obj, "PUT", 200, 0)
            except BaseException:
                writer.abort()
                raise
        writer.done()
        data.swept(ctx.db)
        return _stored(obj)
    # A large body is checked against the bucket before a byte of it is read.
    with request.unit(write=False) as ctx:
        bucket = access.writable_bucket(ctx, request, key, "PUT")
        buckets.require_active(bucket)
        if declared is not None and bucket.total_size_bytes + declared > BUCKET_LIMIT_BYTES:
            current = None if bucket.versioning_enabled else objects.latest(ctx, bucket, key)
            freed = current.size_bytes if current is not None else 0
            if bucket.total_size_bytes - freed + declared > BUCKET_LIMIT_BYTES:
                raise _over_limit(bucket, declared)
    data.swept(ctx.db)
    store, _ = blobs.store(ctx.db)
    sealed = None
    if bucket.encryption_enabled and bucket.kms_key_id:
        with request.unit(write=True, audit=False) as ctx:
            sealed = new_data_key(ctx, bucket)
    writer = store.writer(bucket.bucket_id)
    try:
        upload = _received(request, Upload(writer, sealed), _chunks(request, declared))
        with request.unit(write=True) as ctx:
            locked = access.for_write(ctx, bucket)
            obj = request.subject = commit_upload(ctx, locked, key, upload, *described)
            data.log(ctx, locked, obj, "PUT", 200, 0)
    except BaseException:
        writer.abort()
        raise
    writer.done()
    return _stored(obj)


def _received(request: Request, upload: Upload, chunks: Any) -> Upload:
    """The body written, checked against the checksums the client sent, and made durable."""
    try:
        for chunk in chunks:
            upload.write(chunk)
    except OSError as error:
        raise blobs.storage_error(error) from None
    _check_checksums(request, upload)
    upload.finish()
    return upload


def commit_upload(
    ctx: Ctx,
    bucket: Bucket,
    key: str,
    upload: Upload,
    content_type: str,
    storage_class: str,
    metadata: dict[str, str],
) -> Any:
    """The row of a stored blob, the bucket's totals and limit, in the caller's transaction
    (`bucket` locked by it). Statements built once and run on the connection, no ORM unit of
    work: a small put is mostly this. The row as written, with an object's attributes."""
    conn = ctx.conn
    size = upload.size
    replaced = None
    if not bucket.versioning_enabled:
        replaced = conn.execute(_REPLACED, {"r_bucket": bucket.bucket_id, "r_key": key}).first()
    freed = replaced.size_bytes if replaced is not None and not replaced.is_delete_marker else 0
    if bucket.total_size_bytes - freed + size > BUCKET_LIMIT_BYTES:
        raise _over_limit(bucket, size)
    sealed = upload.sealed
    fields: dict[str, Any] = {
        "size_bytes": size,
        "content_type": content_type,
        "etag": upload.md5.hexdigest(),
        "sha256": upload.sha256.hexdigest(),
        "last_modified": ctx.now,
        "updated_at": ctx.now,
        "storage_class": storage_class,
        "is_public": False,
        "acl": "private",
        "blob": upload.writer.blob,
        "key_id": sealed[0] if sealed else None,
        "wrapped_key": base64.b64encode(sealed[2]).decode() if sealed else None,
        "meta": metadata,
        "tags": {},
        "is_latest": True,
        "listed": True,
        "is_delete_marker": False,
    }
    row: dict[str, Any] = {
        "bucket": bucket.bucket_id,
        "bucket_name": bucket.bucket_name,
        "object_key": key,
        "name": "",
        "description": "",
        "owner": bucket.owner,
        "region": bucket.region,
        **fields,
    }
    added = 0 if replaced is not None and not replaced.is_delete_marker else 1
    if replaced is not None:
        objects.discard(ctx, replaced.blob)
        conn.execute(_REPLACE, {**fields, "r_id": replaced.id})
        row.update(
            object_id=replaced.object_id, version_id=NULL_VERSION, created_at=replaced.created_at
        )
    else:
        if bucket.versioning_enabled:
            objects.demote_latest(ctx, bucket, key)
        row.update(
            object_id=objects.S3_OBJECTS.new_id(),
            version_id=secrets.token_hex(12) if bucket.versioning_enabled else NULL_VERSION,
            created_at=ctx.now,
        )
        conn.execute(_INSERT, row)
        objects.counted(ctx, bucket, 1)
    totals = {
        "total_objects": bucket.total_objects + added,
        "total_size_bytes": bucket.total_size_bytes + size - freed,
        "updated_at": ctx.now,
    }
    # Added to the row's own figures (another writer may have moved them since `bucket` was
    # read, when the caller did not lock it); the loaded bucket then in step with its row,
    # without a second UPDATE when the session flushes.
    conn.execute(
        _TOTALS, {"t_id": bucket.id, "t_objects": added, "t_bytes": size - freed, "t_now": ctx.now}
    )
    for name, value in totals.items():
        set_committed_value(bucket, name, value)
    ctx.audit_details.update(
        bucket=bucket.bucket_id,
        object_key=key,
        version_id=row["version_id"],
        size_bytes=size,
        etag=row["etag"],
    )
    return SimpleNamespace(**row)


# The statements of `commit_upload`, built once (building one costs more than running it).
_ROWS = S3Object.__table__  # type: ignore[attr-defined]
_REPLACED = (
    select(_ROWS.c.id, _ROWS.c.object_id, _ROWS.c.blob, _ROWS.c.size_bytes)
    .add_columns(_ROWS.c.is_delete_marker, _ROWS.c.created_at)
    .where(
        _ROWS.c.bucket == bindparam("r_bucket"),
        _ROWS.c.object_key == bindparam("r_key"),
        _ROWS.c.version_id == NULL_VERSION,
    )
    .with_for_update()
)
_REPLACE = update(_ROWS).where(_ROWS.c.id == bindparam("r_id"))  # SET: the columns given
_INSERT = _ROWS.insert()
_TOTALS_TABLE = Bucket.__table__  # type: ignore[attr-defined]
_TOTALS = (
    update(_TOTALS_TABLE)
    .where(_TOTALS_TABLE.c.id == bindparam("t_id"))
    .values(
        total_objects=_TOTALS_TABLE.c.total_objects + bindparam("t_objects"),
        total_size_bytes=_TOTALS_TABLE.c.total_size_bytes + bindparam("t_bytes"),
        updated_at=bindparam("t_now"),
    )
)


def _stored(obj: Any) -> Response:
    return Response(200, objects.public(obj), headers=data.object_headers(obj))
