"""Networking: VPCs, subnets, security groups, gateways, route tables, reachability."""

# This service's collection modules, each declaring one collection (see engine.collection).
COLLECTIONS: tuple[str, ...] = ("security_groups",)
