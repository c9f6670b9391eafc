"""`atonix instance`: launch and drive virtual machines."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import Application, current
from atonix_cli.framework import ResourceApp
from atonix_cli.waiting import wait_for_status

app = ResourceApp(help="Virtual machines: create, start, stop, wait, terminate.")

PATH = "services/instances/"
COLUMNS = (
    ("instance_id", "ID"),
    ("name", "NAME"),
    ("status", "STATUS"),
    ("flavor_name", "FLAVOR"),
    ("image_name", "IMAGE"),
    ("private_ip", "PRIVATE IP"),
    ("public_ip", "PUBLIC IP"),
)
STATES = ("pending", "running", "stopping", "stopped", "terminating", "terminated", "cancelled")
GONE = ("terminated", "cancelled")

Ref = typer.Argument(..., metavar="INSTANCE", help="Instance id (i-…) or unique name.")
Wait = typer.Option(False, "--wait", help="Wait until the change has completed.")
Timeout = typer.Option(300.0, "--timeout", min=0, help="Seconds to wait at most with --wait.")


def _id(cli: Application, ref: str) -> str:
    return cli.resolve("instances", ref, prefix="i", label="instance")


def _show(cli: Application, instance_id: str) -> dict[str, Any]:
    return dict(cli.client.get(f"{PATH}{instance_id}/"))


def _wait(
    cli: Application,
    instance_id: str,
    wanted: tuple[str, ...],
    timeout: float,
    dead_ends: tuple[str, ...] = GONE,
) -> dict[str, Any]:
    return wait_for_status(
        lambda: _show(cli, instance_id),
        wanted=wanted,
        dead_ends=tuple(s for s in dead_ends if s not in wanted),
        label=f"instance {instance_id}",
        timeout=timeout,
        spinner=cli.spinner(),
    )


@app.command("list")
def list_instances(
    status: str | None = typer.Option(
        None, "--status", help=f"Only this status: {', '.join(STATES)}."
    ),
    flavor: str | None = typer.Option(None, "--flavor", help="Only this flavor id (t3-micro)."),
    zone: str | None = typer.Option(None, "--zone", help="Only this availability zone."),
    search: str | None = typer.Option(None, "--search", help="Text in id, name or IPs."),
    ordering: str | None = typer.Option(
        None, "--sort", help="created_at, name or status; -x reverses."
    ),
) -> None:
    """List your instances, newest first (every one: lists are fetched whole).

    Example: atonix instance list --status running -o json --query '[].name'
    """
    cli = current()
    items = cli.client.list_all(
        PATH, status=status, flavor=flavor, availability_zone=zone, search=search, ordering=ordering
    )
    cli.render(items, columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one instance with its flavor, image and latest metrics.

    Example: atonix instance show web-1 -o yaml
    """
    cli = current()
    cli.render(_show(cli, _id(cli, ref)))


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Instance name."),
    flavor: str = typer.Option(
        ..., "--flavor", help="Flavor name or id (see `atonix flavor list`)."
    ),
    image: str = typer.Option(..., "--image", help="Image name or id (see `atonix image list`)."),
    zone: str | None = typer.Option(None, "--zone", help="us-west-2a, us-west-2b or us-west-2c."),
    description: str | None = typer.Option(None, "--description"),
    key_pair: str | None = typer.Option(None, "--key-pair", help="Name of an SSH key pair."),
    root_volume_size: int | None = typer.Option(
        None, "--root-volume-size", help="GB, at least 10."
    ),
    user_data: str | None = typer.Option(None, "--user-data", help="cloud-init user data."),
    monitoring: bool = typer.Option(
        True, "--monitoring/--no-monitoring", help="Metric samples every 60 s (else every 5 min)."
    ),
    protect: bool = typer.Option(
        False, "--termination-protection", help="Refuse termination until cleared."
    ),
    tag: list[str] = typer.Option([], "--tag", help="KEY=VALUE, repeatable."),
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
        "availability_zone": zone,
        "description": description,
        "key_pair": key_pair,
        "root_volume_size_gb": root_volume_size,
        "user_data": user_data,
        "enable_monitoring": monitoring,
        "enable_termination_protection": protect,
        "tags": _tags(tag) or None,
    }
    created = cli.client.post(PATH, {k: v for k, v in body.items() if v is not None})
    instance_id = created["instance_id"]
    cli.info(f"Launching instance {name} ({instance_id})")
    if wait:
        created = _wait(cli, instance_id, ("running",), timeout)
    cli.render(created)


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = typer.Option(None, "--description"),
    monitoring: bool | None = typer.Option(None, "--monitoring/--no-monitoring"),
    protect: bool | None = typer.Option(
        None,
        "--termination-protection/--no-termination-protection",
        help="Set or clear termination protection.",
    ),
    tag: list[str] = typer.Option([], "--tag", help="KEY=VALUE, repeatable; replaces all tags."),
) -> None:
    """Change an instance's name, description, monitoring, protection or tags.

    Example: atonix instance update web-1 --no-termination-protection
    """
    cli = current()
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "enable_monitoring": monitoring,
        "enable_termination_protection": protect,
        "tags": _tags(tag) if tag else None,
    }
    instance_id = _id(cli, ref)
    cli.render(
        cli.client.call(
            "PATCH",
            f"{PATH}{instance_id}/",
            json_body={k: v for k, v in body.items() if v is not None},
        )
    )


def _act(
    ref: str, action: str, wanted: tuple[str, ...], verb: str, wait: bool, timeout: float
) -> None:
    cli = current()
    instance_id = _id(cli, ref)
    cli.client.post(f"{PATH}{instance_id}/{action}/")
    cli.info(f"{verb} instance {ref}" + (f" ({instance_id})" if ref != instance_id else ""))
    result = _wait(cli, instance_id, wanted, timeout) if wait else _show(cli, instance_id)
    cli.render(result)


@app.command("start")
def start(ref: str = Ref, wait: bool = Wait, timeout: float = Timeout) -> None:
    """Start a stopped instance.

    Example: atonix instance start web-1 --wait
    """
    _act(ref, "start", ("running",), "Starting", wait, timeout)


@app.command("stop")
def stop(ref: str = Ref, wait: bool = Wait, timeout: float = Timeout) -> None:
    """Stop a running instance (it keeps its IPs; compute stops costing).

    Example: atonix instance stop web-1 --wait
    """
    _act(ref, "stop", ("stopped",), "Stopping", wait, timeout)


@app.command("terminate")
def terminate(ref: str = Ref, wait: bool = Wait, timeout: float = Timeout) -> None:
    """Terminate an instance for good: releases its IPs and quota (a pending one is cancelled).

    Example: atonix instance terminate web-1 --wait
    """
    _act(ref, "terminate", GONE, "Terminating", wait, timeout)


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
    if state not in STATES:
        raise typer.BadParameter(f"must be one of {', '.join(STATES)}", param_hint="--state")
    cli.render(_wait(cli, _id(cli, ref), (state,), timeout))


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
    samples = cli.client.get(f"{PATH}{_id(cli, ref)}/metrics/")["results"][:limit]
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


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--tag")
        tags[key] = value
    return tags
