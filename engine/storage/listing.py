"""Listings of objects: pages by prefix, delimiter and cursor, each one index seek on the key.

`bucket_objects` lists a bucket's latest objects (the rows `listed` marks, in key order, keys
under a common prefix rolled up and skipped with one more seek); `bucket_versions` every
version and delete marker; `list_objects` a page of the s3-objects collection, or a bucket's
cursor listing when asked for one. A cursor is a token of where the last page ended, never an
offset.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sqlmodel import col, select

from engine.api.http import Request
from engine.context import Ctx
from engine.errors import ValidationFailed, field_error
from engine.resources import MAX_PAGE_SIZE, list_page
from engine.storage import buckets
from engine.storage.buckets import Bucket
from engine.storage.s3_objects import (
    MAX_KEY_BYTES,
    S3_OBJECTS,
    S3Object,
    check_key,
    item,
    listing_columns,
)

DEFAULT_PAGE = 1000  # keys per listing page unless page_size says (S3 lists 1,000)


# --- keys ------------------------------------------------------------------------------------


def _after(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF and not 0xD7FF <= last < 0xDFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


# --- cursors ---------------------------------------------------------------------------------


def _token(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _untoken(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(position, dict) or not isinstance(position.get("k"), str):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise field_error("continuation_token", "not a token this engine gave") from None
    return position


def _page_size(request: Request) -> int:
    raw = request.arg("page_size") or request.arg("max_keys")
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdecimal() or int(raw) < 1:
        raise ValidationFailed(
            "page_size: must be a positive integer", details={"page_size": [raw]}
        )
    return min(int(raw), MAX_PAGE_SIZE)


def _next_link(request: Request, token: str | None) -> str | None:
    if token is None:
        return None
    from urllib.parse import urlencode

    params = [
        (k, v)
        for k, values in request.query.items()
        if k not in ("continuation_token", "start_after", "page")
        for v in values
    ]
    params.append(("continuation_token", token))
    return f"{request.path}?{urlencode(params)}"


# --- listing ---------------------------------------------------------------------------------


def list_keys(
    ctx: Ctx,
    bucket: Bucket,
    *,
    prefix: str = "",
    delimiter: str = "",
    start_after: str = "",
    token: str | None = None,
    page_size: int = DEFAULT_PAGE,
) -> tuple[list[Any], list[str], str | None]:
    """One page of the latest objects under `prefix`, in key order after the cursor: the
    objects, the common prefixes (keys rolled up at the first `delimiter` after the prefix),
    and the token of the next page (None on the last). Each query is one index range seek;
    a run of keys under one common prefix is skipped with one more seek, not read."""
    seek_from, inclusive = start_after, False
    if token is not None:
        given = _untoken(token)
        seek_from, inclusive = given["k"], bool(given.get("i"))
    if prefix and seek_from < prefix:
        seek_from, inclusive = prefix, True
    upper = _after(prefix) if prefix else None
    found: list[Any] = []
    prefixes: list[str] = []
    # Where the next page starts: after the last key returned, or at the end of a prefix.
    position: dict[str, Any] = {}
    while True:
        want = page_size - len(found) - len(prefixes) + 1  # one more: is there a next page?
        rows = ctx.session.execute(_seek(bucket, seek_from, inclusive, upper).limit(want)).all()
        jumped = False
        for row in rows:
            if len(found) + len(prefixes) == page_size:
                return found, prefixes, _token(position)
            rest = row.object_key[len(prefix) :]
            cut = rest.find(delimiter) if delimiter else -1
            if cut < 0:
                found.append(row)
                position = {"k": row.object_key}
                seek_from, inclusive = row.object_key, False
                continue
            common = prefix + rest[: cut + len(delimiter)]
            prefixes.append(common)
            beyond = _after(common)
            if beyond is None:
                return found, prefixes, None
            position = {"k": beyond, "i": 1}
            seek_from, inclusive, jumped = beyond, True, True
            break
        if not jumped:
            return found, prefixes, None  # fewer rows than asked for: the end
        if len(found) + len(prefixes) == page_size:
            more = ctx.session.execute(_seek(bucket, seek_from, inclusive, upper).limit(1)).first()
            return found, prefixes, _token(position) if more is not None else None


def _seek(bucket: Bucket, seek_from: str, inclusive: bool, upper: str | None) -> Any:
    """Listed rows of a bucket from a key on, in key order: a range of ix_s3_objects_listing."""
    key = col(S3Object.object_key)
    query = select(*listing_columns()).where(
        col(S3Object.bucket) == bucket.bucket_id,
        col(S3Object.listed).is_(True),
        key >= seek_from if inclusive else key > seek_from,
    )
    if upper is not None:
        query = query.where(key < upper)
    return query.order_by(key)


def _listing_args(request: Request) -> dict[str, Any]:
    def text(name: str) -> str:
        value = request.arg(name) or ""
        if len(value.encode()) > MAX_KEY_BYTES:
            raise field_error(name, f"must be at most {MAX_KEY_BYTES} bytes")
        return value

    token = request.arg("continuation_token")
    return {
        "prefix": text("prefix"),
        "delimiter": text("delimiter"),
        "start_after": text("start_after"),
        "token": token or None,
        "page_size": _page_size(request),
    }


def listing_page(ctx: Ctx, bucket: Bucket, request: Request) -> dict[str, Any]:
    args = _listing_args(request)
    rows, prefixes, token = list_keys(ctx, bucket, **args)
    narrowed = args["prefix"] or args["delimiter"]
    return {
        # The bucket's own count when nothing narrows the listing (it costs no scan); else null.
        "count": None if narrowed else _listed_count(ctx, bucket),
        "next": _next_link(request, token),
        "previous": None,
        "results": [item(r) for r in rows],
        "common_prefixes": prefixes,
        "is_truncated": token is not None,
        "next_continuation_token": token,
        "prefix": args["prefix"],
        "delimiter": args["delimiter"],
    }


def _listed_count(ctx: Ctx, bucket: Bucket) -> int | None:
    # Unversioned, every object row is listed: the bucket's total is the count.
    return None if bucket.versioning_enabled else bucket.total_objects


def bucket_objects(request: Request) -> dict[str, Any]:
    """GET buckets/<id>/objects/: the latest objects, by prefix, delimiter and cursor."""
    ctx = request.ctx
    bucket = buckets.bucket_of(ctx, request.params["id"])
    request.subject = bucket
    return listing_page(ctx, bucket, request)


def list_objects(request: Request) -> dict[str, Any]:
    """GET s3-objects/: with `bucket` and any of prefix, delimiter, start_after,
    continuation_token, the cursor listing of that bucket; otherwise a page of the caller's
    object versions, filtered and ordered as any collection."""
    ctx = request.ctx
    cursor = ("prefix", "delimiter", "start_after", "continuation_token")
    ref = request.arg("bucket")
    if ref and any(request.arg(name) is not None for name in cursor):
        return listing_page(ctx, buckets.bucket_of(ctx, ref), request)
    return list_page(ctx, S3_OBJECTS, request.query, path=request.path)


def bucket_versions(request: Request) -> dict[str, Any]:
    """GET buckets/<id>/versions/: every version and delete marker, by key then newest first;
    `key` for one key's, `prefix` for a range; a cursor as for objects."""
    ctx = request.ctx
    bucket = buckets.bucket_of(ctx, request.params["id"])
    request.subject = bucket
    model = S3Object
    page_size = _page_size(request)
    exact = request.arg("key")
    prefix = request.arg("prefix") or ""
    query = select(*listing_columns()).where(col(model.bucket) == bucket.bucket_id)
    key, row_id = col(model.object_key), col(model.id)
    if exact is not None:
        query = query.where(key == check_key(exact))
    elif prefix:
        query = query.where(key >= prefix)
        upper = _after(prefix)
        if upper is not None:
            query = query.where(key < upper)
    token = request.arg("continuation_token")
    if token:
        position = _untoken(token)
        last_key, last_id = position["k"], position.get("n", 0)
        if not isinstance(last_id, int) or not 0 <= last_id < 2**63:
            raise field_error("continuation_token", "not a token this engine gave")
        query = query.where((key > last_key) | ((key == last_key) & (row_id < last_id)))
    rows = ctx.session.execute(query.order_by(key, row_id.desc()).limit(page_size + 1)).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    next_token = _token({"k": rows[-1].object_key, "n": rows[-1].id}) if more and rows else None
    return {
        "count": None,
        "next": _next_link(request, next_token),
        "previous": None,
        "results": [item(r) for r in rows],
        "is_truncated": more,
        "next_continuation_token": next_token,
    }
