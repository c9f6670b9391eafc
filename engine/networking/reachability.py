"""Reachability: can traffic from A get to B on a protocol and port, and if not, what stops it.

`GET /api/v1/services/vpcs/reachability/?source=&destination=&port=&protocol=tcp`. Each end is
an instance (id or name), a CIDR (or one address), or `internet`. The path is evaluated in the
order a packet meets it:

1. the source instance's security groups, egress;
2. the route table of the source's subnet: the most specific route to the destination (the
   `local` route within the VPC; out of it an internet gateway, which needs a public IP, or a
   NAT gateway, whose own subnet must reach an internet gateway); a blackhole route or none
   stops it;
3. coming in from outside the destination's VPC: the destination needs a public IP and its
   subnet's route table a route to an internet gateway (else the subnet is private);
4. the destination instance's security groups, ingress: by CIDR, or by referenced group for
   traffic within the VPC.

The answer is `reachable`, the `hops` passed (each naming the rule or route that admitted the
traffic), and when not reachable, the hop that stopped it (`blocked_at`) and why.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from engine.api.http import Request
from engine.context import Ctx
from engine.errors import ValidationFailed, field_error
from engine.networking import route_tables, security_group_rules, security_groups
from engine.networking.security_group_rules import SecurityGroupRule

Network = ipaddress.IPv4Network
ANYWHERE = ipaddress.IPv4Network("0.0.0.0/0")
PROTOCOLS = ("tcp", "udp", "icmp", "-1")


@dataclass
class End:
    """One end of the question: an instance, a CIDR, or the internet."""

    kind: str  # "instance", "cidr" or "internet"
    text: str
    network: Network = ANYWHERE
    instance: Any = None
    vpc: Any = None  # the instance's VPC, or the VPC a CIDR lies in (when it is the other end's)

    @property
    def label(self) -> str:
        if self.kind == "instance":
            return f"{self.instance.instance_id} ({self.instance.name})"
        return "the internet" if self.kind == "internet" else str(self.network)


@dataclass
class Verdict:
    hops: list[dict[str, Any]] = field(default_factory=list)
    blocked: dict[str, Any] | None = None

    def passed(self, step: str, detail: str, resource_id: str = "", rule_id: str = "") -> None:
        self.hops.append(_hop(step, "allowed", detail, resource_id, rule_id))

    def block(self, step: str, detail: str, resource_id: str = "", rule_id: str = "") -> None:
        self.blocked = _hop(step, "blocked", detail, resource_id, rule_id)
        self.hops.append(self.blocked)


class Blocked(Exception):
    """The traffic stops at the hop just recorded."""


def _hop(step: str, verdict: str, detail: str, resource_id: str, rule_id: str) -> dict[str, Any]:
    return {
        "step": step,
        "verdict": verdict,
        "resource_id": resource_id or None,
        "rule_id": rule_id or None,
        "detail": detail,
    }


def answer(request: Request) -> dict[str, Any]:
    """The list-level `reachability` action of `vpcs`."""
    query = request.query

    def arg(name: str) -> str | None:
        values = query.get(name)
        return values[-1].strip() if values and values[-1].strip() else None

    source, destination = arg("source"), arg("destination")
    if source is None or destination is None:
        missing = "source" if source is None else "destination"
        raise field_error(missing, "required: an instance id or name, a CIDR, or internet")
    port_text = arg("port")
    port = None
    if port_text is not None:
        if not port_text.isdecimal() or not 0 <= int(port_text) <= 65535:
            raise field_error("port", "must be a port number 0-65535")
        port = int(port_text)
    return evaluate(
        request.ctx,
        source=source,
        destination=destination,
        port=port,
        protocol=arg("protocol") or "tcp",
    )


def evaluate(
    ctx: Ctx, *, source: str, destination: str, port: int | None, protocol: str
) -> dict[str, Any]:
    """Whether `source` reaches `destination`, hop by hop (see the module)."""
    from engine.networking.vpcs import REACHABILITY_PROTOCOLS

    choices = f"must be {', '.join(REACHABILITY_PROTOCOLS[:-1])} or {REACHABILITY_PROTOCOLS[-1]}"
    try:
        protocol = security_group_rules.protocol_value(protocol)
    except ValueError:
        raise field_error("protocol", choices) from None
    if protocol not in PROTOCOLS:
        raise field_error("protocol", choices)
    if protocol in security_group_rules.PORTED and port is None:
        raise field_error("port", f"required for {protocol}")
    if protocol not in security_group_rules.PORTED and protocol != "icmp":
        port = None
    src = _end(ctx, source, "source")
    dst = _end(ctx, destination, "destination")
    src, dst = _holder(ctx, src, dst), _holder(ctx, dst, src)
    if src.kind != "instance" and dst.kind != "instance":
        raise ValidationFailed(
            "source or destination must be an instance: between two CIDRs nothing of this "
            "cloud lies on the path",
            details={"source": [source], "destination": [destination]},
        )
    verdict = Verdict()
    with contextlib.suppress(Blocked):
        _path(ctx, src, dst, protocol, port, verdict)
    traffic = _traffic(protocol, port)
    if verdict.blocked is None:
        admitted = ", ".join(h["rule_id"] for h in verdict.hops if h["rule_id"])
        summary = f"{src.label} reaches {dst.label} with {traffic} (via {admitted})"
    else:
        summary = f"{src.label} cannot reach {dst.label} with {traffic}: " + str(
            verdict.blocked["detail"]
        )
    return {
        "reachable": verdict.blocked is None,
        "source": _describe(src),
        "destination": _describe(dst),
        "protocol": protocol,
        "port": port,
        "hops": verdict.hops,
        "blocked_at": verdict.blocked,
        "summary": summary,
    }


def _describe(end: End) -> dict[str, Any]:
    if end.kind == "instance":
        i = end.instance
        return {
            "type": "instance",
            "instance_id": i.instance_id,
            "name": i.name,
            "vpc_id": i.vpc_id,
            "subnet_id": i.subnet_id,
            "private_ip": i.private_ip,
            "public_ip": i.public_ip,
            "security_groups": i.security_groups,
        }
    return {"type": end.kind, "cidr": str(end.network)}


def _end(ctx: Ctx, text: str, name: str) -> End:
    if text.lower() == "internet":
        return End("internet", text)
    if _looks_like_address(text):
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise field_error(name, f"{text!r} is not a valid CIDR or address") from None
        if not isinstance(network, ipaddress.IPv4Network):
            raise field_error(name, "IPv6 paths are not modelled: instances have IPv4 addresses")
        return End("cidr", text, network=network)
    from engine.compute.instances import INSTANCES
    from engine.networking import refs

    try:
        if not _instances_stored(ctx):
            raise ValidationFailed("no instance has ever been launched here")
        instance = refs.find(ctx, INSTANCES, text, field=name)
    except ValidationFailed:
        raise field_error(
            name, f"no instance {text!r}; name an instance, a CIDR, or internet"
        ) from None
    return End("instance", text, instance=instance)


def _holder(ctx: Ctx, end: End, other: End) -> End:
    """An address that is an instance's is that instance: its private address within the other
    end's VPC, or a public address anywhere."""
    if end.kind != "cidr" or end.network.prefixlen != 32 or not _instances_stored(ctx):
        return end
    from sqlalchemy import and_, or_

    from engine.compute.instances import INSTANCES, Instance

    address = str(end.network.network_address)
    holds = col(Instance.public_ip) == address
    if other.kind == "instance" and other.instance.vpc_id is not None:
        private = col(Instance.private_ip) == address
        holds = or_(holds, and_(private, col(Instance.vpc_id) == other.instance.vpc_id))
    query = select(Instance).where(
        holds,
        col(Instance.status).not_in(INSTANCES.machine.final_states),
        *INSTANCES.visible(ctx, Instance),
    )
    found = ctx.session.exec(query.limit(1)).first()
    return end if found is None else End("instance", end.text, instance=found)


