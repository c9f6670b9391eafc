"""Security groups: their rules (security_group_rules), attachments to instances (and later load
balancers), the default group of each VPC, and refusals while anything still uses a group."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, delete, func, inspect
from sqlmodel import Field, SQLModel, col, select

from engine.clock import utcnow
from engine.collection import Action, Collection
from engine.context import Ctx
from engine.errors import (
    Conflict,
    DependencyViolation,
    NotFound,
    ValidationFailed,
    field_error,
)
from engine.networking.security_group_rules import (
    IngressBody,
    RemoveRuleBody,
    RuleBody,
    SecurityGroupRule,
    insert_rule,
    new_rule,
    parse_network,
    port_range,
    rule_public,
    rules_of,
)
from engine.resources import (
    CommonInput,
    Name,
    ResourceBase,
    apply_common,
    common_public,
    parse_bool,
)
from engine.sqltypes import UTCDateTime

# An instance (or a load balancer later) wears at most this many groups, as in AWS.
MAX_GROUPS_PER_RESOURCE = 5
DEFAULT_NAME = "default"


class SecurityGroup(ResourceBase, table=True):
    __tablename__ = "security_groups"
    __table_args__ = (
        Index("ix_security_groups_owner_created", "owner", "created_at"),
        # A name is unique within its VPC (or among its owner's groups outside any VPC).
        UniqueConstraint("scope", "name"),
    )
    sg_id: str = Field(unique=True, max_length=32)
    vpc_id: str | None = Field(default=None, index=True, max_length=32)
    scope: str = Field(max_length=96)  # the VPC's id, or "owner:<name>" outside any VPC
    is_default: bool = False
    rule_count: int = 0


class SecurityGroupAttachment(SQLModel, table=True):
    """A group worn by a resource: an instance today, a load balancer or an interface later."""

    __tablename__ = "security_group_attachments"
    __table_args__ = (
        UniqueConstraint("group_id", "resource_type", "resource_id"),
        Index("ix_security_group_attachments_resource", "resource_type", "resource_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    group_id: str = Field(index=True, max_length=32)
    resource_type: str = Field(max_length=32)
    resource_id: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- request bodies ---------------------------------------------------------------------------


class GroupCreate(CommonInput):
    name: Name
    vpc_id: str | None = None


class GroupUpdate(CommonInput):
    pass


# --- rendering --------------------------------------------------------------------------------


def public(group: SecurityGroup) -> dict[str, Any]:
    """A list item: the group and how many rules it has (`show` adds the rules themselves)."""
    return {
        **common_public(group, "sg_id"),
        "vpc_id": group.vpc_id,
        "is_default": group.is_default,
        "rule_count": group.rule_count,
    }


def detail(ctx: Ctx, group: SecurityGroup) -> dict[str, Any]:
    return {
        **public(group),
        "rules": [rule_public(r) for r in rules_of(ctx, [group.sg_id])],
        "attachments": attachment_counts(ctx, group.sg_id),
    }


def attachment_counts(ctx: Ctx, group_id: str) -> dict[str, int]:
    query = (
        select(SecurityGroupAttachment.resource_type, func.count())
        .where(col(SecurityGroupAttachment.group_id) == group_id)
        .group_by(col(SecurityGroupAttachment.resource_type))
    )
    return {kind: int(n) for kind, n in ctx.session.exec(query).all()}


# --- groups -----------------------------------------------------------------------------------


def _scope(vpc_id: str | None, owner: str) -> str:
    return vpc_id or f"owner:{owner}"


def find_vpc(ctx: Ctx, ref: str, *, field: str = "vpc_id") -> Any:
    """A VPC the caller may see, by id or unique name; 400 naming `field` when there is none."""
    from engine.networking import vpcs

    return vpcs.find(ctx, ref, field=field)


def _lock_names(ctx: Ctx, scope: str) -> None:
    """Serialize creates and renames within one scope, so a name stays unique under races
    (SQLite's write lock already does; PostgreSQL takes an advisory lock to the transaction's
    end)."""
    ctx.db.serialize(ctx.conn, f"security-group-names:{scope}")


def _check_name_free(ctx: Ctx, scope: str, name: str, *, where: str) -> None:
    taken = ctx.session.exec(
        select(SecurityGroup.sg_id).where(
            col(SecurityGroup.scope) == scope, col(SecurityGroup.name) == name
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"a security group named {name!r} already exists in {where} ({taken})",
            details={"name": name, "sg_id": taken},
        )


def create_group(ctx: Ctx, spec: GroupCreate) -> SecurityGroup:
    owner = ctx.principal.username
    vpc_id = None
    if spec.vpc_id:
        vpc = find_vpc(ctx, spec.vpc_id)
        vpc_id, owner = vpc.vpc_id, vpc.owner or owner
    if spec.name.lower() == DEFAULT_NAME:
        raise field_error("name", "'default' is reserved for the VPC's default security group")
    scope = _scope(vpc_id, owner)
    _lock_names(ctx, scope)
    _check_name_free(ctx, scope, spec.name, where=vpc_id or "your groups outside any VPC")
    group = SecurityGroup(
        sg_id=SECURITY_GROUPS.new_id(),
        owner=owner,
        vpc_id=vpc_id,
        scope=scope,
        created_at=ctx.now,
    )
    apply_common(group, spec, now=ctx.now)
    SECURITY_GROUPS.added(ctx, group)
    # As in AWS, a new group lets everything out and nothing in until rules say otherwise.
    insert_rule(ctx, group, new_rule(group, "egress", "-1", cidr_ipv4="0.0.0.0/0"))
    ctx.audit_details.update(vpc_id=vpc_id)
    return group


def create_default(ctx: Ctx, *, vpc: Any) -> SecurityGroup:
    """The default group of a new VPC (SPEC B3): ingress of every protocol from the VPC's CIDR,
    egress of everything anywhere. It goes only with its VPC."""
    group = SecurityGroup(
        sg_id=SECURITY_GROUPS.new_id(),
        name=DEFAULT_NAME,
        description=f"default security group of {vpc.vpc_id}",
        owner=vpc.owner,
        region=vpc.region,
        vpc_id=vpc.vpc_id,
        scope=_scope(vpc.vpc_id, vpc.owner or ""),
        is_default=True,
        created_at=ctx.now,
        updated_at=ctx.now,
        tags={},
        meta={},
    )
    SECURITY_GROUPS.added(ctx, group)
    insert_rule(ctx, group, new_rule(group, "ingress", "-1", cidr_ipv4=str(vpc.cidr_block)))
    insert_rule(ctx, group, new_rule(group, "egress", "-1", cidr_ipv4="0.0.0.0/0"))
    return group


def default_group(ctx: Ctx, vpc_id: str) -> SecurityGroup | None:
    query = select(SecurityGroup).where(
        col(SecurityGroup.vpc_id) == vpc_id, col(SecurityGroup.is_default).is_(True)
    )
    return ctx.session.exec(query).first()


def update_group(ctx: Ctx, group: SecurityGroup, spec: GroupUpdate) -> SecurityGroup:
    if spec.name is not None and spec.name != group.name:
        if group.is_default:
            raise field_error("name", "the default security group keeps its name")
        if spec.name.lower() == DEFAULT_NAME:
            raise field_error("name", "'default' is reserved for the VPC's default security group")
        _lock_names(ctx, group.scope)
        _check_name_free(ctx, group.scope, spec.name, where=group.vpc_id or "your groups")
    apply_common(group, spec, now=ctx.now)
    ctx.session.add(group)
    ctx.audit_details.update(spec.model_dump(exclude_none=True, exclude={"metadata"}))
    return group


def delete_group(ctx: Ctx, group: SecurityGroup, *, force: bool = False) -> int:
    """204; 409 DEPENDENCY_VIOLATION for the default group, one attached to anything, or one
    another group's rules refer to."""
    if group.is_default:
        raise DependencyViolation(
            f"security group {group.sg_id} is the default group of {group.vpc_id}; "
            "it is deleted with its VPC",
            details={"vpc_id": group.vpc_id, "is_default": True},
        )
    _refuse_while_used(ctx, [group.sg_id])
    _remove(ctx, [group.sg_id])
    return 204


