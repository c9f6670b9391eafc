"""Encryption keys: the collection, its key material wrapped by the master key, rotation."""

from __future__ import annotations

import os
import re
import struct
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field as PydanticField
from sqlalchemy import Index, LargeBinary, UniqueConstraint, delete, func, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col, select

from engine.collection import Action, Collection
from engine.context import Ctx
from engine.errors import Conflict, DependencyViolation, InternalError, InvalidState, field_error
from engine.resources import (
    CommonInput,
    OneOf,
    ResourceBase,
    apply_common,
    common_public,
    parse_bool,
)
from engine.sqltypes import UTCDateTime
from engine.storage.master_key import (
    MASTER_ENV,
    MASTER_FILE,
    NONCE,
    aead,
    check_master,
    fingerprint,
    master_key,
)

if TYPE_CHECKING:
    from engine.db import Database

KEY_TYPES = ("symmetric", "asymmetric-rsa", "asymmetric-ecc")
ALGORITHMS = {
    "symmetric": ("AES_256",),
    "asymmetric-rsa": ("RSA_2048", "RSA_3072", "RSA_4096"),
    "asymmetric-ecc": ("ECC_NIST_P256", "ECC_NIST_P384"),
}
KEY_STATES = ("enabled", "disabled", "pending-deletion", "retired")


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
    key_type: Annotated[str, OneOf(KEY_TYPES)] = "symmetric"
    algorithm: str | None = None
    rotation_enabled: bool = True
    rotation_period_days: int = PydanticField(default=90, ge=1, le=2560)


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
    check_master(ctx.session, ctx.db, fingerprint(master))
    nonce = os.urandom(NONCE)
    material = _new_material(key.key_type, key.algorithm)
    sealed = aead(master).encrypt(nonce, material, _material_aad(key.key_id, version))
    ctx.session.add(
        EncryptionKeyMaterial(
            key_id=key.key_id,
            version=version,
            wrapped=nonce + sealed,
            master=fingerprint(master),
            created_at=ctx.now,
        )
    )


def open_material(db: Database, key_id: str, version: int, row: Any) -> bytes:
    """The material of one version of a key, from its row's `wrapped` and `master` columns."""
    from cryptography.exceptions import InvalidTag

    if row is None or row.wrapped is None:
        raise InternalError(f"encryption key {key_id} has no material version {version}")
    master = master_key(db)
    wrapped = bytes(row.wrapped)
    try:
        return bytes(
            aead(master).decrypt(wrapped[:NONCE], wrapped[NONCE:], _material_aad(key_id, version))
        )
    except InvalidTag:
        if row.master != fingerprint(master):
            raise InternalError(
                f"encryption key {key_id} was made under another master key (fingerprint "
                f"{row.master}) than this engine's ({fingerprint(master)}): start the engine "
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


def insert_key(
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
    key = insert_key(
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
    if not inspect(ctx.conn).has_table(model.__tablename__):
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


def rotate(ctx: Ctx, key: EncryptionKey) -> None:
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
    rotate(ctx, key)
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
