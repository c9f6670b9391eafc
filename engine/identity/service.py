"""Identity rules: users, credentials, authentication of a header, authorization of a route."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, func, select

from engine import audit, prepared
from engine.context import ROLES, SCOPES, Ctx, Principal, scope_allows
from engine.db import Database
from engine.errors import Conflict, Forbidden, NotFound, Unauthenticated, field_error
from engine.identity.models import ApiKey, Token, User
from engine.identity.passwords import hash_password, verify_password
from engine.ids import new_id
from engine.resources import locked

API_KEY_PREFIX = "atonix_"
TOKEN_PREFIX = "atonixt_"
MAX_ACTIVE_KEYS = 5
DEFAULT_KEY_DAYS = 90
TOKEN_LIFETIME = timedelta(hours=12)
USERNAME_PATTERN = re.compile(r"[a-z][a-z0-9_.-]{1,62}")
MIN_PASSWORD = 8  # characters
ALL_SCOPES = ("*",)


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- users -------------------------------------------------------------------------------------


def create_user(
    ctx: Ctx, *, username: str, password: str, role: str = "developer", email: str = ""
) -> User:
    session = ctx.session
    if not USERNAME_PATTERN.fullmatch(username):
        raise field_error(
            "username", "2-63 lowercase letters, digits, '.', '_' or '-', starting with a letter"
        )
    _check_password(password)
    if role not in ROLES:
        raise field_error("role", f"must be one of {', '.join(ROLES)}")
    # Two creates of one name queue here (PostgreSQL; SQLite's write lock already does), so
    # the second sees the first's user: a 409, not the unique index's error.
    ctx.db.serialize(ctx.conn, f"username:{username}")
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role, email=email)
    session.add(user)
    session.flush()
    ctx.audited(resource_id=username, resource_name=username, role=role)
    return user


def get_user(session: Session, *, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def update_user(
    ctx: Ctx,
    user: User,
    *,
    role: str | None = None,
    password: str | None = None,
    email: str | None = None,
    is_active: bool | None = None,
) -> User:
    _lock_for_change(ctx, user)
    if user.id == ctx.principal.user_id and role not in (None, "admin"):
        raise Conflict("you cannot remove your own admin role")
    if role is not None:
        if role not in ROLES:
            raise field_error("role", f"must be one of {', '.join(ROLES)}")
        user.role = role
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password)
    if email is not None:
        user.email = email
    if is_active is not None:
        if not is_active and user.id == ctx.principal.user_id:
            raise Conflict("you cannot deactivate yourself")
        user.is_active = is_active
    user.updated_at = ctx.now
    ctx.session.add(user)
    changed = {"role": role, "email": email, "is_active": is_active}
    ctx.audited(
        resource_id=user.username,
        resource_name=user.username,
        password_changed=password is not None,
        **{k: v for k, v in changed.items() if v is not None},
    )
    return user


def _lock_for_change(ctx: Ctx, user: User) -> None:
    """Lock the changed user's row and the calling admin's, in id order, re-read both, and
    check that the caller is still an active admin: two admins demoting each other at once
    leave one admin (the second finds itself demoted: 403), and the reply is the row as
    committed. (SQLite's write transaction already holds the database.)"""
    rows = ctx.session.exec(
        locked(
            select(User)
            .where(col(User.id).in_({user.id, ctx.principal.user_id}))
            .order_by(col(User.id))
        )
    ).all()
    caller = next((row for row in rows if row.id == ctx.principal.user_id), None)
    if caller is None or caller.role != "admin" or not caller.is_active:
        raise Forbidden("this operation needs the admin role")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise field_error("password", f"must be at least {MIN_PASSWORD} characters")


# --- credentials -------------------------------------------------------------------------------


def login(session: Session, *, username: str, password: str, now: datetime) -> tuple[str, Token]:
    """Exchange a username and password for a bearer token (the secret is returned only here)."""
    user = session.exec(select(User).where(User.username == username)).first()
    # Verify even for unknown users so timing does not reveal which usernames exist.
    stored = user.password_hash if user else _dummy_hash()
    if not verify_password(password, stored) or user is None or not user.is_active:
        raise Unauthenticated("invalid username or password")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    assert user.id is not None
    token = Token(
        token_id=new_id("tok"),
        user_id=user.id,
        token_hash=sha256(secret),
        expires_at=now + TOKEN_LIFETIME,
        created_at=now,
    )
    session.add(token)
    return secret, token


def revoke_token(ctx: Ctx) -> None:
    """Revoke the bearer token the caller authenticated with."""
    if ctx.principal.credential != "token":
        raise Conflict("logout revokes a bearer token; this request used an API key")
    # Locked and re-read: of logouts at once with one token, the first revokes it.
    token = ctx.session.exec(
        locked(select(Token).where(Token.token_id == ctx.principal.credential_id))
    ).one()
    if token.revoked_at is not None:  # another logout with it came first, as if in sequence
        raise Unauthenticated("invalid or revoked bearer token")
    token.revoked_at = ctx.now
    ctx.session.add(token)
    ctx.audited(resource_id=token.token_id)


def create_api_key(
    ctx: Ctx,
    *,
    name: str,
    scopes: list[str] | None = None,
    expires_in_days: int | None = DEFAULT_KEY_DAYS,
) -> tuple[str, ApiKey]:
    """A new API key for the caller, no wider than the asking credential; the secret shows once."""
    owner_id = ctx.principal.user_id
    wanted = list(scopes) if scopes else list(ALL_SCOPES)
    for scope in wanted:
        if scope not in (*SCOPES, "*") and not (
            scope.endswith(":*") and scope.removesuffix(":*") in {s.split(":")[0] for s in SCOPES}
        ):
            raise field_error("scopes", f"unknown scope {scope!r}")
        if not all(scope_allows(ctx.principal.scopes, s) for s in _expand(scope)):
            raise Forbidden(f"a key cannot grant {scope!r}: the calling credential lacks it")
    if not name or len(name) > 255:
        raise field_error("name", "required, at most 255 characters")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise field_error("expires_in_days", "must be between 1 and 3650")
    # The owner's row, locked: creates of one user's keys count one after another, so the
    # limit holds under concurrency. (SQLite's write transaction already holds the database.)
    ctx.session.exec(select(User.id).where(User.id == owner_id).with_for_update()).first()
    active = ctx.session.exec(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.user_id == owner_id, col(ApiKey.revoked_at).is_(None))
        .where((col(ApiKey.expires_at).is_(None)) | (col(ApiKey.expires_at) > ctx.now))
    ).one()
    if active >= MAX_ACTIVE_KEYS:
        raise Conflict(
            f"at most {MAX_ACTIVE_KEYS} active API keys per user; revoke one first",
            details={"limit": MAX_ACTIVE_KEYS, "active": active},
        )
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        key_id=new_id("key"),
        user_id=owner_id,
        name=name,
        prefix=secret[: len(API_KEY_PREFIX) + 4],
        key_hash=sha256(secret),
        scopes=wanted,
        expires_at=ctx.now + timedelta(days=expires_in_days) if expires_in_days else None,
        created_at=ctx.now,
    )
    ctx.session.add(key)
    ctx.audited(resource_id=key.key_id, resource_name=name, scopes=wanted)
    return secret, key


