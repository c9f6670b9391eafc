"""`atonix instance`: launch and drive virtual machines."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, NewTags, Tags, Timeout, Wait, Zone
from atonix_cli.resources import Resource, tags

app = ResourceApp(help="Virtual machines: create, start, stop, wait, terminate.")

INSTANCES = Resource("instances")
STATES = INSTANCES.kind.states
COLUMNS = (
    ("instance_id", "ID"),
    ("name", "NAME"),
    ("status", "STATUS"),
    ("flavor_name", "FLAVOR"),
    ("image_name", "IMAGE"),
    ("private_ip", "PRIVATE IP"),
    ("public_ip", "PUBLIC IP"),
)

Ref = INSTANCES.argument("INSTANCE")
SecurityGroups = typer.Option(
    [], *flag("security_groups"), help="Group id or name, repeatable (default: the VPC's)."
)


@app.command("list")
def list_instances(
    status: str | None = typer.Option(
        None, "--status", help=f"Only this status: {', '.join(STATES)}."
    ),
    flavor: str | None = typer.Option(
        None, "--flavor", help="Only this flavor, by name (t3.micro) or id."
    ),
    availability_zone: str | None = Zone,
    subnet_id: str | None = typer.Option(
        None, *flag("subnet_id"), help="Only those in this subnet (id or name)."
    ),
    search: str | None = typer.Option(None, "--search", help="Text in id, name or IPs."),
    ordering: str | None = typer.Option(
        None, *flag("ordering"), help="created_at, name or status; -x reverses."
    ),
) -> None:
    """List your instances, newest first (every one: lists are fetched whole).

    Example: atonix instance list --status running -o json --query '[].name'
    """
    cli = current()
    items = INSTANCES.list(
        cli,
        status=status,
        flavor=flavor,
        availability_zone=availability_zone,
        subnet_id=Resource("subnets").resolve(cli, subnet_id) if subnet_id else None,
        search=search,
        ordering=ordering,
    )
    cli.render(items, columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one instance with its flavor, image and latest metrics.

    Example: atonix instance show web-1 -o yaml
    """
    cli = current()
    cli.render(INSTANCES.show(cli, INSTANCES.resolve(cli, ref)))


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Instance name."),
    flavor: str = typer.Option(
        ..., "--flavor", help="Flavor name or id (see `atonix flavor list`)."
    ),
    image: str = typer.Option(..., "--image", help="Image name or id (see `atonix image list`)."),
    availability_zone: str | None = Zone,
    subnet_id: str | None = typer.Option(
        None, *flag("subnet_id"), help="Launch into this subnet (id or name): its VPC and zone."
    ),
    description: str | None = Description,
    key_pair: str | None = typer.Option(None, "--key-pair", help="Name of an SSH key pair."),
    root_volume_size_gb: int | None = typer.Option(
        None, *flag("root_volume_size_gb"), help="GB, at least 10."
    ),
    user_data: str | None = typer.Option(None, "--user-data", help="cloud-init user data."),
    enable_monitoring: bool = typer.Option(
        True,
        *flag("enable_monitoring", negatable=True),
        help="Metric samples every 60 s (else every 5 min).",
    ),
    enable_termination_protection: bool = typer.Option(
        False,
        *flag("enable_termination_protection"),
        help="Refuse termination until cleared.",
    ),
    security_groups: list[str] = SecurityGroups,
    tag: list[str] = Tags,
    wait: bool = Wait,
    timeout: float = Timeout,
) -> None:
    """Launch an instance; it is pending, then running once booted.

    Example: atonix instance create --name web-1 --flavor t3.micro --image ubuntu-22.04 --wait
    """
    cli = current()
    body: dict[str, Any] = {
        "name": name,
        "flavor": flavor,
        "image": image,
        "availability_zone": availability_zone,
        "subnet_id": Resource("subnets").resolve(cli, subnet_id) if subnet_id else None,
        "description": description,
        "key_pair": key_pair,
        "root_volume_size_gb": root_volume_size_gb,
        "user_data": user_data,
        "enable_monitoring": enable_monitoring,
        "enable_termination_protection": enable_termination_protection,
        "tags": tags(tag) or None,
        "security_groups": security_groups or None,
    }
    created = cli.client.post(INSTANCES.path, {k: v for k, v in body.items() if v is not None})
    cli.info(f"Launching instance {name} ({created['instance_id']})")
    cli.render(INSTANCES.settle(cli, created, timeout) if wait else created)


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = Description,
    enable_monitoring: bool | None = typer.Option(None, *flag("enable_monitoring", negatable=True)),
    enable_termination_protection: bool | None = typer.Option(
        None,
        *flag("enable_termination_protection", negatable=True),
        help="Set or clear termination protection.",
    ),
    security_groups: list[str] = typer.Option(
        [], *flag("security_groups"), help="Group id or name, repeatable; replaces the groups."
    ),
    tag: list[str] = NewTags,
) -> None:
    """Change an instance's name, description, monitoring, protection, groups or tags.

    Example: atonix instance update web-1 --no-enable-termination-protection
    """
    cli = current()
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "enable_monitoring": enable_monitoring,
        "enable_termination_protection": enable_termination_protection,
        "tags": tags(tag) if tag else None,
        "security_groups": security_groups or None,
    }
    changes = {k: v for k, v in body.items() if v is not None}
    path = INSTANCES.item(INSTANCES.resolve(cli, ref))
    cli.render(cli.client.call("PATCH", path, json_body=changes))


