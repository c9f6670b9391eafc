"""Buckets: names unique across all users, versioning, logging, statistics, forced deletion."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import field_validator, model_validator
from sqlalchemy import BigInteger, Index, bindparam, case, text
from sqlmodel import Field, col, func, select

from engine.api.routes import SERVICES, Route
from engine.collection import Action, Collection, StateMachine
from engine.context import Ctx
from engine.errors import Conflict, DependencyViolation, InvalidState, NotFound, field_error
from engine.resources import (
    Body,
    CommonInput,
    OneOf,
    ResourceBase,
    Tags,
    common_public,
    get_visible,
    locked,
    parse_bool,
)
from engine.sqltypes import UTCDateTime

ACLS = ("private", "public-read", "public-read-write", "authenticated-read")
ENCRYPTION_TYPES = ("sse-s3", "sse-kms", "cse-kms")
Acl = Annotated[str, OneOf(ACLS)]  # a bucket's, and an object's (SPEC B2.3)
GIB = 1024**3
_ITEM = f"{SERVICES}/buckets/{{id}}/"
_BUCKETS, _OBJECTS, _LISTING, _DATA, _UPLOADS, _ACCESS = (
    "engine.storage.buckets:BUCKETS",
    "engine.storage.s3_objects",
    "engine.storage.listing",
    "engine.storage.data",
    "engine.storage.uploads",
    "engine.storage.access",
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{1,61}[A-Za-z0-9]$")


class Bucket(ResourceBase, table=True):
    __tablename__ = "buckets"
    __table_args__ = (
        Index("ix_buckets_owner_created", "owner", "created_at"),
        # Names are unique among buckets that still exist: a deleted bucket's name is free again.
        Index(
            "ux_buckets_live_name",
            "bucket_name",
            unique=True,
            sqlite_where=text("status != 'deleted'"),
            postgresql_where=text("status != 'deleted'"),
        ),
    )
    bucket_id: str = Field(unique=True, max_length=32)
    bucket_name: str = Field(max_length=63)
    status: str = Field(default="creating", max_length=16, index=True)
    status_due_at: datetime | None = Field(default=None, index=True, sa_type=UTCDateTime)
    acl: str = Field(default="private", max_length=32)
    versioning_enabled: bool = False
    mfa_delete_enabled: bool = False
    encryption_enabled: bool = True
    encryption_type: str = Field(default="sse-s3", max_length=16)
    kms_key_id: str | None = Field(default=None, max_length=64)
    logging_enabled: bool = False
    log_target_bucket: str | None = Field(default=None, max_length=63)
    log_prefix: str = Field(default="", max_length=1024)
    request_metrics_enabled: bool = False
    total_objects: int = Field(default=0, sa_type=BigInteger)
    total_size_bytes: int = Field(default=0, sa_type=BigInteger)


def validate_name(value: str) -> str:
    """SPEC B4: 3-63 letters, digits, `-` and `.`, starting and ending with a letter or digit,
    with no `..`."""
    if not 3 <= len(value) <= 63:
        raise ValueError("must be 3-63 characters")
    if not _NAME.match(value):
        raise ValueError(
            "must be letters, digits, '-' and '.', starting and ending with a letter or digit"
        )
    if ".." in value:
        raise ValueError("must not contain '..'")
    return value


class BucketCreate(CommonInput):
    bucket_name: str | None = None
    region: str = "us-west-2"
    acl: Acl = "private"
    versioning_enabled: bool = False
    mfa_delete_enabled: bool = False
    encryption_enabled: bool = True
    encryption_type: Annotated[str, OneOf(ENCRYPTION_TYPES)] = "sse-s3"
    kms_key_id: str | None = None
    logging_enabled: bool = False
    log_target_bucket: str | None = None
    log_prefix: str = ""
    request_metrics_enabled: bool = False

    @model_validator(mode="after")
    def _one_name(self) -> BucketCreate:
        # `name` is accepted for `bucket_name`, as every other collection is created by name.
        if self.bucket_name is None:
            self.bucket_name = self.name
        elif self.name is not None and self.name != self.bucket_name:
            raise ValueError("name and bucket_name differ; give one")
        return self

    @field_validator("log_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if len(value.encode()) > 1024:
            raise ValueError("must be at most 1024 bytes")
        return value


class BucketUpdate(Body):
    description: str | None = None
    acl: Acl | None = None
    versioning_enabled: bool | None = None
    logging_enabled: bool | None = None
    log_target_bucket: str | None = None
    log_prefix: str | None = None
    request_metrics_enabled: bool | None = None
    tags: Tags | None = None
    metadata: dict[str, Any] | None = None

    _tags = field_validator("tags")(CommonInput._tags.__func__)  # type: ignore[attr-defined]


class LoggingBody(Body):
    log_target_bucket: str
    log_prefix: str = ""


def public(bucket: Bucket) -> dict[str, Any]:
    return {
        **common_public(bucket, "bucket_id"),
        "bucket_name": bucket.bucket_name,
        "status": bucket.status,
        "acl": bucket.acl,
        "versioning_enabled": bucket.versioning_enabled,
        "mfa_delete_enabled": bucket.mfa_delete_enabled,
        "encryption_enabled": bucket.encryption_enabled,
        "encryption_type": bucket.encryption_type,
        "kms_key_id": bucket.kms_key_id,
        "logging_enabled": bucket.logging_enabled,
        "log_target_bucket": bucket.log_target_bucket,
        "log_prefix": bucket.log_prefix,
        "request_metrics_enabled": bucket.request_metrics_enabled,
        "total_objects": bucket.total_objects,
        "total_size_bytes": bucket.total_size_bytes,
        "total_size_gb": bucket.total_size_bytes / GIB,
    }


# --- lookups ---------------------------------------------------------------------------------


def find(ctx: Ctx, ref: str, *, for_write: bool = False, owner: str | None = None) -> Bucket:
    """A live bucket the caller may see, by id or by name (404 otherwise, another user's too).
    `owner` narrows it to that owner's (a presigned request acts as the bucket's owner)."""
    if owner is None and not ctx.sees_everything():
        owner = ctx.principal.username
    query = _find_query(BUCKETS.is_id(ref), owner is not None, for_write)
    params = {"b_ref": ref} if owner is None else {"b_ref": ref, "b_owner": owner}
    bucket = ctx.session.exec(query, params=params).first()
    if bucket is None:
        raise NotFound(f"bucket {ref} not found", details={"bucket": ref})
    return bucket


@functools.cache
def _find_query(by_id: bool, by_owner: bool, for_write: bool) -> Any:
    """The lookup of `find`, built once per form: every object request runs one, and building
    a statement costs more than SQLite takes to run it."""
    column = Bucket.bucket_id if by_id else Bucket.bucket_name
    query = select(Bucket).where(col(Bucket.status) != "deleted", col(column) == bindparam("b_ref"))
    if by_owner:
        query = query.where(col(Bucket.owner) == bindparam("b_owner"))
    if for_write:
        query = locked(query)
    return query


def find_public(ctx: Ctx, ref: str) -> Bucket | None:
    """A live bucket by id or name whoever owns it (for public objects and presigned URLs)."""
    column = Bucket.bucket_id if BUCKETS.is_id(ref) else Bucket.bucket_name
    return ctx.session.exec(
        select(Bucket).where(col(column) == ref, col(Bucket.status) != "deleted")
    ).first()


def require_active(bucket: Bucket) -> None:
    if bucket.status != "active":
        raise InvalidState(
            f"bucket {bucket.bucket_name} must be active (it is {bucket.status})",
            details={"status": bucket.status, "allowed": ["active"]},
        )


def _log_target(ctx: Ctx, bucket_owner: str, ref: str) -> str:
    """The name of a logging target bucket the owner also owns (400 otherwise)."""
    column = Bucket.bucket_id if BUCKETS.is_id(ref) else Bucket.bucket_name
    target = ctx.session.exec(
        select(Bucket).where(
            col(column) == ref, col(Bucket.owner) == bucket_owner, col(Bucket.status) != "deleted"
        )
    ).first()
    if target is None:
        raise field_error("log_target_bucket", f"no bucket {ref!r} of {bucket_owner}")
    return target.bucket_name


# --- operations ------------------------------------------------------------------------------


def create_bucket(ctx: Ctx, spec: BucketCreate) -> Bucket:
    """`creating`, then `active`; the name is checked against every user's buckets (409)."""
    if spec.bucket_name is None:
        raise field_error("bucket_name", "required")
    try:
        name = validate_name(spec.bucket_name)
    except ValueError as error:
        raise field_error("bucket_name", str(error)) from None
    owner = ctx.principal.username
    taken = ctx.session.exec(
        select(Bucket.bucket_id).where(
            col(Bucket.bucket_name) == name, col(Bucket.status) != "deleted"
        )
    ).first()
    if taken is not None:
        raise Conflict(f"bucket name {name!r} is taken", details={"bucket_name": name})
    bucket = Bucket(
        bucket_id=BUCKETS.new_id(),
        bucket_name=name,
        name=name,
        description=spec.description or "",
        owner=owner,
        region=spec.region,
        acl=spec.acl,
        versioning_enabled=spec.versioning_enabled,
        mfa_delete_enabled=spec.mfa_delete_enabled,
        encryption_enabled=spec.encryption_enabled,
        encryption_type=spec.encryption_type,
        request_metrics_enabled=spec.request_metrics_enabled,
        tags=spec.tags or {},
        meta=spec.metadata or {},
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    if spec.logging_enabled or spec.log_target_bucket:
        if not spec.log_target_bucket:
            raise field_error("log_target_bucket", "required when logging_enabled")
        bucket.logging_enabled = True
        bucket.log_target_bucket = _log_target(ctx, owner, spec.log_target_bucket)
        bucket.log_prefix = spec.log_prefix
    BUCKETS.consume_quota(ctx, bucket)
    if spec.encryption_enabled:
        bucket.kms_key_id = _bucket_key(ctx, bucket, spec.kms_key_id)
    elif spec.kms_key_id:
        raise field_error("kms_key_id", "needs encryption_enabled")
    BUCKETS.begin(ctx, bucket, "creating")
    BUCKETS.added(ctx, bucket)
    ctx.session.flush()
    ctx.audit_details.update(bucket_name=name)
    return bucket


def _bucket_key(ctx: Ctx, bucket: Bucket, kms_key_id: str | None) -> str | None:
    """The bucket's encryption key: the one given (the owner's), else `bucket-<bucket_id>`,
    made by the key service (SPEC B3)."""
    return str(
        data_keys.bucket_key(
            ctx, bucket_id=bucket.bucket_id, owner=bucket.owner or "", kms_key_id=kms_key_id
        )
    )


def update_bucket(ctx: Ctx, bucket: Bucket, spec: BucketUpdate) -> Bucket:
    if bucket.status in ("deleting", "deleted"):
        raise InvalidState(f"bucket {bucket.bucket_name} is {bucket.status}")
    if spec.versioning_enabled is False and bucket.versioning_enabled:
        raise InvalidState(
            "versioning cannot be switched off once enabled",
            details={"versioning_enabled": True},
        )
    if spec.versioning_enabled:
        bucket.versioning_enabled = True
    for name in ("description", "acl", "request_metrics_enabled", "tags"):
        value = getattr(spec, name)
        if value is not None:
            setattr(bucket, name, value)
    if spec.metadata is not None:
        bucket.meta = spec.metadata
    if spec.log_target_bucket is not None:
        bucket.log_target_bucket = _log_target(ctx, bucket.owner or "", spec.log_target_bucket)
        bucket.logging_enabled = True if spec.logging_enabled is None else spec.logging_enabled
    elif spec.logging_enabled is not None:
        if spec.logging_enabled and not bucket.log_target_bucket:
            raise field_error("log_target_bucket", "required when logging_enabled")
        bucket.logging_enabled = spec.logging_enabled
    if spec.log_prefix is not None:
        bucket.log_prefix = spec.log_prefix
    bucket.updated_at = ctx.now
    ctx.session.add(bucket)
    ctx.audit_details.update(spec.model_dump(exclude_none=True, exclude={"metadata"}))
    return bucket


def delete_bucket(ctx: Ctx, bucket: Bucket, *, force: bool = False) -> int:
    """`deleting`, then `deleted`; refused while objects remain unless `force`, which removes
    every object and version first (their bytes go once this commits)."""
    BUCKETS.require(bucket, ("active", "faulted"))
    present = objects.count_rows(ctx, bucket.bucket_id)
    if present and not force:
        raise DependencyViolation(
            f"bucket {bucket.bucket_name} holds {present} object version(s); remove them or "
            "delete with force",
            details={"objects": present},
        )
    if present:
        objects.remove_all(ctx, bucket)
    bucket.total_objects = bucket.total_size_bytes = 0
    BUCKETS.release_quota(ctx, bucket)
    BUCKETS.begin(ctx, bucket, "deleting")
    ctx.session.add(bucket)
    ctx.audit_details.update(force=force, objects_removed=present)
    return 202


def enable_versioning(ctx: Ctx, bucket: Bucket) -> Bucket:
    bucket.versioning_enabled = True
    bucket.updated_at = ctx.now
    ctx.session.add(bucket)
    return bucket


def enable_logging(ctx: Ctx, bucket: Bucket, body: LoggingBody) -> Bucket:
    bucket.log_target_bucket = _log_target(ctx, bucket.owner or "", body.log_target_bucket)
    bucket.log_prefix = body.log_prefix
    bucket.logging_enabled = True
    bucket.updated_at = ctx.now
    ctx.session.add(bucket)
    ctx.audit_details.update(log_target_bucket=bucket.log_target_bucket)
    return bucket


def statistics(ctx: Ctx, bucket: Bucket) -> dict[str, Any]:
    """Counted from the object rows themselves (every stored version; delete markers hold no
    bytes and are not objects)."""
    S3Object = objects.S3Object

    rows = ctx.session.exec(
        select(
            col(S3Object.storage_class),
            func.count(),
            func.coalesce(func.sum(S3Object.size_bytes), 0),
            func.coalesce(func.sum(case((col(S3Object.listed), 1), else_=0)), 0),
        )
        .where(col(S3Object.bucket) == bucket.bucket_id, col(S3Object.is_delete_marker).is_(False))
        .group_by(col(S3Object.storage_class))
    ).all()
    total = sum(int(n) for _, n, _, _ in rows)
    size = sum(int(s) for _, _, s, _ in rows)
    return {
        "bucket_id": bucket.bucket_id,
        "bucket_name": bucket.bucket_name,
        "total_objects": total,
        "current_objects": sum(int(c) for _, _, _, c in rows),
        "total_size_bytes": size,
        "total_size_gb": size / GIB,
        "versioning_enabled": bucket.versioning_enabled,
        "encryption_enabled": bucket.encryption_enabled,
        "average_object_size_mb": size / max(total, 1) / (1024 * 1024),
        "by_storage_class": {c: {"objects": int(n), "size_bytes": int(s)} for c, n, s, _ in rows},
    }


def bucket_of(ctx: Ctx, ref: str) -> Bucket:
    """The bucket named by a detail route's `{id}` (an id or a name), as the caller may see it."""
    if BUCKETS.is_id(ref):
        found: Bucket = get_visible(ctx, BUCKETS, ref)
        return found
    return find(ctx, ref)


BUCKETS = Collection(
    service="storage",
    name="buckets",
    label="bucket",
    id_prefix="bkt",
    model=Bucket,
    id_field="bucket_id",
    public=public,
    filters={
        "owner": str,
        "region": str,
        "status": str,
        "versioning_enabled": parse_bool,
        "bucket_name": str,
    },
    search=("bucket_name", "description"),
    ordering=("created_at", "name", "bucket_name", "total_size_bytes", "total_objects"),
    default_ordering="-created_at",
    counted=True,
    quota={"buckets": 1},
    force_removes="every object and version",
    states=StateMachine(
        states=("creating", "active", "deleting", "deleted", "faulted"),
        transitions={"creating": ("active", 1.0), "deleting": ("deleted", 1.0)},
        final=("deleted",),
        # A deleted bucket stays visible a day, its name free again at once.
        retention=timedelta(days=1),
    ),
    create_schema=BucketCreate,
    create=create_bucket,
    update_schema=BucketUpdate,
    update=update_bucket,
    delete=delete_bucket,
    actions=(
        Action(
            "statistics",
            statistics,
            "GET",
            summary="Objects, bytes and the average object size, counted from the objects",
        ),
        Action(
            "enable_versioning",
            enable_versioning,
            allowed_from=("active",),
            summary="Turn versioning on (idempotent; never off again)",
            message="Versioning enabled on",
        ),
        Action(
            "enable_logging",
            enable_logging,
            allowed_from=("active", "creating"),
            body=LoggingBody,
            summary="Write access logs as objects to a target bucket of the owner",
            message="Logging enabled on",
        ),
    ),
    routes=(
        Route(
            "GET",
            f"{_ITEM}objects/",
            f"{_LISTING}:bucket_objects",
            "storage:read",
            "List objects: prefix, delimiter (common prefixes), a cursor (start_after or "
            "continuation_token); every page an index seek",
            resource=_BUCKETS,
        ),
        Route(
            "GET",
            f"{_ITEM}versions/",
            f"{_LISTING}:bucket_versions",
            "storage:read",
            "List object versions and delete markers (key, or prefix), newest first per key",
            resource=_BUCKETS,
        ),
        Route(
            "POST",
            f"{_ITEM}presign/",
            f"{_ACCESS}:presign",
            "storage:read",
            "A URL for one GET or PUT of one key, valid until it expires",
            resource=_BUCKETS,
            body=f"{_ACCESS}:PresignBody",
        ),
        # The data route (SPEC A1): the object's bytes, streamed both ways.
        Route(
            "PUT",
            f"{_ITEM}objects/{{key:path}}",
            f"{_UPLOADS}:put_object",
            "storage:write",
            "Upload an object's bytes (the raw body, streamed; checksums checked)",
            resource=f"{_OBJECTS}:S3_OBJECTS",
            action="upload",
            raw=True,
        ),
        Route(
            "GET",
            f"{_ITEM}objects/{{key:path}}",
            f"{_DATA}:get_object",
            "storage:read",
            "Download an object's bytes (streamed; Range, If-None-Match); HEAD for headers",
            resource=f"{_OBJECTS}:S3_OBJECTS",
            raw=True,
        ),
        Route(
            "DELETE",
            f"{_ITEM}objects/{{key:path}}",
            f"{_DATA}:delete_object",
            "storage:write",
            "Delete an object (a delete marker when versioned) or, with version_id, a version",
            resource=f"{_OBJECTS}:S3_OBJECTS",
            action="delete",
            status=204,
            raw=True,
        ),
    ),
)

# The tables a bucket's operations touch, created with its own (imported last: objects import
# this module).
from engine.storage import access_logs, data_keys, encryption_keys  # noqa: E402, F401
from engine.storage import s3_objects as objects  # noqa: E402
