"""Objects (`s3-objects`): one row per object version, listed by index seeks on the key.

A row holds the metadata of one version; its bytes are a blob (`engine.storage.blobs`) that
the data route (`engine.storage.uploads`) writes before the row commits. `listed` marks the rows
a listing shows, the latest version of each key unless it is a delete marker, so every page
of a listing (`engine.storage.listing`) is one seek on (bucket, listed, object_key) however
many keys the bucket holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import field_validator
from sqlalchemy import BigInteger, Index, String, UniqueConstraint, delete, event, update
from sqlmodel import Field, SQLModel, col, select

from engine.api.routes import SERVICES, Route
from engine.clock import utcnow
from engine.collection import Action, Collection
from engine.context import Ctx
from engine.errors import NotFound, ValidationFailed, field_error
from engine.resources import Body, CommonInput, Documented, ResourceBase, Tags, parse_bool
from engine.sqltypes import UTCDateTime
from engine.storage import buckets
from engine.storage.buckets import Acl, Bucket

STORAGE_CLASSES = ("standard", "standard-ia", "intelligent-tiering", "glacier", "deep-archive")
MAX_KEY_BYTES = 1024
NULL_VERSION = "null"  # the version of every object in a bucket without versioning (as S3's)

# Keys compare byte by byte on every database, so a prefix is a range of the index: PostgreSQL
# columns are collated "C" (a database's default collation may order by locale rules).
KeyType = String(MAX_KEY_BYTES).with_variant(String(MAX_KEY_BYTES, collation="C"), "postgresql")


class S3Object(ResourceBase, table=True):
    __tablename__ = "s3_objects"
    __table_args__ = (
        UniqueConstraint("bucket", "object_key", "version_id", name="ux_s3_objects_version"),
        Index("ix_s3_objects_listing", "bucket", "listed", "object_key"),
        Index("ix_s3_objects_versions", "bucket", "object_key", "id"),
        Index("ix_s3_objects_owner_created", "owner", "created_at"),
    )
    object_id: str = Field(unique=True, max_length=32)
    bucket: str = Field(max_length=32)  # the bucket's public id
    bucket_name: str = Field(max_length=63)
    object_key: str = Field(sa_type=KeyType)
    version_id: str = Field(default=NULL_VERSION, max_length=64)
    is_latest: bool = True
    is_delete_marker: bool = False
    listed: bool = True  # is_latest and not is_delete_marker: what a listing shows
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    content_type: str = Field(default="application/octet-stream", max_length=255)
    etag: str = Field(default="", max_length=64)  # hex MD5 of the bytes
    sha256: str = Field(default="", max_length=64)
    last_modified: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    storage_class: str = Field(default="standard", max_length=32)
    is_public: bool = False
    acl: str = Field(default="private", max_length=32)
    blob: str | None = Field(default=None, max_length=96)
    # Sealed at rest: the encryption key that wraps this version's data key, and the wrapped key.
    key_id: str | None = Field(default=None, max_length=64)
    wrapped_key: str | None = Field(default=None, max_length=512)


class BlobGarbage(SQLModel, table=True):
    """Blobs no row names any more, added in the transaction that dropped them; removed from
    disk once it commits (and by the next sweep if the process died first)."""

    __tablename__ = "blob_garbage"
    id: int | None = Field(default=None, primary_key=True)
    blob: str = Field(max_length=96)  # a blob, or "<bucket_id>/" for a whole bucket's


# The SPEC's own error for a class outside them ("Invalid storage_class") stays the validator's.
StorageClass = Annotated[str, Documented({"enum": list(STORAGE_CLASSES)})]


class ObjectUpdate(Body):
    storage_class: StorageClass | None = None
    is_public: bool | None = None
    acl: Acl | None = None
    metadata: dict[str, Any] | None = None
    tags: Tags | None = None

    _tags = field_validator("tags")(CommonInput._tags.__func__)  # type: ignore[attr-defined]

    @field_validator("storage_class")
    @classmethod
    def _class(cls, value: str | None) -> str | None:
        if value is not None and value not in STORAGE_CLASSES:
            raise ValueError("Invalid storage_class")
        return value


class StorageClassBody(Body):
    storage_class: StorageClass


def public(obj: S3Object) -> dict[str, Any]:
    return {
        "resource_id": obj.object_id,
        "object_id": obj.object_id,
        "bucket": obj.bucket,
        "bucket_name": obj.bucket_name,
        "object_key": obj.object_key,
        "name": obj.object_key,
        "owner": obj.owner,
        "region": obj.region,
        "version_id": None if obj.version_id == NULL_VERSION else obj.version_id,
        "is_latest": obj.is_latest,
        "is_delete_marker": obj.is_delete_marker,
        "size_bytes": obj.size_bytes,
        "size_mb": obj.size_bytes / (1024 * 1024),
        "content_type": obj.content_type,
        "etag": obj.etag,
        "checksum_sha256": obj.sha256,
        "last_modified": obj.last_modified,
        "storage_class": obj.storage_class,
        "is_public": obj.is_public,
        "acl": obj.acl,
        "encrypted": obj.key_id is not None,
        "kms_key_id": obj.key_id,
        "tags": obj.tags,
        "metadata": obj.meta,
        "created_at": obj.created_at,
        "updated_at": obj.updated_at,
    }


def summary(obj: Any) -> dict[str, Any]:
    """An object version in a page of the s3-objects collection: what `ls` shows."""
    return item(
        (obj.id, obj.object_id, obj.object_key, obj.version_id, obj.is_latest,
         obj.is_delete_marker, obj.size_bytes, obj.etag, obj.sha256, obj.last_modified,
         obj.storage_class, obj.content_type, obj.is_public)
    )  # fmt: skip


def item(row: Any) -> dict[str, Any]:
    """The same from a row of `listing_columns()` (a cursor listing), unpacked by position: a
    Row's attributes by name cost a lookup each, a quarter of a 1,000-key page's time."""
    (_, object_id, key, version_id, latest, marker, size, etag, sha256, modified, storage_class,
     content_type, public) = row  # fmt: skip
    return {
        "object_id": object_id,
        "object_key": key,
        "version_id": None if version_id == NULL_VERSION else version_id,
        "is_latest": latest,
        "is_delete_marker": marker,
        "size_bytes": size,
        "etag": etag,
        "checksum_sha256": sha256,
        "last_modified": modified,
        "storage_class": storage_class,
        "content_type": content_type,
        "is_public": public,
    }


def listing_columns() -> tuple[Any, ...]:
    """What a listing reads: no ORM objects are built for a page (a third of its cost)."""
    model = S3Object
    return (
        col(model.id),
        col(model.object_id),
        col(model.object_key),
        col(model.version_id),
        col(model.is_latest),
        col(model.is_delete_marker),
        col(model.size_bytes),
        col(model.etag),
        col(model.sha256),
        col(model.last_modified),
        col(model.storage_class),
        col(model.content_type),
        col(model.is_public),
    )


# --- keys ------------------------------------------------------------------------------------


def check_key(key: str) -> str:
    """Keys are opaque: anything of 1-1,024 UTF-8 bytes but a NUL (400 otherwise)."""
    if "\x00" in key:
        raise field_error("key", "must not contain NUL characters")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise field_error("key", "must be valid UTF-8") from None
    if not 1 <= size <= MAX_KEY_BYTES:
        raise field_error("key", f"must be 1-{MAX_KEY_BYTES} bytes (it is {size})")
    return key


# --- versions, rows and bytes ----------------------------------------------------------------


def latest(ctx: Ctx, bucket: Bucket, key: str) -> S3Object | None:
    return ctx.session.exec(
        select(S3Object).where(
            col(S3Object.bucket) == bucket.bucket_id,
            col(S3Object.object_key) == key,
            col(S3Object.is_latest).is_(True),
        )
    ).first()


def version(ctx: Ctx, bucket: Bucket, key: str, version_id: str) -> S3Object:
    found = ctx.session.exec(
        select(S3Object).where(
            col(S3Object.bucket) == bucket.bucket_id,
            col(S3Object.object_key) == key,
            col(S3Object.version_id) == version_id,
        )
    ).first()
    if found is None:
        raise NotFound(
            f"version {version_id} of {key!r} not found in bucket {bucket.bucket_name}",
            details={"key": key, "version_id": version_id},
        )
    return found


def count_rows(ctx: Ctx, bucket_id: str) -> int:
    from sqlmodel import func

    return int(
        ctx.session.exec(
            select(func.count()).select_from(S3Object).where(col(S3Object.bucket) == bucket_id)
        ).one()
    )


def discard(ctx: Ctx, blob: str | None) -> None:
    """Drop a blob no row names any more: on disk once this unit of work commits."""
    if blob:
        ctx.session.add(BlobGarbage(blob=blob))
        _remove_after_commit(ctx, blob)


def remove_all(ctx: Ctx, bucket: Bucket) -> None:
    """Every object and version of a bucket, and (after commit) its bytes, at once."""
    removed: Any = ctx.session.execute(
        delete(S3Object).where(col(S3Object.bucket) == bucket.bucket_id)
    )
    counted(ctx, bucket, -int(removed.rowcount or 0))
    ctx.session.add(BlobGarbage(blob=f"{bucket.bucket_id}/"))
    _remove_after_commit(ctx, f"{bucket.bucket_id}/")


def _remove_after_commit(ctx: Ctx, blob: str) -> None:
    """Unlink once the transaction that dropped the blob commits (never if it rolls back). Its
    garbage row stays until the next sweep, which unlinks whatever a crash left behind."""
    session = ctx.session
    pending: list[str] | None = session.info.get("atonix_blob_garbage")
    if pending is not None:
        pending.append(blob)
        return
    pending = session.info["atonix_blob_garbage"] = [blob]
    db = ctx.db

    def removed(_session: Any) -> None:
        from engine.storage import blobs

        store, _ = blobs.store(db)
        for name in pending:
            _unlink(store, name)

    event.listen(session, "after_commit", removed, once=True)


def _unlink(store: Any, blob: str) -> bool:
    try:
        if blob.endswith("/"):
            store.delete_bucket(blob[:-1])
        else:
            store.delete(blob)
    except (OSError, ValueError):
        return False
    return True


def collect_garbage(db: Any) -> int:
    """Remove from disk what committed deletions dropped, then their garbage rows."""
    from engine.storage import blobs

    store, _ = blobs.store(db)
    table = BlobGarbage.__table__  # type: ignore[attr-defined]
    with db.engine.connect() as conn:
        rows = conn.execute(select(table.c.id, table.c.blob).limit(10_000)).all()
        conn.rollback()
    done = [row_id for row_id, blob in rows if _unlink(store, blob)]
    if done:
        with db.writing() as conn:
            conn.execute(delete(table).where(table.c.id.in_(done)))
    return len(done)


def promote_newest(ctx: Ctx, bucket: Bucket, key: str) -> None:
    """After the latest version of a key went, the newest remaining one is the latest."""
    newest = ctx.session.exec(
        select(S3Object)
        .where(col(S3Object.bucket) == bucket.bucket_id, col(S3Object.object_key) == key)
        .order_by(col(S3Object.id).desc())
        .limit(1)
    ).first()
    if newest is not None:
        newest.is_latest = True
        newest.listed = not newest.is_delete_marker
        ctx.session.add(newest)


def demote_latest(ctx: Ctx, bucket: Bucket, key: str) -> None:
    ctx.session.execute(
        update(S3Object)
        .where(
            col(S3Object.bucket) == bucket.bucket_id,
            col(S3Object.object_key) == key,
            col(S3Object.is_latest).is_(True),
        )
        .values(is_latest=False, listed=False)
    )


def counted(ctx: Ctx, bucket: Bucket, delta: int) -> None:
    """Keep the owner's count of object rows (engine.counts): a list page reads it, not rows."""
    from engine import counts

    counts.add(ctx.conn, collection=S3_OBJECTS.name, owner=bucket.owner or "", delta=delta)


