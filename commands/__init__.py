"""The command table: each top-level command, the module that implements it, and its one-line help.

Modules are imported only when their command runs, so `atonix --help` loads none of them.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    module: str
    attr: str
    help: str
    panel: str


COMMANDS: dict[str, Entry] = {
    "instance": Entry(
        "commands.instance",
        "app",
        "Virtual machines: create, start, stop, wait, terminate.",
        "Compute",
    ),
    "flavor": Entry(
        "commands.flavor", "app", "Instance sizes: vCPUs, memory and hourly price.", "Compute"
    ),
    "image": Entry(
        "commands.image", "app", "Machine images: the built-in ones and your own.", "Compute"
    ),
    "vpc": Entry(
        "commands.vpc",
        "app",
        "Virtual private clouds: CIDR blocks holding subnets, gateways, routes.",
        "Networking",
    ),
    "subnet": Entry(
        "commands.subnet",
        "app",
        "Subnets: a VPC's address blocks, handing out instance addresses.",
        "Networking",
    ),
    "route-table": Entry(
        "commands.route_table",
        "app",
        "Route tables: routes to gateways and instances, and their subnets.",
        "Networking",
    ),
    "internet-gateway": Entry(
        "commands.internet_gateway",
        "app",
        "Internet gateways: a VPC's way to the internet, one per VPC.",
        "Networking",
    ),
    "nat-gateway": Entry(
        "commands.nat_gateway",
        "app",
        "NAT gateways: private subnets' way out, from a public subnet.",
        "Networking",
    ),
    "security-group": Entry(
        "commands.security_group",
        "app",
        "Security groups: which traffic reaches instances, rule by rule.",
        "Networking",
    ),
    "network": Entry(
        "commands.network",
        "app",
        "Network questions: can A reach B on this port, and if not, why not.",
        "Networking",
    ),
    "bucket": Entry(
        "commands.bucket", "app", "Buckets: create, versioning, logging, statistics.", "Storage"
    ),
    "object": Entry(
        "commands.object", "app", "Objects: put, get, ls, versions, cp, sync, presign.", "Storage"
    ),
    "key": Entry(
        "commands.key", "app", "Encryption keys: create, rotate, enable, disable.", "Storage"
    ),
    "login": Entry(
        "commands.auth",
        "login_app",
        "Log in with a username and password, or an API key.",
        "Identity",
    ),
    "logout": Entry(
        "commands.auth",
        "logout_app",
        "Forget this profile's credential (and revoke a token).",
        "Identity",
    ),
    "whoami": Entry(
        "commands.auth", "whoami_app", "Show the user and credential in use.", "Identity"
    ),
    "apikey": Entry("commands.apikey", "app", "Your API keys: create, list, revoke.", "Identity"),
    "user": Entry("commands.user", "app", "Users and their roles (admin).", "Identity"),
    "quota": Entry("commands.quota", "app", "Quotas: what you use and your limits.", "Governance"),
    "audit": Entry("commands.audit", "app", "The audit log of every change.", "Governance"),
    "profile": Entry(
        "commands.profile", "app", "Profiles: which cloud to talk to, embedded or remote.", "Setup"
    ),
    "engine": Entry(
        "commands.engine",
        "app",
        "The embedded engine: serve it over HTTP, drive its clock.",
        "Setup",
    ),
    "completion": Entry("commands.completion", "app", "Print a shell completion script.", "Setup"),
}
