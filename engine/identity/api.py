"""HTTP adapters for login, logout, whoami, API keys and users."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field as PydanticField
from sqlmodel import col, select

from engine.api.http import Request, Response
from engine.identity import service
from engine.identity.models import ApiKey, User
from engine.resources import Body, Documented


class LoginBody(Body):
    username: str
    password: str


class KeyBody(Body):
    name: str = PydanticField(min_length=1, max_length=255)
    scopes: list[str] | None = None
    expires_in_days: int | None = PydanticField(default=service.DEFAULT_KEY_DAYS)


# The service checks these (its messages are the API's); OpenAPI states the same rules.
Username = Annotated[str, Documented({"pattern": f"^{service.USERNAME_PATTERN.pattern}$"})]
Password = Annotated[str, Documented({"minLength": service.MIN_PASSWORD})]
Role = Annotated[str, Documented({"enum": list(service.ROLES)})]


class UserBody(Body):
    username: Username = PydanticField(max_length=64)
    password: Password
    role: Role = "developer"
    email: str = PydanticField(default="", max_length=255)


class UserUpdateBody(Body):
    role: Role | None = None
    password: Password | None = None
    email: str | None = PydanticField(default=None, max_length=255)
    is_active: bool | None = None


def key_public(key: ApiKey, *, now: Any) -> dict[str, Any]:
    expired = key.expires_at is not None and key.expires_at <= now
    return {
        "key_id": key.key_id,
        "resource_id": key.key_id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "status": "revoked" if key.revoked_at else "expired" if expired else "active",
        "created_at": key.created_at,
    }


def user_public(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "resource_id": user.username,
        "email": user.email,
        "role": user.role,
        "is_active": user.is_active,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def login(request: Request) -> dict[str, Any]:
    body = request.parse(LoginBody)
    ctx = request.ctx
    secret, token = service.login(
        ctx.session, username=body.username, password=body.password, now=ctx.now
    )
    return {
        "token": secret,
        "token_id": token.token_id,
        "token_type": "Bearer",
        "expires_at": token.expires_at,
        "username": body.username,
    }


def logout(request: Request) -> dict[str, Any]:
    service.revoke_token(request.ctx)
    return {"status": "Logged out"}


def whoami(request: Request) -> dict[str, Any]:
    principal = request.ctx.principal
    user = request.ctx.session.get(User, principal.user_id)
    assert user is not None
    return {
        **user_public(user),
        "credential": {
            "type": principal.credential,
            "id": principal.credential_id,
            "scopes": list(principal.scopes),
        },
    }


def list_keys(request: Request) -> dict[str, Any]:
    ctx = request.ctx
    keys = [key_public(k, now=ctx.now) for k in service.list_api_keys(ctx)]
    return {"count": len(keys), "next": None, "previous": None, "results": keys}


def create_key(request: Request) -> Response:
    ctx = request.ctx
    body = request.parse(KeyBody)
    secret, key = service.create_api_key(
        ctx, name=body.name, scopes=body.scopes, expires_in_days=body.expires_in_days
    )
    return Response(201, {**key_public(key, now=ctx.now), "key": secret})


def revoke_key(request: Request) -> Response:
    service.revoke_api_key(request.ctx, key_id=request.params["id"])
    return Response(204, None)


def list_users(request: Request) -> dict[str, Any]:
    users = request.ctx.session.exec(select(User).order_by(col(User.id))).all()
    return {
        "count": len(users),
        "next": None,
        "previous": None,
        "results": [user_public(u) for u in users],
    }


def create_user(request: Request) -> Response:
    body = request.parse(UserBody)
    user = service.create_user(
        request.ctx,
        username=body.username,
        password=body.password,
        role=body.role,
        email=body.email,
    )
    return Response(201, user_public(user))


def get_user(request: Request) -> dict[str, Any]:
    return user_public(service.get_user(request.ctx.session, username=request.params["id"]))


def update_user(request: Request) -> dict[str, Any]:
    ctx = request.ctx
    body = request.parse(UserUpdateBody)
    user = service.get_user(ctx.session, username=request.params["id"])
    service.update_user(
        ctx,
        user,
        role=body.role,
        password=body.password,
        email=body.email,
        is_active=body.is_active,
    )
    return user_public(user)
