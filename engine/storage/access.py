"""Who may read and write objects: the bucket's owner (or an admin) with a credential; anyone,
for a public object's reads; anyone holding a presigned URL, for the one method and key it was
signed for, until it expires (the URL is signed with a secret only the engine holds)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field as PydanticField

from engine.api.http import Request
from engine.context import Ctx, Principal
from engine.errors import Forbidden, NotFound, Unauthenticated
from engine.resources import Body
from engine.storage import buckets
from engine.storage import s3_objects as objects
from engine.storage.buckets import Bucket

MAX_PRESIGN_SECONDS = 7 * 24 * 3600


# --- keys and access -------------------------------------------------------------------------


def object_key(request: Request) -> str:
    """The key: the rest of the path, percent-decoded once. A WSGI server hands the path over
    as latin-1 characters of its bytes (PEP 3333), decoded here as UTF-8; a path that is not
    such a spelling (httpx's WSGITransport decodes as UTF-8 itself) is taken as it is."""
    raw = request.params["key"]
    try:
        key = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        key = raw
    return objects.check_key(key)


def _signature(secret: bytes, method: str, bucket_id: str, key: str, expires: int) -> str:
    message = f"{method}\n{bucket_id}\n{key}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def presign_secret(db: Any) -> bytes:
    """The engine's signing secret: `ATONIX_PRESIGN_KEY`, or `<data_dir>/presign.key` (0600),
    made on first use; shared by every worker and server on that data directory."""
    configured = os.environ.get("ATONIX_PRESIGN_KEY")
    if configured:
        return configured.encode()
    path = Path(db.data_dir) / "presign.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32).encode()
    temporary = path.with_name(f".presign.key.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)  # the first to get there wins; everyone reads its secret
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_bytes()


def _as_owner(ctx: Ctx, bucket: Bucket, via: str) -> None:
    """A presigned request acts as the bucket's owner, who signed it."""
    ctx.principal = Principal(
        user_id=0,
        username=bucket.owner or "",
        role="developer",
        scopes=("storage:read", "storage:write"),
        credential=via,
        credential_id="",
    )


def _presigned(ctx: Ctx, request: Request, key: str, method: str) -> Bucket | None:
    """The bucket of a valid presigned request; None if the request is not presigned; 403 if
    the URL was altered, is for another method or key, or has expired."""
    signature = request.arg("signature")
    if signature is None:
        return None
    expires_raw, signed_method = request.arg("expires") or "", request.arg("method") or ""
    refused = Forbidden("the presigned URL is invalid or has expired")
    if not expires_raw.isdecimal() or signed_method != method:
        raise refused
    expires = int(expires_raw)
    bucket = buckets.find_public(ctx, request.params["id"])
    if bucket is None:
        raise refused
    expected = _signature(presign_secret(ctx.db), method, bucket.bucket_id, key, expires)
    if not hmac.compare_digest(expected, signature):
        raise refused
    if expires <= int(ctx.now.timestamp()):
        raise refused
    _as_owner(ctx, bucket, "presigned")
    return bucket


def readable_bucket(ctx: Ctx, request: Request, key: str) -> tuple[Bucket, bool]:
    """The bucket a read names, and whether only public objects of it may be read."""
    presigned = _presigned(ctx, request, key, "GET")
    if presigned is not None:
        return presigned, False
    ref = request.params["id"]
    if ctx.principal.username:
        try:
            return buckets.find(ctx, ref), False
        except NotFound:
            found = buckets.find_public(ctx, ref)
            if found is None:
                raise
            return found, True  # another user's bucket: its public objects only, else 404
    found = buckets.find_public(ctx, ref)
    if found is None:
        raise Unauthenticated("authentication required: send an API key or a bearer token")
    return found, True


def writable_bucket(
    ctx: Ctx, request: Request, key: str, method: str, *, lock: bool = False
) -> Bucket:
    """The bucket a write names, locked until the unit of work ends if `lock` (and active)."""
    presigned = _presigned(ctx, request, key, method)
    if presigned is not None:
        return for_write(ctx, presigned) if lock else presigned
    if not ctx.principal.username:
        raise Unauthenticated("authentication required: send an API key or a bearer token")
    found = buckets.find(ctx, request.params["id"], for_write=lock)
    if lock:
        buckets.require_active(found)
    return found


def for_write(ctx: Ctx, bucket: Bucket) -> Bucket:
    """The bucket's row again, locked until the unit of work ends (its totals change)."""
    locked = buckets.find(ctx, bucket.bucket_id, for_write=True, owner=bucket.owner)
    buckets.require_active(locked)
    return locked


# --- presigned URLs --------------------------------------------------------------------------


class PresignBody(Body):
    key: str
    method: Literal["GET", "PUT"] = "GET"
    expires_in: int = PydanticField(default=3600, ge=1, le=MAX_PRESIGN_SECONDS)


def presign(request: Request) -> dict[str, Any]:
    """POST buckets/<id>/presign/: a URL for one GET or PUT of one key, until it expires."""
    from urllib.parse import quote, urlencode

    ctx = request.ctx
    body = request.parse(PresignBody)
    key = objects.check_key(body.key)
    bucket = buckets.bucket_of(ctx, request.params["id"])
    if body.method == "PUT":
        from engine.identity.service import authorize

        authorize(ctx.principal, "storage:write")
    expires_at = ctx.now + timedelta(seconds=body.expires_in)
    expires = int(expires_at.timestamp())
    signature = _signature(presign_secret(ctx.db), body.method, bucket.bucket_id, key, expires)
    from engine.api.routes import SERVICES

    path = f"{SERVICES}/buckets/{bucket.bucket_id}/objects/{quote(key, safe='/')}"
    query = urlencode({"expires": expires, "method": body.method, "signature": signature})
    host = request.headers.get("host")
    return {
        "url": f"http://{host}{path}?{query}" if host else None,
        "path": f"{path}?{query}",
        "method": body.method,
        "bucket": bucket.bucket_id,
        "key": key,
        "expires_at": expires_at,
    }
