"""A CLI flag is its API field's name with `-` for `_`; the aliases that help, in one table."""

from __future__ import annotations

# API field -> its other flags: shorter names, and those of earlier releases, which still work.
# A negatable alias is written whole (`--public/--private`); others get `--no-` when negated.
ALIASES: dict[str, tuple[str, ...]] = {
    "availability_zone": ("--zone",),
    "ordering": ("--sort",),
    "enable_termination_protection": ("--termination-protection",),
    "enable_monitoring": ("--monitoring",),
    "root_volume_size_gb": ("--root-volume-size",),
    "size_gb": ("--size",),
    "is_gpu": ("--gpu",),
    "is_public": ("--public/--private",),
    "resource_type": ("--type",),
    "resource_id": ("--resource",),
    "vpc_id": ("--vpc",),
    "subnet_id": ("--subnet",),
    "cidr_block": ("--cidr",),
    "map_public_ip_on_launch": ("--public-ips",),
    "destination_cidr": ("--destination",),
    # Networking: security groups and reachability.
    "security_groups": ("--security-group",),
    "from_port": ("--port",),
    "referenced_sg_id": ("--source-group",),
    "source": ("--from",),
    "destination": ("--to",),
    "key_state": ("--state",),
    "versioning_enabled": ("--versioning",),
    "encryption_enabled": ("--encryption",),
    "log_target_bucket": ("--target-bucket",),
    "log_prefix": ("--prefix",),
}


def flag(field: str, *, negatable: bool = False) -> tuple[str, ...]:
    """The option declarations for API field `field`: its own flag first, then its aliases.

    `typer.Option(None, *flag("availability_zone"))` is `--availability-zone` or `--zone`.
    """
    names = (f"--{field.replace('_', '-')}", *ALIASES.get(field, ()))
    if not negatable:
        return tuple(n for n in names if "/" not in n)
    return tuple(n if "/" in n else f"{n}/--no-{n[2:]}" for n in names)
