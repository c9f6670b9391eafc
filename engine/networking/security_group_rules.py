"""Security group rules: rows of their own, validated as SPEC B4 says, unique within a group,
at most 60 a group."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field as PydanticField
from pydantic import Strict, field_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel, col, select

from engine.clock import utcnow
from engine.context import Ctx
from engine.errors import Conflict, QuotaExceeded, field_error
from engine.ids import new_id
from engine.resources import Body
from engine.sqltypes import UTCDateTime

if TYPE_CHECKING:
    from engine.networking.security_groups import SecurityGroup

# AWS's 60 inbound and 60 outbound, counted together: a group holds at most this many rules;
# one more is 429 QUOTA_EXCEEDED (a limit, like a quota, that no retry gets past).
MAX_RULES = 60
DIRECTIONS = ("ingress", "egress")
PROTOCOLS = ("tcp", "udp", "icmp", "ipv6-icmp", "esp", "ah", "-1")
# What users also write for a protocol: `all`, and the IANA numbers.
PROTOCOL_ALIASES = {
    "all": "-1",
    "6": "tcp",
    "17": "udp",
    "1": "icmp",
    "58": "ipv6-icmp",
    "50": "esp",
    "51": "ah",
}
PORTED = ("tcp", "udp")
ICMP = ("icmp", "ipv6-icmp")

Port = Annotated[int, Strict()]


def protocol_value(value: str) -> str:
    """A protocol as stored: lowercase, `all` as `-1`, an IANA number as its name."""
    lowered = value.strip().lower()
    lowered = PROTOCOL_ALIASES.get(lowered, lowered)
    if lowered not in PROTOCOLS:
        raise ValueError(f"must be one of {', '.join(PROTOCOLS)} (or all)")
    return lowered


class SecurityGroupRule(SQLModel, table=True):
    """One rule of one group: a row of its own, so a group's rules are an index range."""

    __tablename__ = "security_group_rules"
    __table_args__ = (UniqueConstraint("group_id", "signature"),)
    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(unique=True, max_length=32)
    group_id: str = Field(index=True, max_length=32)
    direction: str = Field(max_length=8)
    protocol: str = Field(max_length=16)
    from_port: int | None = None
    to_port: int | None = None
    cidr_ipv4: str | None = Field(default=None, max_length=18)
    cidr_ipv6: str | None = Field(default=None, max_length=43)
    referenced_sg_id: str | None = Field(default=None, index=True, max_length=32)
    description: str = ""
    is_enabled: bool = True
    # What makes two rules the same rule (everything but description and is_enabled).
    signature: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RuleBody(Body):
    """A rule (SPEC B2.4). `cidr` is either family, read as cidr_ipv4 or cidr_ipv6."""

    direction: str = "ingress"
    protocol: str = "tcp"
    from_port: Port | None = None
    to_port: Port | None = None
    cidr: str | None = None
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    referenced_sg_id: str | None = None
    description: str = PydanticField(default="", max_length=255)
    is_enabled: bool = True

    @field_validator("direction")
    @classmethod
    def _direction(cls, value: str) -> str:
        if value.lower() not in DIRECTIONS:
            raise ValueError(f"must be one of {', '.join(DIRECTIONS)}")
        return value.lower()

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        return protocol_value(value)


class IngressBody(Body):
    """`authorize_ingress`: an ingress rule from a CIDR, 0.0.0.0/0 unless given."""

    protocol: str = "tcp"
    from_port: Port | None = None
    to_port: Port | None = None
    cidr: str = "0.0.0.0/0"
    description: str = PydanticField(default="", max_length=255)

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        return protocol_value(value)


class RemoveRuleBody(Body):
    rule_id: str


def rule_public(rule: SecurityGroupRule) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "security_group": rule.group_id,
        "direction": rule.direction,
        "protocol": rule.protocol,
        "from_port": rule.from_port,
        "to_port": rule.to_port,
        "cidr_ipv4": rule.cidr_ipv4,
        "cidr_ipv6": rule.cidr_ipv6,
        "referenced_sg_id": rule.referenced_sg_id,
        "description": rule.description,
        "is_enabled": rule.is_enabled,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def rules_of(ctx: Ctx, group_ids: list[str]) -> list[SecurityGroupRule]:
    """The rules of some groups, oldest first, in one query."""
    if not group_ids:
        return []
    query = (
        select(SecurityGroupRule)
        .where(col(SecurityGroupRule.group_id).in_(group_ids))
        .order_by(col(SecurityGroupRule.created_at), col(SecurityGroupRule.id))
    )
    return list(ctx.session.exec(query).all())


