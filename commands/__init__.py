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
