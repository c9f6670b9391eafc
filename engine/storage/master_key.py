"""The master key that wraps all key material: from `ATONIX_MASTER_KEY` or the data dir."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select as sa_select

from engine.errors import InternalError

if TYPE_CHECKING:
    from sqlmodel import Session

    from engine.db import Database

log = logging.getLogger("atonix.engine")

MASTER_ENV = "ATONIX_MASTER_KEY"
MASTER_FILE = "master.key"
NONCE = 12  # bytes of AES-GCM nonce, stored before what it seals

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


def check_master(session: Session, db: Database, fingerprint: str) -> None:
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


def fingerprint(master: bytes) -> str:
    return hashlib.sha256(b"atonix-master-key\0" + master).hexdigest()[:16]


def aead(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)
