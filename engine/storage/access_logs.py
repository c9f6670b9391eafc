"""Bucket access logs: a line per data-route request on a bucket with logging enabled, delivered
as objects under the bucket's `log_prefix` in its target bucket (SPEC B2.3, B3).

A line is kept in `access_log_lines`, in the request's own transaction for a write; once the
oldest pending line of a bucket is `FLUSH_SECONDS` old on the engine clock (at once on the
instant clock), or `FLUSH_LINES` are pending, the next logged request on that bucket writes them
all as one object `<log_prefix><UTC time>-<hex>` into the target bucket, as S3 delivers its
server access logs: in batches, a little after the requests.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Index, delete, event
from sqlmodel import Field, SQLModel, col, func, select

from engine.context import Ctx
from engine.sqltypes import UTCDateTime
from engine.storage import blobs, buckets
from engine.storage.buckets import Bucket

FLUSH_SECONDS = 60.0
FLUSH_LINES = 500


class AccessLogLine(SQLModel, table=True):
    __tablename__ = "access_log_lines"
    __table_args__ = (Index("ix_access_log_lines_bucket", "bucket", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    bucket: str = Field(max_length=32)  # the logged bucket's id
    line: str
    created_at: datetime = Field(sa_type=UTCDateTime)


def line(
    ctx: Ctx,
    bucket: Bucket,
    *,
    operation: str,
    key: str,
    status: int,
    sent: int,
    size: int,
    version_id: str | None,
) -> str:
    """One record in the S3 server access log layout."""
    when = ctx.now.strftime("%d/%b/%Y:%H:%M:%S +0000")
    requester = ctx.principal.username or "-"
    quoted = key.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    agent = (ctx.user_agent or "-").replace('"', "'")
    return (
        f"{bucket.owner} {bucket.bucket_name} [{when}] {ctx.source_ip or '-'} {requester} "
        f'{ctx.request_id or "-"} REST.{operation}.OBJECT "{quoted}" {status} - {sent} {size} '
        f'"{agent}" {version_id or "-"}'
    )


def record(ctx: Ctx, bucket: Bucket, text: str) -> None:
    """Keep a line of a logged bucket, and deliver the pending ones if they are due."""
    if not bucket.logging_enabled or not bucket.log_target_bucket:
        return
    ctx.session.add(AccessLogLine(bucket=bucket.bucket_id, line=text, created_at=ctx.now))
    ctx.session.flush()
    oldest, pending = ctx.session.exec(
        select(func.min(AccessLogLine.created_at), func.count()).where(
            col(AccessLogLine.bucket) == bucket.bucket_id
        )
    ).one()
    due = oldest is not None and ctx.now - oldest >= ctx.clock.duration(FLUSH_SECONDS)
    if due or pending >= FLUSH_LINES:
        deliver(ctx, bucket)


def deliver(ctx: Ctx, bucket: Bucket) -> Any:
    """Write a bucket's pending lines as one object of its target bucket (its owner's); lines
    whose target is gone are dropped with them."""
    from engine.storage import uploads

    rows = ctx.session.exec(
        select(AccessLogLine)
        .where(col(AccessLogLine.bucket) == bucket.bucket_id)
        .order_by(col(AccessLogLine.id))
    ).all()
    if not rows:
        return None
    ctx.session.execute(
        delete(AccessLogLine).where(col(AccessLogLine.id).in_([r.id for r in rows]))
    )
    try:
        target = buckets.find(
            ctx, bucket.log_target_bucket or "", for_write=True, owner=bucket.owner
        )
    except Exception:  # the target bucket is gone: its lines have nowhere to go
        return None
    if target.status != "active":
        return None
    content = ("\n".join(r.line for r in rows) + "\n").encode()
    stamp = ctx.now.strftime("%Y-%m-%d-%H-%M-%S")
    key = f"{bucket.log_prefix}{stamp}-{secrets.token_hex(8).upper()}"
    store, _ = blobs.store(ctx.db)
    writer = store.writer(target.bucket_id)
    try:
        upload = uploads.Upload(writer, uploads.new_data_key(ctx, target))
        upload.write(content)
        upload.finish()
        stored = uploads.commit_upload(ctx, target, key, upload, "text/plain", "standard", {})
    except BaseException:
        writer.abort()
        raise
    # The temporary name (and its lock) goes once the row is committed; a rollback drops both.
    event.listen(ctx.session, "after_commit", lambda _s: writer.done(), once=True)
    event.listen(ctx.session, "after_rollback", lambda _s: writer.abort(), once=True)
    return stored
