"""Reachability between two instances in a crowded VPC: 100 security groups of 60 rules each and
50 routes.

    .venv/bin/python bench/reachability.py
    .venv/bin/python bench/reachability.py --runs 100

The VPC is the issue's (a public web subnet behind an internet gateway, a private db subnet with
a NAT route), plus 98 more groups and 50 more routes. Groups are created through the API; their
rules are inserted in bulk straight into the rule table (5,900 API calls would only slow the
set-up down), with the same signatures and counts the API keeps. Each instance wears five
groups (the most an instance may), all full, and the rule that admits the traffic is each
group's last, so every rule is looked at.

Timed in-process, as the embedded CLI asks: `GET /api/v1/services/vpcs/reachability/` through
the WSGI app (authentication, the unit of work and JSON included). Target: <= 50 ms (median).
"""

from __future__ import annotations

import argparse

from benchlib import InProcess, machine_note, say, scratch, time_calls

GROUPS = "/api/v1/services/security-groups/"
REACH = "/api/v1/services/vpcs/reachability/"
TARGET_MS = 50.0
GROUP_COUNT = 100
RULES_PER_GROUP = 60
ROUTE_COUNT = 50


def post(engine: InProcess, collection: str, **body: object) -> dict:
    found: dict = engine.call("POST", f"/api/v1/services/{collection}/", body=body)
    return found


def act(engine: InProcess, collection: str, rid: str, action: str, **body: object) -> dict:
    found: dict = engine.call("POST", f"/api/v1/services/{collection}/{rid}/{action}/", body=body)
    return found


def fill(engine: InProcess, group_id: str, *, last: dict | None) -> None:
    """Give a group its 60 rules: filler ingress rules that admit nothing asked, then `last`."""
    from sqlmodel import select

    from engine.ids import new_id
    from engine.networking.security_group_rules import MAX_RULES, SecurityGroupRule
    from engine.networking.security_groups import SecurityGroup

    with engine.db.session(write=True) as session:
        group = session.exec(select(SecurityGroup).where(SecurityGroup.sg_id == group_id)).one()
        have = group.rule_count
        wanted = MAX_RULES - have - (1 if last else 0)
        rows = []
        for n in range(wanted):
            port = 10_000 + n
            cidr = f"192.168.{n}.0/24"
            signature = f"ingress|tcp|{port}|{port}|{cidr}||"
            rows.append(
                SecurityGroupRule(
                    rule_id=new_id("rule"),
                    group_id=group_id,
                    direction="ingress",
                    protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=cidr,
                    signature=signature,
                )
            )
        session.add_all(rows)
        group.rule_count = have + wanted
        session.add(group)
    if last:
        act(engine, "security-groups", group_id, "add_rule", **last)


def build(engine: InProcess) -> None:
    vpc = post(engine, "vpcs", name="prod", cidr_block="10.1.0.0/16")["vpc_id"]
    web_subnet = post(
        engine, "subnets", vpc_id=vpc, name="web-a", cidr_block="10.1.1.0/24",
        map_public_ip_on_launch=True,
    )["subnet_id"]  # fmt: skip
    db_subnet = post(engine, "subnets", vpc_id=vpc, name="db-a", cidr_block="10.1.2.0/24")
    igw = post(engine, "internet-gateways", vpc_id=vpc, name="igw")["ig_id"]
    public = post(engine, "route-tables", vpc_id=vpc, name="public")["route_table_id"]
    act(engine, "route-tables", public, "add_route", destination_cidr="0.0.0.0/0",
        target_type="internet-gateway", target_id=igw)  # fmt: skip
    act(engine, "route-tables", public, "associate", subnet_id=web_subnet)
    nat = post(engine, "nat-gateways", subnet_id=web_subnet, name="nat")["nat_gw_id"]
    private = post(engine, "route-tables", vpc_id=vpc, name="private")["route_table_id"]
    act(engine, "route-tables", private, "add_route", destination_cidr="0.0.0.0/0",
        target_type="nat-gateway", target_id=nat)  # fmt: skip
    act(engine, "route-tables", private, "associate", subnet_id=db_subnet["subnet_id"])
    # 50 routes in all: the two above, the two local ones, and 46 more to the gateways.
    for n in range(ROUTE_COUNT - 4):
        table, target, kind = (
            (public, igw, "internet-gateway") if n % 2 else (private, nat, "nat-gateway")
        )
        act(engine, "route-tables", table, "add_route", destination_cidr=f"172.16.{n}.0/24",
            target_type=kind, target_id=target)  # fmt: skip

    web = post(engine, "security-groups", vpc_id=vpc, name="web")["sg_id"]
    db = post(engine, "security-groups", vpc_id=vpc, name="db")["sg_id"]
    fillers = [
        post(engine, "security-groups", vpc_id=vpc, name=f"filler-{n}")["sg_id"]
        for n in range(GROUP_COUNT - 2)
    ]
    for group_id in fillers:
        fill(engine, group_id, last=None)
    fill(engine, web, last={"protocol": "tcp", "from_port": 443, "cidr": "0.0.0.0/0"})
    fill(engine, db, last={"protocol": "tcp", "from_port": 5432, "referenced_sg_id": web})
    body = {"flavor": "t3.micro", "image": "ubuntu-22.04"}
    post(engine, "instances", name="web-1", subnet_id=web_subnet,
         security_groups=[*fillers[:4], web], **body)  # fmt: skip
    post(engine, "instances", name="db-1", subnet_id=db_subnet["subnet_id"],
         security_groups=[*fillers[4:8], db], **body)  # fmt: skip
    rules = sum(
        g["rule_count"] for g in engine.call("GET", GROUPS, params={"page_size": 1000})["results"]
    )
    say(f"set up: 1 VPC, {GROUP_COUNT} groups (+1 default), {rules} rules, {ROUTE_COUNT} routes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    say(machine_note())
    with scratch("reachability") as root:
        engine = InProcess(root / "data")
        build(engine)
        questions = {
            "web-1 -> db-1 tcp/5432 (reachable)": ("web-1", "db-1", 5432, True),
            "internet -> web-1 tcp/443 (reachable)": ("internet", "web-1", 443, True),
            "db-1 -> internet tcp/443 via NAT (reachable)": ("db-1", "internet", 443, True),
            "web-1 -> db-1 tcp/5433 (blocked at ingress)": ("web-1", "db-1", 5433, False),
        }
        results = []
        for label, (source, destination, port, expected) in questions.items():
            params = {"source": source, "destination": destination, "port": port}
            answer = engine.call("GET", REACH, params=params)
            assert answer["reachable"] is expected, answer

            def ask(params: dict = params) -> None:
                engine.call("GET", REACH, params=params)

            results.append(time_calls(label, ask, runs=args.runs, warmups=3))
        for timing in results:
            say(timing.line(TARGET_MS))
        engine.close()
    say(machine_note(end=True))


if __name__ == "__main__":
    main()