def _instances_stored(ctx: Ctx) -> bool:
    """Whether the instances' table exists: networking requests load no compute module, so on a
    database where no instance was ever launched it does not."""
    from sqlalchemy import inspect

    return bool(inspect(ctx.conn).has_table("instances"))


def _looks_like_address(text: str) -> bool:
    head = text.split("/", 1)[0]
    return bool(head) and (":" in head or all(part.isdecimal() for part in head.split(".")))


# --- the path ---------------------------------------------------------------------------------


def _path(ctx: Ctx, src: End, dst: End, protocol: str, port: int | None, v: Verdict) -> None:
    from engine.networking import vpcs

    for end, role in ((src, "source"), (dst, "destination")):
        if end.kind != "instance":
            continue
        instance = end.instance
        if instance.status != "running":
            v.block(
                "instance",
                f"{role} {end.label} is {instance.status}, not running",
                instance.instance_id,
            )
            raise Blocked
        if not instance.subnet_id:
            v.block(
                "instance",
                f"{role} {end.label} is in no subnet: reachability follows VPC paths only",
                instance.instance_id,
            )
            raise Blocked
        end.vpc = vpcs.find(ctx, instance.vpc_id)
    # A CIDR end inside the other end's VPC is traffic within that VPC.
    for cidr_end, other in ((src, dst), (dst, src)):
        inside = other.vpc is not None and cidr_end.network.subnet_of(
            ipaddress.IPv4Network(other.vpc.cidr_block)
        )
        if cidr_end.kind == "cidr" and inside:
            cidr_end.vpc = other.vpc
    within = src.vpc is not None and dst.vpc is not None and src.vpc.vpc_id == dst.vpc.vpc_id
    if dst.kind == "instance" and not within and dst.instance.public_ip is None:
        v.block(
            "destination",
            f"{dst.label} has no public IP, so nothing outside {dst.vpc.vpc_id} can address it",
            dst.instance.instance_id,
        )
        raise Blocked
    # Where the packet is addressed, and who it appears to come from once it has left.
    target = _address_of(dst, within)
    seen_as = _address_of(src, within) if src.kind != "instance" else ANYWHERE
    if src.kind == "instance":
        _through_groups(ctx, "egress", src, dst, target, within, protocol, port, v)
        seen_as = _route_out(ctx, src, _peer_text(dst, target), target, within, v)
    if dst.kind == "instance":
        if not within:
            _route_in(ctx, dst, seen_as, v)
        _through_groups(ctx, "ingress", dst, src, seen_as, within, protocol, port, v)
    elif within:
        v.passed("delivered", f"{dst.label} lies in {dst.vpc.vpc_id}")


