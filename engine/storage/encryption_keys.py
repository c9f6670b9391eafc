"""Encryption keys: engine-made key material wrapped by a master key, rotation, enable, disable,
and the data keys that seal each object version (engine.storage.sealing)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
import struct
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field as PydanticField
from pydantic import field_validator
from sqlalchemy import (
    Index,
    LargeBinary,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    event,
    func,
    inspect,
    or_,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as SASession
from sqlmodel import Field, SQLModel, col, select

from engine.collection import Action, Collection
from engine.context import Ctx
from engine.errors import (
    Conflict,
    DependencyViolation,
    InternalError,
    InvalidState,
    NotFound,
    field_error,
)
from engine.resources import CommonInput, ResourceBase, apply_common, common_public, parse_bool
from engine.sqltypes import UTCDateTime

if TYPE_CHECKING:
    from sqlmodel import Session

    from engine.db import Database

log = logging.getLogger("atonix.engine")

KEY_TYPES = ("symmetric", "asymmetric-rsa", "asymmetric-ecc")
ALGORITHMS = {
    "symmetric": ("AES_256",),
    "asymmetric-rsa": ("RSA_2048", "RSA_3072", "RSA_4096"),
    "asymmetric-ecc": ("ECC_NIST_P256", "ECC_NIST_P384"),
}
KEY_STATES = ("enabled", "disabled", "pending-deletion", "retired")
MASTER_ENV = "ATONIX_MASTER_KEY"
MASTER_FILE = "master.key"
DATA_KEY_BYTES = 32
_NONCE = 12
# A wrapped data key: format (1) | material version (4) | nonce (12) | AES-GCM(data key) (48).
_WRAP_FORMAT = 1
_WRAPPED_BYTES = 1 + 4 + _NONCE + DATA_KEY_BYTES + 16


class EncryptionKey(ResourceBase, table=True):
    __tablename__ = "encryption_keys"
    # A name is its owner's handle on a key (`atonix key rotate app-data`), so it is unique
    # per owner; a bucket's own key is found by its name, `bucket-<bucket_id>` (SPEC B3).
    __table_args__ = (Index("ux_encryption_keys_owner_name", "owner", "name", unique=True),)
    key_id: str = Field(unique=True, max_length=32)
    key_type: str = Field(default="symmetric", max_length=16)
    algorithm: str = Field(default="AES_256", max_length=16)
    key_state: str = Field(default="enabled", max_length=16, index=True)
    rotation_enabled: bool = True
    rotation_period_days: int = 90
    last_rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_rotation_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rotation_count: int = 0
    encryption_operations_count: int = 0
    scheduled_deletion_date: datetime | None = Field(default=None, sa_type=UTCDateTime)
    current_version: int = 1


class EncryptionKeyMaterial(SQLModel, table=True):
    """One version of a key's material, wrapped by the master key; rotation adds a version and
    keeps the old ones, so what they sealed stays readable. No route ever reads this table."""

    __tablename__ = "encryption_key_material"
    __table_args__ = (UniqueConstraint("key_id", "version", name="uq_key_material_version"),)
    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=32, index=True)
    version: int
    wrapped: bytes = Field(sa_type=LargeBinary)
    master: str = Field(max_length=16)  # the master key's fingerprint, to name a mismatch
    created_at: datetime = Field(sa_type=UTCDateTime)


class KeyCreate(CommonInput):
    key_type: str = "symmetric"
    algorithm: str | None = None
    rotation_enabled: bool = True
    rotation_period_days: int = PydanticField(default=90, ge=1, le=2560)

    @field_validator("key_type")
    @classmethod
    def _key_type(cls, value: str) -> str:
        if value not in KEY_TYPES:
            raise ValueError(f"must be one of {', '.join(KEY_TYPES)}")
        return value


class KeyUpdate(CommonInput):
    rotation_enabled: bool | None = None
    rotation_period_days: int | None = PydanticField(default=None, ge=1, le=2560)


def public(key: EncryptionKey) -> dict[str, Any]:
    return {
        **common_public(key, "key_id"),
        "key_type": key.key_type,
        "algorithm": key.algorithm,
        "key_state": key.key_state,
        "rotation_enabled": key.rotation_enabled,
        "rotation_period_days": key.rotation_period_days,
        "last_rotated_at": key.last_rotated_at,
        "next_rotation_at": key.next_rotation_at,
        "rotation_count": key.rotation_count,
        "encryption_operations_count": key.encryption_operations_count,
        "scheduled_deletion_date": key.scheduled_deletion_date,
    }


def summary(key: EncryptionKey) -> dict[str, Any]:
    return {
        "resource_id": key.key_id,
        "key_id": key.key_id,
        "name": key.name,
        "key_type": key.key_type,
        "algorithm": key.algorithm,
        "key_state": key.key_state,
        "rotation_enabled": key.rotation_enabled,
        "rotation_count": key.rotation_count,
        "owner": key.owner,
        "created_at": key.created_at,
    }


# --- the master key ---------------------------------------------------------------------------

_masters: dict[str, bytes] = {}


def master_key(db: Database) -> bytes:
    """The 32-byte key that wraps all key material: `ATONIX_MASTER_KEY` (base64, for servers
    and replicas sharing one database), else `<data_dir>/master.key`, created 0600 on first use."""
    given = os.environ.get(MASTER_ENV)
    if given:
        found = _masters.get(given)
        if found is None:
            found = _masters[given] = _decode_master(given, MASTER_ENV)
        return found
    path = Path(db.data_dir) / MASTER_FILE
    cached = _masters.get(str(path))
    if cached is not None:
        return cached
    try:
        if not path.exists():
            _create_master(path)
        mode = path.stat().st_mode & 0o777
        text = path.read_text()
    except OSError as error:
        raise InternalError(
            f"the master key {path} cannot be read or created: {error.strerror or error}; "
            f"make the data directory writable, or give the key in {MASTER_ENV}"
        ) from None
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); it should be 0600", path, mode)
    found = _masters[str(path)] = _decode_master(text, str(path))
    return found


def _decode_master(text: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InternalError(f"the master key in {source} must be the base64 of 32 bytes")
    return raw


def _create_master(path: Path) -> None:
    """Write a new master key so that of several processes starting at once exactly one wins:
    each writes a private temporary file, and only the first link to the final name succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(os.urandom(32)).decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        log.info("created the master key %s", path)
    finally:
        temp.unlink(missing_ok=True)