@app.command("start")
def start(ref: str = Ref, wait: bool = Wait, timeout: float = Timeout) -> None:
    """Start a stopped instance.

    Example: atonix instance start web-1 --wait
    """
    cli = current()
    cli.render(INSTANCES.act(cli, ref, "start", wait=wait, timeout=timeout))


@app.command("stop")
def stop(ref: str = Ref, wait: bool = Wait, timeout: float = Timeout) -> None:
    """Stop a running instance (it keeps its IPs; compute stops costing).

    Example: atonix instance stop web-1 --wait
    """
    cli = current()
    cli.render(INSTANCES.act(cli, ref, "stop", wait=wait, timeout=timeout))


@app.command("terminate")
def terminate(ref: str = Ref, wait: bool = Wait, timeout: float = Timeout) -> None:
    """Terminate an instance for good: releases its IPs and quota (a pending one is cancelled).

    Example: atonix instance terminate web-1 --wait
    """
    cli = current()
    cli.render(INSTANCES.act(cli, ref, "terminate", wait=wait, timeout=timeout))


@app.command("wait")
def wait(
    ref: str = Ref,
    state: str = typer.Option("running", "--state", help=f"One of {', '.join(STATES)}."),
    timeout: float = typer.Option(300.0, "--timeout", min=0, help="Seconds to wait at most."),
) -> None:
    """Wait until an instance reaches a state (exit 7 on timeout).

    Example: atonix instance wait web-1 --state running --timeout 60
    """
    cli = current()
    INSTANCES.check_state(state)
    cli.render(INSTANCES.wait(cli, INSTANCES.resolve(cli, ref), (state,), timeout))


@app.command("metrics")
def metrics(
    ref: str = Ref,
    limit: int = typer.Option(
        10, "--limit", min=1, max=100, help="How many samples, newest first."
    ),
) -> None:
    """Show recent CPU, memory, disk and network samples of an instance.

    Example: atonix instance metrics web-1 --limit 5
    """
    cli = current()
    samples = cli.client.get(INSTANCES.item(INSTANCES.resolve(cli, ref), "metrics"))["results"]
    samples = samples[:limit]
    cli.render(
        samples,
        columns=(
            ("timestamp", "TIME"),
            ("cpu_usage_percent", "CPU %"),
            ("memory_usage_percent", "MEM %"),
            ("disk_usage_percent", "DISK %"),
            ("network_in_bytes", "NET IN"),
            ("network_out_bytes", "NET OUT"),
        ),
    )