def _address_of(end: End, within: bool) -> Network:
    if end.kind != "instance":
        return end.network
    ip = end.instance.private_ip if within else end.instance.public_ip
    return ipaddress.IPv4Network(f"{ip}/32")


def _rules(ctx: Ctx, group_ids: list[str], direction: str) -> list[SecurityGroupRule]:
    return [
        r
        for r in security_group_rules.rules_of(ctx, group_ids)
        if r.direction == direction and r.is_enabled
    ]


def _allows(rule: SecurityGroupRule, protocol: str, port: int | None) -> bool:
    if rule.protocol != "-1" and rule.protocol != protocol:
        return False
    if rule.protocol in security_group_rules.PORTED:
        assert port is not None and rule.from_port is not None and rule.to_port is not None
        return rule.from_port <= port <= rule.to_port
    if rule.protocol == "icmp" and port is not None:
        return rule.from_port in (None, -1, port)
    return True


def _match(
    ctx: Ctx,
    rules: list[SecurityGroupRule],
    protocol: str,
    port: int | None,
    peer: Network,
    peer_instance: Any,
    within: bool,
) -> SecurityGroupRule | None:
    """The first rule admitting traffic with `peer`: a CIDR holding all of it, or, within the
    VPC, a group the peer instance wears."""
    candidates = [r for r in rules if _allows(r, protocol, port)]
    worn: set[str] = set()
    referenced = [r.referenced_sg_id for r in candidates if r.referenced_sg_id]
    if referenced and within and peer_instance is not None:
        worn = security_groups.members(
            ctx, referenced, resource_type="instance", resource_id=peer_instance.instance_id
        )
    for rule in candidates:
        if rule.cidr_ipv4 is not None and peer.subnet_of(ipaddress.IPv4Network(rule.cidr_ipv4)):
            return rule
        if rule.referenced_sg_id is not None and rule.referenced_sg_id in worn:
            return rule
    return None