def _refuse_while_used(ctx: Ctx, group_ids: list[str]) -> None:
    attached = ctx.session.exec(
        select(SecurityGroupAttachment)
        .where(col(SecurityGroupAttachment.group_id).in_(group_ids))
        .order_by(col(SecurityGroupAttachment.id))
        .limit(5)
    ).all()
    if attached:
        total = ctx.session.exec(
            select(func.count()).where(col(SecurityGroupAttachment.group_id).in_(group_ids))
        ).one()
        first = attached[0]
        names = ", ".join(_named(ctx, attached))
        raise DependencyViolation(
            f"security group {first.group_id} is attached to {total} resource(s): {names}; "
            "detach it first",
            details={"attached_to": [a.resource_id for a in attached], "count": total},
        )
    referring = ctx.session.exec(
        select(SecurityGroupRule.group_id, SecurityGroupRule.referenced_sg_id)
        .where(
            col(SecurityGroupRule.referenced_sg_id).in_(group_ids),
            col(SecurityGroupRule.group_id).not_in(group_ids),
        )
        .limit(5)
    ).all()
    if referring:
        others = sorted({g for g, _ in referring})
        raise DependencyViolation(
            f"security group {referring[0][1]} is referred to by rules of {', '.join(others)}; "
            "remove those rules first",
            details={"referenced_by": others},
        )