def parse_network(value: str, field: str, version: int) -> str:
    """A CIDR of one family, host bits cleared (as for a VPC); a 400 naming `field` otherwise."""
    if "/" not in value:
        raise field_error(field, f"{value!r} is not a CIDR (like 10.0.0.0/16)")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise field_error(field, f"{value!r} is not a valid CIDR") from None
    if network.version != version:
        family = "IPv4" if version == 4 else "IPv6"
        raise field_error(field, f"{value!r} is not an {family} CIDR")
    return str(network)


def port_range(protocol: str, from_port: int | None, to_port: int | None) -> tuple[int | None, ...]:
    """The rule's port range (B4): tcp and udp need one within 0-65535; ICMP's are type and
    code (-1 any); other protocols have none."""
    if protocol in PORTED:
        if from_port is None:
            raise field_error("from_port", f"a port (or from_port) is required for {protocol}")
        to = from_port if to_port is None else to_port
        if not 0 <= from_port <= 65535:
            raise field_error("from_port", "must be 0-65535")
        if not 0 <= to <= 65535:
            raise field_error("to_port", "must be 0-65535")
        if from_port > to:
            raise field_error("to_port", f"must be at least from_port ({from_port})")
        return from_port, to
    if protocol in ICMP:
        for name, value in (("from_port", from_port), ("to_port", to_port)):
            if value is not None and not -1 <= value <= 255:
                raise field_error(name, f"an ICMP {'type' if name == 'from_port' else 'code'} "
                                  "is -1 (any) to 255")  # fmt: skip
        return from_port, to_port
    for name, value in (("from_port", from_port), ("to_port", to_port)):
        if value not in (None, -1):
            shown = "all (-1)" if protocol == "-1" else protocol
            raise field_error(name, f"ports do not apply to protocol {shown}")
    return None, None


def new_rule(
    group: SecurityGroup,
    direction: str,
    protocol: str,
    *,
    from_port: int | None = None,
    to_port: int | None = None,
    cidr_ipv4: str | None = None,
    cidr_ipv6: str | None = None,
    referenced_sg_id: str | None = None,
    description: str = "",
    is_enabled: bool = True,
) -> SecurityGroupRule:
    parts = (direction, protocol, from_port, to_port, cidr_ipv4, cidr_ipv6, referenced_sg_id)
    return SecurityGroupRule(
        rule_id=new_id("rule"),
        group_id=group.sg_id,
        direction=direction,
        protocol=protocol,
        from_port=from_port,
        to_port=to_port,
        cidr_ipv4=cidr_ipv4,
        cidr_ipv6=cidr_ipv6,
        referenced_sg_id=referenced_sg_id,
        description=description,
        is_enabled=is_enabled,
        signature="|".join("" if p is None else str(p) for p in parts),
    )


def insert_rule(ctx: Ctx, group: SecurityGroup, rule: SecurityGroupRule) -> SecurityGroupRule:
    """Add a rule to a group locked by the caller: 409 for a duplicate, 429 past MAX_RULES."""
    same = ctx.session.exec(
        select(SecurityGroupRule.rule_id).where(
            col(SecurityGroupRule.group_id) == group.sg_id,
            col(SecurityGroupRule.signature) == rule.signature,
        )
    ).first()
    if same is not None:
        raise Conflict(
            f"security group {group.sg_id} already has this rule ({same})",
            details={"rule_id": same},
        )
    if group.rule_count >= MAX_RULES:
        raise QuotaExceeded(
            f"security group {group.sg_id} has {group.rule_count} rules, the most a group "
            f"may have ({MAX_RULES}); remove one first",
            details={"limit": MAX_RULES, "used": group.rule_count, "requested": 1},
        )
    rule.created_at = rule.updated_at = ctx.now
    ctx.session.add(rule)
    group.rule_count += 1
    group.updated_at = ctx.now
    ctx.session.add(group)
    return rule
