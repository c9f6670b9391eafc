"""Networking: VPCs, subnets, security groups, gateways, route tables, reachability."""

# This service's collection modules, each declaring one collection (see engine.collection).
COLLECTIONS: tuple[str, ...] = (
    "vpcs",
    "subnets",
    "route_tables",
    "internet_gateways",
    "nat_gateways",
    "security_groups",
)