def _named(ctx: Ctx, attached: Sequence[SecurityGroupAttachment]) -> list[str]:
    """`web-1 (i-…)` for an instance, the id alone for anything else."""
    ids = [a.resource_id for a in attached if a.resource_type == "instance"]
    names: dict[str, str] = {}
    if ids:
        from engine.compute.instances import Instance

        query = select(Instance.instance_id, Instance.name).where(
            col(Instance.instance_id).in_(ids)
        )
        names = {i: n for i, n in ctx.session.exec(query).all()}
    return [f"{names[a.resource_id]} ({a.resource_id})" if a.resource_id in names
            else a.resource_id for a in attached]  # fmt: skip


def _remove(ctx: Ctx, group_ids: list[str]) -> None:
    session = ctx.session
    groups = session.exec(select(SecurityGroup).where(col(SecurityGroup.sg_id).in_(group_ids)))
    owners = [g.owner or "" for g in groups]
    session.execute(delete(SecurityGroupRule).where(col(SecurityGroupRule.group_id).in_(group_ids)))
    session.execute(delete(SecurityGroup).where(col(SecurityGroup.sg_id).in_(group_ids)))
    from engine import counts

    for owner in owners:
        counts.add(session, collection=SECURITY_GROUPS.name, owner=owner, delta=-1)


def remove_in_vpc(ctx: Ctx, vpc_id: str) -> int:
    """Remove every group of a VPC with the VPC, the default one included; 409 while any is
    still attached (to an instance still running there, say). How many groups went."""
    ids = list(
        ctx.session.exec(select(SecurityGroup.sg_id).where(col(SecurityGroup.vpc_id) == vpc_id))
    )
    if ids:
        _refuse_while_used(ctx, ids)
        _remove(ctx, ids)
    return len(ids)


# --- rules ------------------------------------------------------------------------------------


def find_group(ctx: Ctx, ref: str, *, vpc_id: str | None, field: str) -> SecurityGroup:
    """A group the caller may see, by id or by name within `vpc_id` (outside any VPC: among the
    caller's), that lives in `vpc_id`; else a 400 naming `field`.

    The row is share-locked to the end of the transaction (on PostgreSQL), so a delete of the
    group waits for the attachment or rule that names it, and then sees it."""
    query = select(SecurityGroup).where(col(SecurityGroup.sg_id) == ref)
    for condition in SECURITY_GROUPS.visible(ctx, SecurityGroup):
        query = query.where(condition)
    group = ctx.session.exec(query.with_for_update(read=True)).first()
    if group is None:
        by_name = select(SecurityGroup).where(col(SecurityGroup.name) == ref)
        if vpc_id is not None:
            by_name = by_name.where(col(SecurityGroup.vpc_id) == vpc_id)
        else:
            by_name = by_name.where(col(SecurityGroup.vpc_id).is_(None))
        for condition in SECURITY_GROUPS.visible(ctx, SecurityGroup):
            by_name = by_name.where(condition)
        found = ctx.session.exec(by_name.limit(2).with_for_update(read=True)).all()
        if len(found) > 1:
            raise field_error(field, f"several security groups are named {ref!r}; use an id")
        if not found:
            where = f"in {vpc_id}" if vpc_id else "outside any VPC"
            raise field_error(field, f"no security group {ref!r} {where}")
        group = found[0]
    if group.vpc_id != vpc_id:
        if vpc_id is None:
            why = f"is in {group.vpc_id}: only a resource in that VPC (a subnet of it) wears it"
        else:
            why = f"is in {group.vpc_id or 'no VPC'}, not {vpc_id}"
        raise field_error(field, f"security group {group.sg_id} {why}")
    return group


