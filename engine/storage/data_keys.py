"""Data keys: what storage calls to seal and open each object version (engine.storage.sealing)."""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, event, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session as SASession
from sqlmodel import col, select

from engine.context import Ctx
from engine.errors import InternalError, InvalidState, NotFound, field_error
from engine.storage.encryption_keys import (
    ENCRYPTION_KEYS,
    EncryptionKey,
    EncryptionKeyMaterial,
    insert_key,
    open_material,
    rotate,
)
from engine.storage.master_key import NONCE, aead

if TYPE_CHECKING:
    from sqlmodel import Session

DATA_KEY_BYTES = 32
# A wrapped data key: format (1) | material version (4) | nonce (12) | AES-GCM(data key) (48).
_WRAP_FORMAT = 1
_WRAPPED_BYTES = 1 + 4 + NONCE + DATA_KEY_BYTES + 16


def bucket_key(ctx: Ctx, *, bucket_id: str, owner: str, kms_key_id: str | None = None) -> str:
    """The key id a bucket's objects are sealed under.

    With no `kms_key_id`, the owner's key named `bucket-<bucket_id>`, created (and audited) the
    first time (SPEC B3). A given `kms_key_id` (a key id, or the name of one of the owner's
    keys) must be the owner's symmetric key and enabled: else 400 VALIDATION_ERROR, or 409
    INVALID_STATE for a disabled key.
    """
    if kms_key_id is None:
        name = f"bucket-{bucket_id}"
        existing = _find(ctx, owner, name, by_name_only=True)
        if existing is not None:
            _check_usable(existing)
            return existing.key_id
        key = insert_key(ctx, owner=owner, name=name)
        from engine import audit

        audit.record(
            ctx,
            action="create",
            resource_type=ENCRYPTION_KEYS.resource_type,
            resource_id=key.key_id,
            resource_name=key.name,
            details={"bucket_id": bucket_id, "key_type": key.key_type},
        )
        return key.key_id
    given = _find(ctx, owner, kms_key_id)
    if given is None:
        raise field_error("kms_key_id", f"no encryption key {kms_key_id!r} of yours")
    if given.key_type != "symmetric":
        raise field_error(
            "kms_key_id",
            f"encryption key {given.key_id} is {given.key_type}; a bucket needs a symmetric one",
        )
    _check_usable(given)
    return given.key_id


def _find(ctx: Ctx, owner: str, ref: str, *, by_name_only: bool = False) -> EncryptionKey | None:
    mine = select(EncryptionKey).where(col(EncryptionKey.owner) == owner)
    match = col(EncryptionKey.name) == ref
    if not by_name_only:
        match = or_(col(EncryptionKey.key_id) == ref, match)
    rows = ctx.session.exec(mine.where(match)).all()
    by_id = [k for k in rows if k.key_id == ref]
    found = by_id or list(rows)
    return found[0] if found else None


def _check_usable(key: Any) -> None:
    """409 INVALID_STATE naming a key (a row or a model: `key_id`, `name`, `key_state`) that
    is not enabled."""
    if key.key_state != "enabled":
        label = f"{key.key_id} ({key.name})" if key.name != key.key_id else key.key_id
        raise InvalidState(
            f"encryption key {label} is {key.key_state}; `atonix key enable {key.key_id}` "
            "makes its objects readable and writable again",
            details={"key_id": key.key_id, "key_state": key.key_state},
        )


_keys = EncryptionKey.__table__  # type: ignore[attr-defined]
_material_rows = EncryptionKeyMaterial.__table__  # type: ignore[attr-defined]
_KEY_COLUMNS = (
    _keys.c.key_id,
    _keys.c.name,
    _keys.c.key_state,
    _keys.c.key_type,
    _keys.c.rotation_enabled,
    _keys.c.next_rotation_at,
    _keys.c.current_version,
    _material_rows.c.wrapped,
    _material_rows.c.master,
)


def _key_with_material(version: Any) -> Any:
    """A key with one version of its material, in one query (every object read and write
    makes one): its current version, or the version a wrapped data key names."""
    return (
        sa_select(*_KEY_COLUMNS)
        .select_from(
            _keys.outerjoin(
                _material_rows,
                and_(
                    _material_rows.c.key_id == _keys.c.key_id, _material_rows.c.version == version
                ),
            )
        )
        .where(_keys.c.key_id == bindparam("key_id"))
    )


