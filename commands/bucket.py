"""`atonix bucket`: create, configure and remove buckets."""

from __future__ import annotations

from typing import Any

import typer

from atonix_cli.context import Application, current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import NewTags, Tags, Yes
from atonix_cli.resources import Resource, tags

app = ResourceApp(help="Buckets: create, versioning, logging, statistics, delete.")

BUCKETS = Resource("buckets")
ACLS = ("private", "public-read", "public-read-write", "authenticated-read")
COLUMNS = (
    ("bucket_id", "ID"),
    ("bucket_name", "NAME"),
    ("status", "STATUS"),
    ("region", "REGION"),
    ("versioning_enabled", "VERSIONING"),
    ("encryption_enabled", "ENCRYPTED"),
    ("total_objects", "OBJECTS"),
    ("total_size_bytes", "BYTES"),
)

Ref = BUCKETS.argument("BUCKET")
Acl = typer.Option(None, "--acl", help=f"One of {', '.join(ACLS)}.")
Timeout = typer.Option(300.0, "--timeout", min=0, help="Seconds to wait at most.")


def resolve(cli: Application, ref: str) -> str:
    return BUCKETS.resolve(cli, ref)


@app.command("list")
def list_buckets(
    status: str | None = typer.Option(None, "--status", help="Only this status."),
    region: str | None = typer.Option(None, "--region"),
    versioning_enabled: bool | None = typer.Option(
        None, *flag("versioning_enabled", negatable=True), help="Only (un)versioned buckets."
    ),
) -> None:
    """List your buckets, newest first.

    Example: atonix bucket list -o json --query '[].bucket_name'
    """
    cli = current()
    items = BUCKETS.list(cli, status=status, region=region, versioning_enabled=versioning_enabled)
    cli.render(items, columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one bucket: its settings and totals.

    Example: atonix bucket show photos -o yaml
    """
    cli = current()
    cli.render(BUCKETS.show(cli, resolve(cli, ref)))


@app.command("create")
def create(
    bucket_name: str = typer.Argument(
        ..., metavar="NAME", help="3-63 letters, digits, - and .; unique across all users."
    ),
    region: str | None = typer.Option(None, "--region", help="Default us-west-2."),
    acl: str | None = Acl,
    versioning_enabled: bool = typer.Option(
        False, *flag("versioning_enabled"), help="Keep every version of every object."
    ),
    encryption_enabled: bool = typer.Option(
        True,
        *flag("encryption_enabled", negatable=True),
        help="Encrypt objects at rest (default on).",
    ),
    encryption_type: str | None = typer.Option(
        None, *flag("encryption_type"), help="sse-s3 (default), sse-kms or cse-kms."
    ),
    kms_key_id: str | None = typer.Option(
        None, *flag("kms_key_id"), help="Your encryption key's id (default: one for the bucket)."
    ),
    tag: list[str] = Tags,
    wait: bool = typer.Option(
        True, "--wait/--no-wait", help="Wait until the bucket is active (default)."
    ),
    timeout: float = Timeout,
) -> None:
    """Create a bucket; it is usable once active, which the command waits for.

    Example: atonix bucket create photos --versioning
    """
    cli = current()
    body: dict[str, Any] = {
        "bucket_name": bucket_name,
        "region": region,
        "acl": acl,
        "versioning_enabled": versioning_enabled or None,
        "encryption_enabled": None if encryption_enabled else False,
        "encryption_type": encryption_type,
        "kms_key_id": kms_key_id,
        "tags": tags(tag) or None,
    }
    created = cli.client.post(BUCKETS.path, {k: v for k, v in body.items() if v is not None})
    cli.info(f"Creating bucket {bucket_name} ({created['bucket_id']})")
    cli.render(BUCKETS.settle(cli, created, timeout) if wait else created)


@app.command("update")
def update(
    ref: str = Ref,
    acl: str | None = Acl,
    request_metrics_enabled: bool | None = typer.Option(
        None, *flag("request_metrics_enabled", negatable=True)
    ),
    tag: list[str] = NewTags,
) -> None:
    """Change a bucket's ACL, request metrics or tags.

    Versioning and logging have their own commands.

    Example: atonix bucket update photos --acl public-read --tag team=web
    """
    cli = current()
    body: dict[str, Any] = {
        "acl": acl,
        "request_metrics_enabled": request_metrics_enabled,
        "tags": tags(tag) if tag else None,
    }
    changes = {k: v for k, v in body.items() if v is not None}
    cli.render(cli.client.call("PATCH", BUCKETS.item(resolve(cli, ref)), json_body=changes))


@app.command("delete")
def delete(
    ref: str = Ref,
    force: bool = typer.Option(
        False, "--force", help="Delete every object and version first (else: refused if any)."
    ),
    yes: bool = Yes,
) -> None:
    """Delete a bucket; one holding objects is refused unless --force.

    Example: atonix bucket delete photos --force --yes
    """
    cli = current()
    bucket_id = resolve(cli, ref)
    what = " and every object in it" if force else ""
    cli.confirm(f"Delete bucket {ref}{what}?", yes=yes)
    cli.client.call("DELETE", BUCKETS.item(bucket_id), params={"force": True} if force else None)
    cli.info(f"Deleted bucket {ref} ({bucket_id})")


@app.command("versioning")
def versioning(ref: str = Ref) -> None:
    """Turn versioning on: every upload then keeps the versions before it. It stays on.

    Example: atonix bucket versioning photos
    """
    cli = current()
    cli.render(cli.client.post(BUCKETS.item(resolve(cli, ref), "enable_versioning")))


@app.command("logging")
def logging(
    ref: str = Ref,
    log_target_bucket: str = typer.Option(
        ..., *flag("log_target_bucket"), help="A bucket of yours that receives the access logs."
    ),
    log_prefix: str | None = typer.Option(
        None, *flag("log_prefix"), help="Key prefix of the log objects, e.g. logs/."
    ),
) -> None:
    """Write an access-log record of every request on this bucket into another bucket.

    Example: atonix bucket logging photos --target-bucket photo-logs --prefix photos/
    """
    cli = current()
    body = {"log_target_bucket": log_target_bucket, "log_prefix": log_prefix}
    acted = cli.client.post(
        BUCKETS.item(resolve(cli, ref), "enable_logging"),
        {k: v for k, v in body.items() if v is not None},
    )
    cli.render(acted)


@app.command("stats")
def stats(ref: str = Ref) -> None:
    """Object count and sizes of a bucket, computed from its objects.

    Example: atonix bucket stats photos -o json
    """
    cli = current()
    cli.render(cli.client.get(BUCKETS.item(resolve(cli, ref), "statistics")))
