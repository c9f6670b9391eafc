"""`atonix key`: encryption keys that protect buckets; create, rotate, enable, disable."""

from __future__ import annotations

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, NewTags, Tags, Yes
from atonix_cli.resources import Resource, given, tags

app = ResourceApp(help="Encryption keys: create, rotate, enable, disable.")

KEYS = Resource("encryption-keys")
KEY_TYPES = "symmetric, asymmetric-rsa or asymmetric-ecc"
COLUMNS = (
    ("key_id", "ID"),
    ("name", "NAME"),
    ("key_state", "STATE"),
    ("key_type", "TYPE"),
    ("algorithm", "ALGORITHM"),
    ("rotation_count", "ROTATIONS"),
)

Ref = KEYS.argument("KEY")
PeriodDays = typer.Option(
    None, *flag("rotation_period_days"), min=1, max=2560, help="Days between rotations."
)


@app.command("list")
def list_keys(
    key_state: str | None = typer.Option(
        None, *flag("key_state"), help="Only keys in this state: enabled or disabled."
    ),
    key_type: str | None = typer.Option(None, *flag("key_type"), help=f"Only {KEY_TYPES} keys."),
    search: str | None = typer.Option(
        None, "--search", help="Text in the id, name or description."
    ),
    ordering: str | None = typer.Option(
        None,
        *flag("ordering"),
        help="created_at, name, key_state, last_rotated_at or rotation_count; -x reverses.",
    ),
) -> None:
    """List your encryption keys, newest first (a bucket's own key is named bucket-<id>).

    Example: atonix key list --key-state disabled
    """
    cli = current()
    items = KEYS.list(cli, key_state=key_state, key_type=key_type, search=search, ordering=ordering)
    cli.render(items, columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one key: its state, rotation schedule and use (never its material).

    Example: atonix key show app-data -o yaml
    """
    cli = current()
    cli.render(KEYS.show(cli, KEYS.resolve(cli, ref)))


@app.command("create")
def create(
    name: str | None = typer.Option(
        None, "--name", help="Unique among your keys; the key id if not given."
    ),
    description: str | None = Description,
    key_type: str = typer.Option("symmetric", *flag("key_type"), help=f"{KEY_TYPES}."),
    algorithm: str | None = typer.Option(
        None,
        "--algorithm",
        help="AES_256 (symmetric); RSA_2048, RSA_3072, RSA_4096; ECC_NIST_P256, ECC_NIST_P384.",
    ),
    rotation_enabled: bool = typer.Option(
        True,
        *flag("rotation_enabled", negatable=True),
        help="Rotate automatically every --rotation-period-days.",
    ),
    rotation_period_days: int | None = PeriodDays,
    tag: list[str] = Tags,
) -> None:
    """Create an encryption key; the engine makes its material, which is never shown.

    Example: atonix key create --name app-data --rotation-period-days 30
    """
    cli = current()
    body = given(
        {
            "name": name,
            "description": description,
            "key_type": key_type,
            "algorithm": algorithm,
            "rotation_enabled": rotation_enabled,
            "rotation_period_days": rotation_period_days,
            "tags": tags(tag) or None,
        }
    )
    cli.render(KEYS.create(cli, body))


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = Description,
    rotation_enabled: bool | None = typer.Option(
        None, *flag("rotation_enabled", negatable=True), help="Turn automatic rotation on or off."
    ),
    rotation_period_days: int | None = PeriodDays,
    tag: list[str] = NewTags,
) -> None:
    """Change a key's name, description, rotation schedule or tags.

    Example: atonix key update app-data --no-rotation-enabled
    """
    cli = current()
    body = given(
        {
            "name": name,
            "description": description,
            "rotation_enabled": rotation_enabled,
            "rotation_period_days": rotation_period_days,
            "tags": tags(tag) if tag else None,
        }
    )
    cli.render(KEYS.update(cli, ref, body))


@app.command("delete")
def delete(ref: str = Ref, yes: bool = Yes) -> None:
    """Delete a key for good (refused while a bucket or an object version uses it).

    Example: atonix key delete old-key --yes
    """
    KEYS.delete(current(), ref, yes=yes)


@app.command("rotate")
def rotate(ref: str = Ref) -> None:
    """Rotate a key: new material for new objects; what older material sealed stays readable.

    Example: atonix key rotate app-data
    """
    cli = current()
    key_id = KEYS.resolve(cli, ref)
    cli.client.post(KEYS.item(key_id, "rotate"))
    named = f" ({key_id})" if ref != key_id else ""
    cli.info(f"Rotated encryption key {ref}{named}")
    cli.render(KEYS.show(cli, key_id))


@app.command("disable")
def disable(ref: str = Ref) -> None:
    """Disable a key: reads and writes of the objects it protects fail until it is enabled.

    Example: atonix key disable app-data
    """
    cli = current()
    cli.render(KEYS.act(cli, ref, "disable", wait=False, timeout=0))


@app.command("enable")
def enable(ref: str = Ref) -> None:
    """Enable a disabled key: its objects are readable and writable again.

    Example: atonix key enable app-data
    """
    cli = current()
    cli.render(KEYS.act(cli, ref, "enable", wait=False, timeout=0))