def add_rule(ctx: Ctx, group: SecurityGroup, body: RuleBody) -> dict[str, Any]:
    """Add a rule (SPEC B4): 201 with it; 400 for an invalid one, 409 for a duplicate, 429 past
    60 rules."""
    sources = {
        "cidr": body.cidr,
        "cidr_ipv4": body.cidr_ipv4,
        "cidr_ipv6": body.cidr_ipv6,
        "referenced_sg_id": body.referenced_sg_id,
    }
    given = [name for name, value in sources.items() if value]
    if not given:
        raise ValidationFailed(
            "a rule needs a source or destination: cidr_ipv4, cidr_ipv6 or referenced_sg_id",
            details={"cidr_ipv4": ["one of cidr_ipv4, cidr_ipv6, referenced_sg_id is required"]},
        )
    if len(given) > 1:
        raise field_error(given[1], f"give one of {', '.join(given)}, not both (one rule each)")
    cidr_ipv4 = cidr_ipv6 = referenced = None
    if body.cidr:
        ipv6 = ":" in body.cidr
        cidr = parse_network(body.cidr, "cidr", 6 if ipv6 else 4)
        cidr_ipv6, cidr_ipv4 = (cidr, None) if ipv6 else (None, cidr)
    elif body.cidr_ipv4:
        cidr_ipv4 = parse_network(body.cidr_ipv4, "cidr_ipv4", 4)
    elif body.cidr_ipv6:
        cidr_ipv6 = parse_network(body.cidr_ipv6, "cidr_ipv6", 6)
    else:
        assert body.referenced_sg_id
        referenced = find_group(
            ctx, body.referenced_sg_id, vpc_id=group.vpc_id, field="referenced_sg_id"
        ).sg_id
    from_port, to_port = port_range(body.protocol, body.from_port, body.to_port)
    rule = new_rule(
        group,
        body.direction,
        body.protocol,
        from_port=from_port,
        to_port=to_port,
        cidr_ipv4=cidr_ipv4,
        cidr_ipv6=cidr_ipv6,
        referenced_sg_id=referenced,
        description=body.description,
        is_enabled=body.is_enabled,
    )
    insert_rule(ctx, group, rule)
    ctx.audit_details.update(rule_id=rule.rule_id, direction=rule.direction)
    return rule_public(rule)


def authorize_ingress(ctx: Ctx, group: SecurityGroup, body: IngressBody) -> dict[str, Any]:
    """An ingress rule from a CIDR (SPEC B1.3): 201 with it."""
    rule = RuleBody(
        direction="ingress",
        protocol=body.protocol,
        from_port=body.from_port,
        to_port=body.to_port,
        cidr=body.cidr,
        description=body.description,
    )
    return add_rule(ctx, group, rule)


def list_rules(ctx: Ctx, group: SecurityGroup) -> dict[str, Any]:
    rows = [rule_public(r) for r in rules_of(ctx, [group.sg_id])]
    return {"count": len(rows), "next": None, "previous": None, "results": rows}


def remove_rule(ctx: Ctx, group: SecurityGroup, body: RemoveRuleBody) -> SecurityGroup:
    """Remove one rule of the group; 404 when the group has no such rule."""
    rule = ctx.session.exec(
        select(SecurityGroupRule).where(
            col(SecurityGroupRule.rule_id) == body.rule_id,
            col(SecurityGroupRule.group_id) == group.sg_id,
        )
    ).first()
    if rule is None:
        raise NotFound(
            f"security group {group.sg_id} has no rule {body.rule_id}",
            details={"rule_id": body.rule_id},
        )
    ctx.session.delete(rule)
    group.rule_count = max(group.rule_count - 1, 0)
    group.updated_at = ctx.now
    ctx.session.add(group)
    ctx.audit_details.update(rule_id=body.rule_id)
    return group


# --- attachments ------------------------------------------------------------------------------


def stored(ctx: Ctx) -> bool:
    """Whether this database has security groups' tables at all: a module that loads this one
    only when it needs it (an instance launch) may run before any group was ever made."""
    if ctx.db in _STORED:
        return True
    found = inspect(ctx.conn).has_table(SecurityGroup.__tablename__)
    if found:
        _STORED.add(ctx.db)
    return found