def list_api_keys(ctx: Ctx) -> list[ApiKey]:
    return list(
        ctx.session.exec(
            select(ApiKey)
            .where(ApiKey.user_id == ctx.principal.user_id)
            .order_by(col(ApiKey.created_at), col(ApiKey.id))
        )
    )


def revoke_api_key(ctx: Ctx, *, key_id: str) -> ApiKey:
    # Locked and re-read: of revokes at once, the first sets revoked_at and the rest see it.
    key = ctx.session.exec(
        locked(
            select(ApiKey).where(ApiKey.key_id == key_id, ApiKey.user_id == ctx.principal.user_id)
        )
    ).first()
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = ctx.now
        ctx.session.add(key)
    ctx.audited(resource_id=key.key_id, resource_name=key.name)
    return key


def _expand(scope: str) -> tuple[str, ...]:
    if scope == "*":
        return SCOPES
    if scope.endswith(":*"):
        service = scope.removesuffix(":*")
        return (f"{service}:read", f"{service}:write")
    return (scope,)


# --- authentication and authorization ----------------------------------------------------------


def authenticate(
    bind: Session | Connection, *, authorization: str | None, now: datetime
) -> Principal:
    """The principal behind an `Authorization` header: `Token`, `ApiKey` or `Bearer` (SPEC A2)."""
    if not authorization:
        raise Unauthenticated("authentication required: send an API key or a bearer token")
    scheme, _, secret = authorization.strip().partition(" ")
    scheme, secret = scheme.lower(), secret.strip()
    if scheme in ("token", "apikey"):
        # One query for the credential and its user (outer join: a vanished user is "inactive").
        key = prepared.run(bind, _KEY_AND_USER, {"hash": sha256(secret)}).first()
        if key is None or key.revoked_at is not None:
            raise Unauthenticated("invalid or revoked API key")
        if key.expires_at is not None and key.expires_at <= now:
            raise Unauthenticated("API key expired")
        user, scopes, credential, credential_id = key, tuple(key.scopes), "api_key", key.key_id
    elif scheme == "bearer":
        token = prepared.run(bind, _TOKEN_AND_USER, {"hash": sha256(secret)}).first()
        if token is None or token.revoked_at is not None:
            raise Unauthenticated("invalid or revoked bearer token")
        if token.expires_at <= now:
            raise Unauthenticated("bearer token expired; log in again")
        user, scopes, credential, credential_id = token, ALL_SCOPES, "token", token.token_id
    else:
        raise Unauthenticated("unsupported Authorization scheme; use Token, ApiKey or Bearer")
    if user.user_id is None or not user.is_active:
        raise Unauthenticated("the user of this credential is inactive")
    return Principal(
        user_id=user.user_id,
        username=user.username,
        role=user.role,
        scopes=scopes,
        credential=credential,
        credential_id=credential_id,
    )