def remove_version(ctx: Ctx, bucket: Bucket, obj: S3Object) -> None:
    """Delete one version for good: its row, its bytes, the bucket's totals; a newer latest."""
    was_latest = obj.is_latest
    ctx.session.delete(obj)
    ctx.session.flush()
    counted(ctx, bucket, -1)
    if not obj.is_delete_marker:
        bucket.total_objects = max(bucket.total_objects - 1, 0)
        bucket.total_size_bytes = max(bucket.total_size_bytes - obj.size_bytes, 0)
        ctx.session.add(bucket)
    discard(ctx, obj.blob)
    if was_latest:
        promote_newest(ctx, bucket, obj.object_key)


# --- the collection's own operations ---------------------------------------------------------


def update_object(ctx: Ctx, obj: S3Object, spec: ObjectUpdate) -> S3Object:
    if obj.is_delete_marker:
        raise field_error("object_id", "a delete marker has no metadata to change")
    for name in ("storage_class", "acl", "tags"):
        value = getattr(spec, name)
        if value is not None:
            setattr(obj, name, value)
    if spec.is_public is not None:
        obj.is_public = spec.is_public
        if spec.acl is None:
            obj.acl = "public-read" if spec.is_public else "private"
    elif spec.acl is not None:
        obj.is_public = spec.acl in ("public-read", "public-read-write")
    if spec.metadata is not None:
        obj.meta = spec.metadata
    obj.updated_at = ctx.now
    ctx.session.add(obj)
    ctx.audit_details.update(spec.model_dump(exclude_none=True, exclude={"metadata"}))
    return obj


