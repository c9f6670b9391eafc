"""`atonix flavor`: the catalog of instance sizes."""

from __future__ import annotations

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp

app = ResourceApp(help="Instance sizes: vCPUs, memory and hourly price.")

PATH = "services/flavors/"
COLUMNS = (
    ("name", "NAME"),
    ("vcpus", "VCPUS"),
    ("memory_mb", "MEMORY MB"),
    ("disk_gb", "DISK GB"),
    ("gpu_count", "GPUS"),
    ("hourly_cost_usd", "USD/HOUR"),
)


@app.command("list")
def list_flavors(
    vcpus: int | None = typer.Option(
        None, "--vcpus", min=1, help="Only flavors with this many vCPUs."
    ),
    is_gpu: bool = typer.Option(False, *flag("is_gpu"), help="Only GPU flavors."),
) -> None:
    """List active flavors, smallest first.

    Example: atonix flavor list --vcpus 4
    """
    cli = current()
    cli.render(
        cli.client.list_all(PATH, vcpus=vcpus, is_gpu=True if is_gpu else None), columns=COLUMNS
    )


@app.command("show")
def show(
    flavor: str = typer.Argument(..., help="Flavor id (t3-micro) or name (t3.micro)."),
) -> None:
    """Show one flavor.

    Example: atonix flavor show t3.micro
    """
    cli = current()
    by_name = cli.client.list_all(PATH, name=flavor)
    cli.render(by_name[0] if by_name else cli.client.get(f"{PATH}{flavor}/"))
