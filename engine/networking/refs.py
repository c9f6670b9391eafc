"""References between networking resources: a field naming another resource by id or name."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from engine.context import Ctx
from engine.errors import ValidationFailed, field_error
from engine.resources import ResourceKind


def find(ctx: Ctx, kind: ResourceKind, ref: str, *, field: str, for_write: bool = False) -> Any:
    """The resource of `kind` the caller may see whose public id or unique name is `ref`; a
    reference to nothing is a 400 naming `field` (SPEC B5), not a 404 of the request itself."""
    model = kind.model
    key = col(getattr(model, kind.id_field))
    stmt = select(model).where(or_(key == ref, col(model.name) == ref), *kind.visible(ctx, model))
    if kind.lifecycle is not None and kind.lifecycle.final_states:
        stmt = stmt.where(col(model.status).not_in(kind.lifecycle.final_states))
    if for_write:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    found = ctx.session.exec(stmt.limit(10)).all()
    by_id = [f for f in found if getattr(f, kind.id_field) == ref]
    if by_id:
        return by_id[0]
    if len(found) > 1:
        raise ValidationFailed(
            f"{field}: {len(found)} {kind.label}s are named {ref!r}; use an id",
            details={field: [getattr(f, kind.id_field) for f in found]},
        )
    if not found:
        raise field_error(field, f"no {kind.label} {ref!r}")
    return found[0]


def network(value: str, field: str, *, version: int = 4) -> ipaddress.IPv4Network:
    """An IPv4 network from CIDR text, host bits cleared (`10.0.0.1/16` is `10.0.0.0/16`)."""
    try:
        parsed = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise field_error(field, f"{value!r} is not a valid IPv{version} CIDR block") from None
    if parsed.version != version or "/" not in value:
        raise field_error(field, f"{value!r} is not a valid IPv{version} CIDR block")
    assert isinstance(parsed, ipaddress.IPv4Network)
    return parsed


def network_v6(value: str, field: str) -> ipaddress.IPv6Network:
    try:
        parsed = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise field_error(field, f"{value!r} is not a valid IPv6 CIDR block") from None
    if not isinstance(parsed, ipaddress.IPv6Network) or "/" not in value:
        raise field_error(field, f"{value!r} is not a valid IPv6 CIDR block")
    return parsed