def delete_object(ctx: Ctx, obj: S3Object, *, force: bool = False) -> int:
    """DELETE s3-objects/<id>/: that version, for good (as a delete by version id)."""
    bucket = buckets.find(ctx, obj.bucket, for_write=True, owner=obj.owner)
    remove_version(ctx, bucket, obj)
    ctx.audit_details.update(object_key=obj.object_key, version_id=obj.version_id)
    return 204


def make_public(ctx: Ctx, obj: S3Object) -> S3Object:
    obj.is_public, obj.acl, obj.updated_at = True, "public-read", ctx.now
    ctx.session.add(obj)
    return obj


def make_private(ctx: Ctx, obj: S3Object) -> S3Object:
    obj.is_public, obj.acl, obj.updated_at = False, "private", ctx.now
    ctx.session.add(obj)
    return obj


def change_storage_class(ctx: Ctx, obj: S3Object, body: StorageClassBody) -> S3Object:
    if body.storage_class not in STORAGE_CLASSES:
        raise ValidationFailed(
            "Invalid storage_class",
            details={"storage_class": [f"must be one of {', '.join(STORAGE_CLASSES)}"]},
        )
    ctx.audit_details.update(storage_class=body.storage_class, previous=obj.storage_class)
    obj.storage_class, obj.updated_at = body.storage_class, ctx.now
    ctx.session.add(obj)
    return obj