def _traffic(protocol: str, port: int | None) -> str:
    if protocol == "-1":
        return "all traffic"
    return protocol if port is None else f"{protocol}/{port}"


def _peer_text(end: End, address: Network) -> str:
    if end.kind == "internet":
        return "the internet"
    return str(address.network_address) if address.prefixlen == 32 else str(address)


def _through_groups(
    ctx: Ctx,
    direction: str,
    wearer: End,
    other: End,
    network: Network,
    within: bool,
    protocol: str,
    port: int | None,
    v: Verdict,
) -> None:
    """The `direction` rules of the groups `wearer` wears must admit the traffic to or from
    `other` (seen as `network`); the first that does is the hop's rule, else it is blocked."""
    groups = list(wearer.instance.security_groups)
    rules = _rules(ctx, groups, direction)
    peer = other.instance if other.kind == "instance" else None
    rule = _match(ctx, rules, protocol, port, network, peer, within)
    toward = "to" if direction == "egress" else "from"
    what = f"{_traffic(protocol, port)} {toward} {_peer_text(other, network)}"
    step = f"security-group-{direction}"
    if rule is None:
        named = ", ".join(groups) or "none"
        v.block(
            step,
            f"no {direction} rule of {wearer.label}'s security groups ({named}) allows {what}",
            ",".join(groups),
        )
        raise Blocked
    v.passed(
        step,
        f"{rule.group_id} {direction} {_rule_text(rule)} allows {what}",
        rule.group_id,
        rule.rule_id,
    )


def _rule_text(rule: SecurityGroupRule) -> str:
    protocol = "all" if rule.protocol == "-1" else rule.protocol
    ports = ""
    if rule.from_port is not None:
        same = rule.to_port in (None, rule.from_port)
        ports = f"/{rule.from_port}" if same else f"/{rule.from_port}-{rule.to_port}"
    peer = rule.cidr_ipv4 or rule.cidr_ipv6 or f"members of {rule.referenced_sg_id}"
    return f"{protocol}{ports} {'to' if rule.direction == 'egress' else 'from'} {peer}"


def _route_for(ctx: Ctx, subnet_id: str, network: Network) -> Any:
    """The most specific route of the subnet's table holding all of `network`."""
    if network.prefixlen == 32:
        return route_tables.lookup(ctx, subnet_id=subnet_id, destination=str(network[0]))
    from engine.networking.route_tables import Route
    from engine.networking.subnets import Subnet

    table = select(Subnet.route_table_id).where(col(Subnet.subnet_id) == subnet_id)
    return ctx.session.exec(
        select(Route)
        .where(
            col(Route.route_table_id) == table.scalar_subquery(),
            col(Route.destination_first) <= int(network.network_address),
            col(Route.destination_last) >= int(network.broadcast_address),
        )
        .order_by(col(Route.prefix_length).desc())
        .limit(1)
    ).first()


def _table(ctx: Ctx, subnet_id: str) -> str:
    table = route_tables.table_of(ctx, subnet_id)
    return table.route_table_id if table is not None else ""


