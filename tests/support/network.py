"""Paths and helpers for networking tests over HTTP: a VPC with its subnets, gateways, routes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import SERVICES, expect

VPCS = f"{SERVICES}/vpcs/"
SUBNETS = f"{SERVICES}/subnets/"
ROUTE_TABLES = f"{SERVICES}/route-tables/"
INTERNET_GATEWAYS = f"{SERVICES}/internet-gateways/"
NAT_GATEWAYS = f"{SERVICES}/nat-gateways/"


def item(collection: str, resource_id: str, action: str = "") -> str:
    return f"{collection}{resource_id}/{action + '/' if action else ''}"


def vpc(client: httpx.Client, name: str = "prod", cidr: str = "10.1.0.0/16", **fields: Any) -> Any:
    return expect(client.post(VPCS, json={"name": name, "cidr_block": cidr, **fields}), 201)


def subnet(client: httpx.Client, vpc_id: str, cidr: str, name: str = "web-a", **fields: Any) -> Any:
    body = {"name": name, "vpc_id": vpc_id, "cidr_block": cidr, **fields}
    return expect(client.post(SUBNETS, json=body), 201)


def internet_gateway(client: httpx.Client, vpc_id: str, name: str = "igw") -> Any:
    return expect(client.post(INTERNET_GATEWAYS, json={"name": name, "vpc_id": vpc_id}), 201)


def route_table(client: httpx.Client, vpc_id: str, name: str = "public") -> Any:
    return expect(client.post(ROUTE_TABLES, json={"name": name, "vpc_id": vpc_id}), 201)


def add_route(
    client: httpx.Client, table_id: str, destination: str, target_type: str, target_id: str
) -> httpx.Response:
    body = {"destination_cidr": destination, "target_type": target_type, "target_id": target_id}
    return client.post(item(ROUTE_TABLES, table_id, "add_route"), json=body)


def public_subnet(client: httpx.Client, vpc_id: str, cidr: str, name: str = "web-a") -> Any:
    """A subnet whose own route table sends 0.0.0.0/0 to the VPC's internet gateway (made here
    if the VPC has none) and which maps public IPs."""
    found = expect(client.get(INTERNET_GATEWAYS, params={"vpc_id": vpc_id}), 200)["results"]
    igw = found[0] if found else internet_gateway(client, vpc_id)
    table = route_table(client, vpc_id, f"{name}-public")
    expect(
        add_route(client, table["route_table_id"], "0.0.0.0/0", "internet-gateway", igw["ig_id"]),
        201,
    )
    made = subnet(client, vpc_id, cidr, name, map_public_ip_on_launch=True)
    associate = item(ROUTE_TABLES, table["route_table_id"], "associate")
    expect(client.post(associate, json={"subnet_id": made["subnet_id"]}), 200)
    made["route_table_id"] = table["route_table_id"]
    return made