# The databases known to have the tables (tables are never dropped, so once is enough).
_STORED: weakref.WeakSet[Any] = weakref.WeakSet()


def attach(
    ctx: Ctx,
    *,
    resource_type: str,
    resource_id: str,
    vpc_id: str | None,
    refs: list[str],
    field: str = "security_groups",
    new: bool = False,
) -> list[str]:
    """Make a resource wear the groups `refs` names (ids or names, all of `vpc_id`), in place
    of any it wore (none, when it is `new`); none named in a VPC means its default group. The
    group ids, in order."""
    if len(refs) > MAX_GROUPS_PER_RESOURCE:
        raise field_error(field, f"at most {MAX_GROUPS_PER_RESOURCE} security groups")
    if not refs and vpc_id is None:
        groups: list[str] = []
    elif not stored(ctx):
        raise field_error(field, f"no security group {refs[0]!r}" if refs else "no VPC group")
    elif refs:
        groups = []
        for ref in refs:
            found = find_group(ctx, ref, vpc_id=vpc_id, field=field).sg_id
            if found not in groups:
                groups.append(found)
    else:
        assert vpc_id is not None
        default = default_group(ctx, vpc_id)
        groups = [default.sg_id] if default is not None else []
    if not new:
        detach(ctx, resource_type=resource_type, resource_id=resource_id)
    for group_id in groups:
        ctx.session.add(
            SecurityGroupAttachment(
                group_id=group_id,
                resource_type=resource_type,
                resource_id=resource_id,
                created_at=ctx.now,
            )
        )
    return groups


def detach(ctx: Ctx, *, resource_type: str, resource_id: str) -> None:
    """The resource wears no group any more (an instance terminated, say)."""
    if not stored(ctx):
        return
    ctx.session.execute(
        delete(SecurityGroupAttachment).where(
            col(SecurityGroupAttachment.resource_type) == resource_type,
            col(SecurityGroupAttachment.resource_id) == resource_id,
        )
    )


def groups_of(ctx: Ctx, *, resource_type: str, resource_id: str) -> list[str]:
    query = (
        select(SecurityGroupAttachment.group_id)
        .where(
            col(SecurityGroupAttachment.resource_type) == resource_type,
            col(SecurityGroupAttachment.resource_id) == resource_id,
        )
        .order_by(col(SecurityGroupAttachment.id))
    )
    return list(ctx.session.exec(query).all())


def members(ctx: Ctx, group_ids: list[str], *, resource_type: str, resource_id: str) -> set[str]:
    """Which of `group_ids` a resource wears (a rule naming a group admits its members)."""
    if not group_ids:
        return set()
    query = select(SecurityGroupAttachment.group_id).where(
        col(SecurityGroupAttachment.group_id).in_(group_ids),
        col(SecurityGroupAttachment.resource_type) == resource_type,
        col(SecurityGroupAttachment.resource_id) == resource_id,
    )
    return set(ctx.session.exec(query).all())


SECURITY_GROUPS = Collection(
    service="networking",
    name="security-groups",
    label="security group",
    id_prefix="sg",
    model=SecurityGroup,
    id_field="sg_id",
    public=public,
    detail=detail,
    filters={"owner": str, "vpc_id": str, "is_default": parse_bool},
    search=("sg_id", "name", "description"),
    ordering=("created_at", "name"),
    default_ordering="-created_at",
    counted=True,
    create_schema=GroupCreate,
    create=create_group,
    update_schema=GroupUpdate,
    update=update_group,
    delete=delete_group,
    actions=(
        Action(
            "add_rule",
            add_rule,
            body=RuleBody,
            status=201,
            summary="Add a rule (ingress or egress) to a security group",
        ),
        Action("rules", list_rules, "GET", summary="The rules of a security group"),
        Action(
            "authorize_ingress",
            authorize_ingress,
            body=IngressBody,
            status=201,
            summary="Allow ingress from a CIDR (0.0.0.0/0 unless given)",
        ),
        Action(
            "remove_rule",
            remove_rule,
            body=RemoveRuleBody,
            summary="Remove one rule of a security group",
        ),
    ),
)

# A group names its VPC, so the VPCs' table (and what it brings) is created with this one,
# before the first request: a database may have groups before it ever had a VPC.
import engine.networking.vpcs  # noqa: E402, F401