def _route_out(
    ctx: Ctx, src: End, named: str, target: Network, within: bool, v: Verdict
) -> Network:
    """The source subnet's route to the target; what the packet's source address is after it."""
    instance = src.instance
    table = _table(ctx, instance.subnet_id)
    route = _route_for(ctx, instance.subnet_id, target)
    where = f"{instance.subnet_id}'s route table {table}"
    if route is None:
        way = "" if within else ": no internet or NAT gateway route leads out of the subnet"
        v.block("route", f"{where} has no route to {named} ({target}){way}", table)
        raise Blocked
    shown = f"route {route.destination_cidr} -> {route.target_id}"
    if route.status == "blackhole":
        v.block(
            "route",
            f"{where}: {shown} is a blackhole (its target is gone)",
            table,
            route.route_id,
        )
        raise Blocked
    private = ipaddress.IPv4Network(f"{instance.private_ip}/32")
    if route.target_type == "local":
        if not within:
            v.block("route", f"{where}: {target} is not in {src.vpc.vpc_id}", table, route.route_id)
            raise Blocked
        v.passed("route", f"{where}: {shown} (within {src.vpc.vpc_id})", table, route.route_id)
        return private
    if within:
        # A route more specific than `local` sends traffic of the VPC through an appliance.
        v.passed("route", f"{where}: {shown}", table, route.route_id)
        return private
    if route.target_type == "internet-gateway":
        if instance.public_ip is None:
            v.block(
                "internet-gateway",
                f"{where}: {shown}, but {src.label} has no public IP for the internet gateway "
                "to translate (a private instance goes out through a NAT gateway)",
                route.target_id,
                route.route_id,
            )
            raise Blocked
        v.passed("route", f"{where}: {shown}", table, route.route_id)
        v.passed(
            "internet-gateway",
            f"{route.target_id} translates {instance.private_ip} to {instance.public_ip}",
            route.target_id,
        )
        return ipaddress.IPv4Network(f"{instance.public_ip}/32")
    if route.target_type == "nat-gateway":
        return _through_nat(ctx, route, table, where, shown, v)
    v.block(
        "route",
        f"{where}: {shown} leads to a {route.target_type}; only internet and NAT gateways lead "
        f"out of {src.vpc.vpc_id}",
        table,
        route.route_id,
    )
    raise Blocked


def _through_nat(ctx: Ctx, route: Any, table: str, where: str, shown: str, v: Verdict) -> Network:
    from engine.networking.nat_gateways import NatGateway

    nat = ctx.session.exec(
        select(NatGateway).where(col(NatGateway.nat_gw_id) == route.target_id)
    ).first()
    if nat is None or nat.status != "available":
        state = nat.status if nat is not None else "gone"
        v.block("nat-gateway", f"{where}: {shown}, but the NAT gateway is {state}",
                route.target_id, route.route_id)  # fmt: skip
        raise Blocked
    v.passed("route", f"{where}: {shown}", table, route.route_id)
    nat_table = _table(ctx, nat.subnet_id)
    if not route_tables.reaches_internet(ctx, nat_table):
        v.block(
            "nat-gateway",
            f"{nat.nat_gw_id} sits in {nat.subnet_id}, whose route table {nat_table} has no "
            "active route to an internet gateway",
            nat.nat_gw_id,
        )
        raise Blocked
    v.passed(
        "nat-gateway",
        f"{nat.nat_gw_id} in {nat.subnet_id} sends it on as {nat.public_ip} through {nat_table}",
        nat.nat_gw_id,
    )
    return ipaddress.IPv4Network(f"{nat.public_ip}/32")


def _route_in(ctx: Ctx, dst: End, seen_as: Network, v: Verdict) -> None:
    """From outside the destination's VPC: in through its internet gateway, which its subnet's
    route table must lead to (else the subnet is private)."""
    instance = dst.instance
    table = _table(ctx, instance.subnet_id)
    route = _route_for(ctx, instance.subnet_id, seen_as)
    where = f"{instance.subnet_id}'s route table {table}"
    if route is None or route.target_type != "internet-gateway" or route.status != "active":
        why = "no route" if route is None else f"its route is {route.destination_cidr} -> "
        why += "" if route is None else f"{route.target_id} ({route.status})"
        v.block(
            "route",
            f"{where} has {why} to an internet gateway for {seen_as}: the subnet is private, "
            "so traffic from outside the VPC cannot get in",
            table,
            route.route_id if route is not None else "",
        )
        raise Blocked
    v.passed(
        "internet-gateway",
        f"{route.target_id} translates {instance.public_ip} to {instance.private_ip} "
        f"({where}: route {route.destination_cidr} -> {route.target_id})",
        route.target_id,
        route.route_id,
    )