S3_OBJECTS = Collection(
    service="storage",
    name="s3-objects",
    label="object",
    id_prefix="obj",
    model=S3Object,
    id_field="object_id",
    resource_type="s3_object",
    public=public,
    summary=summary,
    counted=True,
    verbs=("list", "get", "update", "delete"),
    filters={
        "owner": str,
        "bucket": str,
        "bucket_name": str,
        "object_key": str,
        "version_id": str,
        "is_latest": parse_bool,
        "is_public": parse_bool,
        "storage_class": str,
        "content_type": str,
    },
    search=("object_key",),
    ordering=("created_at", "object_key", "size_bytes", "last_modified"),
    default_ordering="-created_at",
    update_schema=ObjectUpdate,
    update=update_object,
    delete=delete_object,
    actions=(
        Action("make_public", make_public, summary="Readable by anyone, with no credentials"),
        Action("make_private", make_private, summary="Readable by its owner only"),
        Action(
            "change_storage_class",
            change_storage_class,
            body=StorageClassBody,
            summary="Move the object to another storage class",
        ),
    ),
    routes=(
        Route(
            "GET",
            f"{SERVICES}/s3-objects/",
            "engine.storage.listing:list_objects",
            "storage:read",
            "List object versions; with bucket and prefix, delimiter, start_after or "
            "continuation_token, that bucket's cursor listing",
            resource="engine.storage.s3_objects:S3_OBJECTS",
        ),
    ),
)