_WITH_CURRENT = _key_with_material(_keys.c.current_version)
_WITH_VERSION = _key_with_material(bindparam("version"))


def _lookup(ctx: Ctx, key_id: str, version: int | None = None) -> Any:
    if version is None:
        row = ctx.session.execute(_WITH_CURRENT, {"key_id": key_id}).first()
    else:
        row = ctx.session.execute(_WITH_VERSION, {"key_id": key_id, "version": version}).first()
    if row is None:
        raise NotFound(f"encryption key {key_id} not found", details={"id": key_id})
    return row


def new_data_key(ctx: Ctx, *, key_id: str) -> tuple[bytes, bytes]:
    """A fresh data key for one object version, and that key wrapped by `key_id`'s current
    material (store the wrapped one with the version). 409 INVALID_STATE naming a disabled key.

    A key whose rotation is due is rotated first (automatic rotation happens on use)."""
    key = _lookup(ctx, key_id)
    _check_usable(key)
    if key.key_type != "symmetric":
        raise field_error("kms_key_id", f"encryption key {key_id} is {key.key_type}")
    if key.rotation_enabled and key.next_rotation_at and key.next_rotation_at <= ctx.now:
        model = ctx.session.exec(
            select(EncryptionKey).where(col(EncryptionKey.key_id) == key_id).with_for_update()
        ).one()
        rotate(ctx, model)
        ctx.session.flush()
        key = _lookup(ctx, key_id)
    version = key.current_version
    material = open_material(ctx.db, key_id, version, key)
    data_key = os.urandom(DATA_KEY_BYTES)
    nonce = os.urandom(NONCE)
    header = struct.pack(">BI", _WRAP_FORMAT, version)
    sealed = aead(material).encrypt(nonce, data_key, _data_key_aad(key_id, header))
    _count_operation(ctx.session, key_id)
    return data_key, header + nonce + sealed


def unwrap_data_key(ctx: Ctx, *, key_id: str, wrapped: bytes) -> bytes:
    """The data key `new_data_key` wrapped, under whichever material version wrapped it.
    409 INVALID_STATE naming a disabled key; 500 INTERNAL_ERROR if the wrapped key is damaged."""
    from cryptography.exceptions import InvalidTag

    wrapped = bytes(wrapped)
    if len(wrapped) != _WRAPPED_BYTES or wrapped[0] != _WRAP_FORMAT:
        _check_usable(_lookup(ctx, key_id))  # a disabled key is still the clearer error
        raise InternalError(f"a data key wrapped by {key_id} is damaged (bad length or format)")
    header = wrapped[:5]
    (version,) = struct.unpack(">I", header[1:])
    key = _lookup(ctx, key_id, version)
    _check_usable(key)
    material = open_material(ctx.db, key_id, version, key)
    try:
        return bytes(
            aead(material).decrypt(
                wrapped[5 : 5 + NONCE], wrapped[5 + NONCE :], _data_key_aad(key_id, header)
            )
        )
    except InvalidTag:
        raise InternalError(
            f"a data key wrapped by {key_id} (version {version}) does not open"
        ) from None


def _data_key_aad(key_id: str, header: bytes) -> bytes:
    return b"atonix-data-key\0" + key_id.encode() + header


def _count_operation(session: Session, key_id: str) -> None:
    """Count a data key issued, at commit: an UPDATE now would hold the key's row lock
    (PostgreSQL) for as long as the upload it serves streams."""
    pending: dict[str, int] = session.info.setdefault("atonix_key_operations", {})
    pending[key_id] = pending.get(key_id, 0) + 1


def _flush_operations(session: SASession) -> None:
    pending: dict[str, int] | None = session.info.pop("atonix_key_operations", None)
    for key_id, count in (pending or {}).items():
        session.execute(_COUNT, {"c_key_id": key_id, "c_count": count})


_COUNT = (
    update(_keys)
    .where(_keys.c.key_id == bindparam("c_key_id"))
    .values(encryption_operations_count=_keys.c.encryption_operations_count + bindparam("c_count"))
)
# Every session's commit looks for counts to write (a dict lookup): listening on the one session
# that counted costs more than a small put's whole UPDATE.
event.listen(SASession, "before_commit", _flush_operations)