def _credential_and_user(table: Any, hash_column: str, *columns: str) -> Any:
    """A credential's row by its hash, with its user's columns (None if the user is gone)."""
    users = User.__table__  # type: ignore[attr-defined]
    return (
        sa_select(
            *(table.c[name] for name in columns),
            table.c.revoked_at,
            table.c.expires_at,
            users.c.id.label("user_id"),
            users.c.username,
            users.c.role,
            users.c.is_active,
        )
        .select_from(table.outerjoin(users, users.c.id == table.c.user_id))
        .where(table.c[hash_column] == bindparam("hash"))
        .limit(1)
    )


_KEY_AND_USER = _credential_and_user(
    ApiKey.__table__,  # type: ignore[attr-defined]
    "key_hash",
    "key_id",
    "scopes",
)
_TOKEN_AND_USER = _credential_and_user(
    Token.__table__,  # type: ignore[attr-defined]
    "token_hash",
    "token_id",
)


def authorize(principal: Principal, permission: str) -> None:
    """Role and scope check for one route: `<service>:read|write`, `admin` or `authenticated`."""
    if permission == "authenticated":
        return
    if permission == "admin":
        if not principal.is_admin:
            raise Forbidden("this operation needs the admin role")
        if not principal.has_scope("admin"):
            raise Forbidden("this credential lacks the 'admin' scope")
        return
    if permission.endswith(":write") and principal.role == "viewer":
        raise Forbidden("the viewer role can only read")
    if not principal.has_scope(permission):
        raise Forbidden(f"this credential lacks the {permission!r} scope")


# --- bootstrap ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminCredentials:
    username: str
    password: str
    api_key: str


def bootstrap_admin(db: Database, *, username: str = "admin") -> AdminCredentials | None:
    """On a database with no users, create the first admin and an API key; None when users exist."""
    with db.session(write=True) as session:
        # Several servers starting together on one empty database: the first in makes the admin.
        db.serialize(session.connection(), "bootstrap")
        if session.exec(select(User.id).limit(1)).first() is not None:
            return None
        now = db.now(session)
        password = secrets.token_urlsafe(18)
        system = Ctx(db=db, session=session, principal=SYSTEM, now=now)
        user = create_user(system, username=username, password=password, role="admin")
        _record(system, "create", "user")
        assert user.id is not None
        principal = Principal(
            user_id=user.id,
            username=username,
            role="admin",
            scopes=ALL_SCOPES,
            credential="bootstrap",
            credential_id="",
        )
        ctx = Ctx(db=db, session=session, principal=principal, now=now)
        secret, _ = create_api_key(ctx, name="bootstrap", expires_in_days=None)
        _record(ctx, "create", "api_key")
        return AdminCredentials(username=username, password=password, api_key=secret)


def _record(ctx: Ctx, action: str, resource_type: str) -> None:
    """The audit record of a change made outside any request (the dispatcher writes the rest)."""
    resource_id, resource_name = ctx.audit_subject
    audit.record(
        ctx,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        details=ctx.audit_details,
    )


# Who the audit log names for what the engine does by itself (the first admin's creation).
SYSTEM = Principal(
    user_id=0,
    username="system",
    role="admin",
    scopes=ALL_SCOPES,
    credential="none",
    credential_id="",
)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))