# (database url, fingerprint) pairs this process has found to agree with the database's.
_agreed: set[tuple[str, str]] = set()
_MASTER_META = "master_key_fingerprint"


def _check_master(session: Session, db: Database, fingerprint: str) -> None:
    """Refuse to make key material under a master key other than the one the database's keys
    were made under: servers sharing a database each with a master.key of their own (say, per
    pod) would otherwise each seal what the others cannot open. The first key made records the
    master key's fingerprint in `atonix_meta`."""
    if (db.url, fingerprint) in _agreed:
        return
    from engine.db import Meta

    meta = Meta.__table__  # type: ignore[attr-defined]
    from sqlalchemy.dialects import postgresql, sqlite

    insert = sqlite.insert if db.is_sqlite else postgresql.insert
    # The first key's process records its fingerprint; of two racing, one insert wins (the
    # other waits for it, then does nothing) and both compare with what was recorded.
    session.execute(
        insert(meta).values(key=_MASTER_META, value=fingerprint).on_conflict_do_nothing()
    )
    recorded = session.execute(
        sa_select(meta.c.value).where(meta.c.key == _MASTER_META)
    ).scalar_one()
    if recorded != fingerprint:
        raise InternalError(
            f"this engine's master key (fingerprint {fingerprint}) is not the one this "
            f"database's encryption keys were made under ({recorded}): give every server "
            f"sharing the database the same {MASTER_ENV}"
        )
    _agreed.add((db.url, fingerprint))


def _fingerprint(master: bytes) -> str:
    return hashlib.sha256(b"atonix-master-key\0" + master).hexdigest()[:16]


