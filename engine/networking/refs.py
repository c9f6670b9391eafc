"""References between networking resources: a field naming another resource by id or name."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from engine.context import Ctx
from engine.errors import ValidationFailed, field_error
from engine.resources import ResourceKind, locked


def find(ctx: Ctx, kind: ResourceKind, ref: str, *, field: str, for_write: bool = False) -> Any:
    """The resource of `kind` the caller may see whose public id or unique name is `ref`; a
    reference to nothing is a 400 naming `field` (SPEC B5), not a 404 of the request itself."""
    model = kind.model
    key = col(getattr(model, kind.id_field))
    stmt = select(model).where(or_(key == ref, col(model.name) == ref), *kind.visible(ctx, model))
    if kind.lifecycle is not None and kind.lifecycle.final_states:
        stmt = stmt.where(col(model.status).not_in(kind.lifecycle.final_states))
    if for_write:
        stmt = locked(stmt)
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


def network(value: str, field: str) -> ipaddress.IPv4Network:
    """An IPv4 network from CIDR text, host bits cleared (`10.0.0.1/16` is `10.0.0.0/16`)."""
    parsed = _parse(value, field, "IPv4")
    if not isinstance(parsed, ipaddress.IPv4Network):
        raise field_error(field, f"{value!r} is not a valid IPv4 CIDR block")
    return parsed


def network_v6(value: str, field: str) -> ipaddress.IPv6Network:
    parsed = _parse(value, field, "IPv6")
    if not isinstance(parsed, ipaddress.IPv6Network):
        raise field_error(field, f"{value!r} is not a valid IPv6 CIDR block")
    return parsed


def _parse(value: str, field: str, kind: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    # A bare address is not a block: "10.0.0.0" would otherwise be read as a /32.
    if "/" not in value:
        raise field_error(field, f"{value!r} is not a valid {kind} CIDR block (address/prefix)")
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise field_error(field, f"{value!r} is not a valid {kind} CIDR block") from None
