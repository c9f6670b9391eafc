"""`atonix image`: built-in public images and your own."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, Yes
from atonix_cli.resources import Resource

app = ResourceApp(help="Machine images: the built-in ones and your own.")

IMAGES = Resource("images")
COLUMNS = (
    ("image_id", "ID"),
    ("name", "NAME"),
    ("os_type", "OS"),
    ("os_version", "VERSION"),
    ("size_gb", "SIZE GB"),
    ("is_public", "PUBLIC"),
    ("owner", "OWNER"),
)
Ref = IMAGES.argument("IMAGE")


@app.command("list")
def list_images(
    mine: bool = typer.Option(False, "--mine", help="Only your own images."),
    os_type: str | None = typer.Option(None, "--os-type", help="linux, windows or custom."),
    search: str | None = typer.Option(None, "--search", help="Text in the name or OS."),
) -> None:
    """List the images you can launch: public ones and your own.

    Example: atonix image list -o json
    """
    cli = current()
    items = IMAGES.list(cli, "my_images" if mine else "", os_type=os_type, search=search)
    cli.render(items, columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one image.

    Example: atonix image show ubuntu-22.04
    """
    cli = current()
    cli.render(IMAGES.show(cli, IMAGES.resolve(cli, ref)))


@app.command("create")
def create(
    name: str = typer.Option(..., "--name"),
    os_type: str = typer.Option("linux", "--os-type", help="linux, windows or custom."),
    os_name: str = typer.Option("", "--os-name"),
    os_version: str = typer.Option("", "--os-version"),
    size_gb: int = typer.Option(8, *flag("size_gb"), min=1, help="Size in GB."),
    is_public: bool = typer.Option(
        True, *flag("is_public", negatable=True), help="Visible to everyone, or to you only."
    ),
    description: str | None = Description,
) -> None:
    """Register an image of your own (public unless --private).

    Example: atonix image create --name golden-web --os-name Ubuntu --os-version 22.04 --private
    """
    cli = current()
    body: dict[str, Any] = {
        "name": name,
        "os_type": os_type,
        "os_name": os_name,
        "os_version": os_version,
        "size_gb": size_gb,
        "is_public": is_public,
    }
    if description is not None:
        body["description"] = description
    cli.render(cli.client.post(IMAGES.path, body))


@app.command("delete")
def delete(ref: str = Ref, yes: bool = Yes) -> None:
    """Delete one of your images (refused while an instance uses it).

    Example: atonix image delete golden-web --yes
    """
    IMAGES.delete(current(), ref, yes=yes)
