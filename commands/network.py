"""`atonix network`: questions about the virtual network as a whole."""

from __future__ import annotations

import typer

from atonix_cli.context import current
from atonix_cli.errors import ExitCode
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp

app = ResourceApp(help="Network questions: can A reach B on this port, and if not, why not.")

HOP_COLUMNS = (
    ("step", "STEP"),
    ("verdict", "VERDICT"),
    ("resource_id", "RESOURCE"),
    ("rule_id", "RULE OR ROUTE"),
    ("detail", "DETAIL"),
)
Endpoint = "an instance (id or name), a CIDR or an address, or `internet`"


@app.callback()
def network() -> None:
    """Network questions: can A reach B on this port, and if not, why not."""


@app.command("reachability")
def reachability(
    source: str = typer.Option(..., *flag("source"), help=f"Where from: {Endpoint}."),
    destination: str = typer.Option(..., *flag("destination"), help=f"Where to: {Endpoint}."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Destination port (tcp and udp)."
    ),
    protocol: str = typer.Option("tcp", "--protocol", help="tcp, udp, icmp or all."),
) -> None:
    """Can SOURCE reach DESTINATION? Each hop names the rule or route that let the traffic
    through, or the first one that stopped it and why. Exit 0 when reachable, 5 when not.

    Example: atonix network reachability --from web-1 --to db-1 --port 5432
    """
    cli = current()
    answer = cli.client.get(
        "services/vpcs/reachability/",
        source=source,
        destination=destination,
        port=port,
        protocol=protocol,
    )
    if cli.output_format() in ("table", "text", "csv"):
        cli.render(answer["hops"], columns=HOP_COLUMNS)
    else:
        cli.render(answer)
    if answer["reachable"]:
        cli.info(f"Reachable: {answer['summary']}")
        return
    cli.info(f"Not reachable: {answer['summary']}")
    raise typer.Exit(ExitCode.NOT_REACHABLE)