def _aead(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


# --- key material -----------------------------------------------------------------------------


def _new_material(key_type: str, algorithm: str) -> bytes:
    if key_type == "symmetric":
        return os.urandom(32)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    private: Any
    if key_type == "asymmetric-rsa":
        private = rsa.generate_private_key(65537, int(algorithm.removeprefix("RSA_")))
    else:
        curve = ec.SECP256R1() if algorithm == "ECC_NIST_P256" else ec.SECP384R1()
        private = ec.generate_private_key(curve)
    return private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _material_aad(key_id: str, version: int) -> bytes:
    return b"atonix-key-material\0" + key_id.encode() + struct.pack(">I", version)


def _add_material(ctx: Ctx, key: EncryptionKey, version: int) -> None:
    master = master_key(ctx.db)
    _check_master(ctx.session, ctx.db, _fingerprint(master))
    nonce = os.urandom(_NONCE)
    material = _new_material(key.key_type, key.algorithm)
    sealed = _aead(master).encrypt(nonce, material, _material_aad(key.key_id, version))
    ctx.session.add(
        EncryptionKeyMaterial(
            key_id=key.key_id,
            version=version,
            wrapped=nonce + sealed,
            master=_fingerprint(master),
            created_at=ctx.now,
        )
    )


def _open_material(db: Database, key_id: str, version: int, row: Any) -> bytes:
    """The material of one version of a key, from its row's `wrapped` and `master` columns."""
    from cryptography.exceptions import InvalidTag

    if row is None or row.wrapped is None:
        raise InternalError(f"encryption key {key_id} has no material version {version}")
    master = master_key(db)
    wrapped = bytes(row.wrapped)
    try:
        return bytes(
            _aead(master).decrypt(
                wrapped[:_NONCE], wrapped[_NONCE:], _material_aad(key_id, version)
            )
        )
    except InvalidTag:
        if row.master != _fingerprint(master):
            raise InternalError(
                f"encryption key {key_id} was made under another master key (fingerprint "
                f"{row.master}) than this engine's ({_fingerprint(master)}): start the engine "
                f"with the master key it was made with ({MASTER_ENV} or {MASTER_FILE})"
            ) from None
        raise InternalError(f"the material of encryption key {key_id} is damaged") from None


# --- the collection's service functions ---------------------------------------------------------


_ID_LIKE = re.compile(r"key-[0-9a-f]{12}")


def _check_name(name: str, key_id: str) -> None:
    """A name that reads as another key's id would make `atonix key rotate <name>` ambiguous."""
    if _ID_LIKE.fullmatch(name) and name != key_id:
        raise field_error("name", "must not look like a key id (key-<12 hex digits>)")


def _name_taken(ctx: Ctx, owner: str, name: str, *, other_than: str = "") -> bool:
    query = select(func.count()).select_from(EncryptionKey)
    query = query.where(col(EncryptionKey.owner) == owner, col(EncryptionKey.name) == name)
    if other_than:
        query = query.where(col(EncryptionKey.key_id) != other_than)
    return bool(ctx.session.exec(query).one())


def _conflict(owner: str, name: str) -> Conflict:
    return Conflict(
        f"an encryption key named {name!r} already exists", details={"name": name, "owner": owner}
    )


def _insert(
    ctx: Ctx,
    *,
    owner: str,
    name: str | None,
    key_type: str = "symmetric",
    algorithm: str = "AES_256",
    rotation_enabled: bool = True,
    rotation_period_days: int = 90,
) -> EncryptionKey:
    key_id = ENCRYPTION_KEYS.new_id()
    name = name or key_id
    _check_name(name, key_id)
    if _name_taken(ctx, owner, name):
        raise _conflict(owner, name)
    key = EncryptionKey(
        key_id=key_id,
        name=name,
        owner=owner,
        key_type=key_type,
        algorithm=algorithm,
        rotation_enabled=rotation_enabled,
        rotation_period_days=rotation_period_days,
        next_rotation_at=_next_rotation(ctx.now, rotation_enabled, rotation_period_days),
        created_at=ctx.now,
        updated_at=ctx.now,
        tags={},
        meta={},
    )
    ENCRYPTION_KEYS.added(ctx, key)
    try:
        ctx.session.flush()
    except IntegrityError:  # the same name made by a concurrent request (PostgreSQL)
        raise _conflict(owner, name) from None
    _add_material(ctx, key, 1)
    return key


def _next_rotation(since: datetime, enabled: bool, days: int) -> datetime | None:
    return since + timedelta(days=days) if enabled else None


def create_key(ctx: Ctx, spec: KeyCreate) -> EncryptionKey:
    """A new key with fresh material (version 1); its name is the key id unless given."""
    allowed = ALGORITHMS[spec.key_type]
    algorithm = spec.algorithm or allowed[0]
    if algorithm not in allowed:
        raise field_error("algorithm", f"a {spec.key_type} key takes {', '.join(allowed)}")
    key = _insert(
        ctx,
        owner=ctx.principal.username,
        name=spec.name,
        key_type=spec.key_type,
        algorithm=algorithm,
        rotation_enabled=spec.rotation_enabled,
        rotation_period_days=spec.rotation_period_days,
    )
    if spec.description is not None:
        key.description = spec.description
    if spec.tags is not None:
        key.tags = spec.tags
    if spec.metadata is not None:
        key.meta = spec.metadata
    ctx.audit_details.update(key_type=key.key_type, algorithm=key.algorithm)
    return key


def update_key(ctx: Ctx, key: EncryptionKey, spec: KeyUpdate) -> EncryptionKey:
    if spec.name is not None:
        _check_name(spec.name, key.key_id)
    if spec.name is not None and _name_taken(
        ctx, key.owner or "", spec.name, other_than=key.key_id
    ):
        raise _conflict(key.owner or "", spec.name)
    apply_common(key, spec, now=ctx.now)
    if spec.rotation_enabled is not None:
        key.rotation_enabled = spec.rotation_enabled
    if spec.rotation_period_days is not None:
        key.rotation_period_days = spec.rotation_period_days
    if spec.rotation_enabled is not None or spec.rotation_period_days is not None:
        key.next_rotation_at = _next_rotation(
            key.last_rotated_at or key.created_at, key.rotation_enabled, key.rotation_period_days
        )
    ctx.session.add(key)
    try:
        ctx.session.flush()
    except IntegrityError:  # renamed to a name a concurrent request just took (PostgreSQL)
        raise _conflict(key.owner or "", key.name) from None
    ctx.audit_details.update(spec.model_dump(exclude_none=True, exclude={"metadata"}))
    return key


def delete_key(ctx: Ctx, key: EncryptionKey, *, force: bool = False) -> int:
    """Deleting a key would make what it sealed unreadable forever: refused (409
    DEPENDENCY_VIOLATION) while a bucket names it or an object version is sealed with it."""
    for collection, column, what in (
        ("buckets", "kms_key_id", "bucket"),
        ("s3-objects", "key_id", "object version"),
    ):
        users = _users_of(ctx, key.key_id, collection, column)
        if users:
            raise DependencyViolation(
                f"encryption key {key.key_id} protects {users} {what}(s); delete them first "
                f"(or disable the key: `atonix key disable {key.key_id}`)",
                details={collection: users},
            )
    ctx.session.execute(
        delete(EncryptionKeyMaterial).where(col(EncryptionKeyMaterial.key_id) == key.key_id)
    )
    ctx.session.delete(key)
    return 204


def _users_of(ctx: Ctx, key_id: str, collection: str, column: str) -> int:
    from engine import registry

    if collection not in registry.modules():
        return 0
    model = registry.get(collection).model
    if column not in model.__table__.columns:
        return 0
    # Tables are made when their service is first used: no table yet, no users.
    if not inspect(ctx.session.connection()).has_table(model.__tablename__):
        return 0
    query = select(func.count()).select_from(model).where(col(getattr(model, column)) == key_id)
    if "status" in model.__table__.columns:
        query = query.where(col(model.status) != "deleted")
    return int(ctx.session.exec(query).one())


def _require_state(key: EncryptionKey, allowed: str) -> None:
    if key.key_state != allowed:
        raise InvalidState(
            f"Key must be {allowed} (encryption key {key.key_id} is {key.key_state})",
            details={"key_state": key.key_state, "allowed": [allowed]},
        )


def _rotate(ctx: Ctx, key: EncryptionKey) -> None:
    key.current_version += 1
    _add_material(ctx, key, key.current_version)
    key.rotation_count += 1
    key.last_rotated_at = key.updated_at = ctx.now
    key.next_rotation_at = ctx.now + timedelta(days=key.rotation_period_days)
    ctx.session.add(key)


def rotate_key(ctx: Ctx, key: EncryptionKey) -> dict[str, str]:
    """New material becomes current; older versions are kept, so what they sealed stays
    readable, and every data key issued from now on is wrapped by the new one (SPEC B3)."""
    _require_state(key, "enabled")
    _rotate(ctx, key)
    ctx.audit_details.update(version=key.current_version, rotation_count=key.rotation_count)
    return {"status": "Key rotated successfully"}


def disable_key(ctx: Ctx, key: EncryptionKey) -> EncryptionKey:
    _require_state(key, "enabled")
    return _set_state(ctx, key, "disabled")


def enable_key(ctx: Ctx, key: EncryptionKey) -> EncryptionKey:
    _require_state(key, "disabled")
    return _set_state(ctx, key, "enabled")


def _set_state(ctx: Ctx, key: EncryptionKey, state: str) -> EncryptionKey:
    key.key_state = state
    key.updated_at = ctx.now
    ctx.session.add(key)
    ctx.audit_details["key_state"] = state
    return key


# --- what storage calls -----------------------------------------------------------------------


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
        key = _insert(ctx, owner=owner, name=name)
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
# A key with one version of its material, in one query (every object read and write makes one):
# its current version, or the version a wrapped data key names.
_WITH_CURRENT = (
    sa_select(*_KEY_COLUMNS)
    .select_from(
        _keys.outerjoin(
            _material_rows,
            and_(
                _material_rows.c.key_id == _keys.c.key_id,
                _material_rows.c.version == _keys.c.current_version,
            ),
        )
    )
    .where(_keys.c.key_id == bindparam("key_id"))
)
_WITH_VERSION = (
    sa_select(*_KEY_COLUMNS)
    .select_from(
        _keys.outerjoin(
            _material_rows,
            and_(
                _material_rows.c.key_id == _keys.c.key_id,
                _material_rows.c.version == bindparam("version"),
            ),
        )
    )
    .where(_keys.c.key_id == bindparam("key_id"))
)


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
        _rotate(ctx, model)
        ctx.session.flush()
        key = _lookup(ctx, key_id)
    version = key.current_version
    material = _open_material(ctx.db, key_id, version, key)
    data_key = os.urandom(DATA_KEY_BYTES)
    nonce = os.urandom(_NONCE)
    header = struct.pack(">BI", _WRAP_FORMAT, version)
    sealed = _aead(material).encrypt(nonce, data_key, _data_key_aad(key_id, header))
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
    material = _open_material(ctx.db, key_id, version, key)
    try:
        return bytes(
            _aead(material).decrypt(
                wrapped[5 : 5 + _NONCE], wrapped[5 + _NONCE :], _data_key_aad(key_id, header)
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


ENCRYPTION_KEYS = Collection(
    service="storage",
    name="encryption-keys",
    label="encryption key",
    id_prefix="key",
    model=EncryptionKey,
    id_field="key_id",
    public=public,
    summary=summary,
    filters={
        "owner": str,
        "key_state": str,
        "key_type": str,
        "algorithm": str,
        "rotation_enabled": parse_bool,
    },
    search=("key_id", "name", "description"),
    ordering=("created_at", "name", "key_state", "last_rotated_at", "rotation_count"),
    default_ordering="-created_at",
    create_schema=KeyCreate,
    create=create_key,
    update_schema=KeyUpdate,
    update=update_key,
    delete=delete_key,
    actions=(
        Action(
            "rotate",
            rotate_key,
            summary="Rotate the key material (older versions stay readable)",
            message="Rotated",
        ),
        Action("disable", disable_key, summary="Disable an encryption key", message="Disabled"),
        Action("enable", enable_key, summary="Enable a disabled key", message="Enabled"),
    ),
)

# The tables delete_key counts in (buckets, object versions), created with this one's: imported
# last, as they import this module.
from engine.storage import buckets as _buckets  # noqa: E402, F401
