"""`atonix security-group`: security groups and their rules."""

from __future__ import annotations

import typer

from atonix_cli.context import current
from atonix_cli.flags import flag
from atonix_cli.framework import ResourceApp
from atonix_cli.options import Description, NewTags, Tags, Yes
from atonix_cli.resources import Resource, given, tags

app = ResourceApp(help="Security groups: which traffic reaches instances, rule by rule.")

GROUPS = Resource("security-groups")
COLUMNS = (
    ("sg_id", "ID"),
    ("name", "NAME"),
    ("vpc_id", "VPC"),
    ("is_default", "DEFAULT"),
    ("rule_count", "RULES"),
    ("description", "DESCRIPTION"),
)
RULE_COLUMNS = (
    ("rule_id", "RULE"),
    ("direction", "DIRECTION"),
    ("protocol", "PROTOCOL"),
    ("from_port", "FROM"),
    ("to_port", "TO"),
    ("cidr_ipv4", "CIDR"),
    ("cidr_ipv6", "CIDR V6"),
    ("referenced_sg_id", "GROUP"),
    ("description", "DESCRIPTION"),
)

Ref = GROUPS.argument("GROUP")
Protocol = typer.Option(
    "tcp", "--protocol", help="tcp, udp, icmp, ipv6-icmp, esp, ah, or all (-1)."
)
FromPort = typer.Option(
    None, *flag("from_port"), help="A port, or the first of a range (ICMP: the type)."
)
ToPort = typer.Option(None, *flag("to_port"), help="The last port of a range (default: --port).")


@app.command("list")
def list_groups(
    vpc_id: str | None = typer.Option(None, *flag("vpc_id"), help="Only this VPC's (id or name)."),
    search: str | None = typer.Option(
        None, "--search", help="Text in the id, name or description."
    ),
) -> None:
    """List your security groups, newest first.

    Example: atonix security-group list --vpc prod
    """
    cli = current()
    vpc = Resource("vpcs").resolve(cli, vpc_id) if vpc_id else None
    cli.render(GROUPS.list(cli, vpc_id=vpc, search=search), columns=COLUMNS)


@app.command("show")
def show(ref: str = Ref) -> None:
    """Show one security group with its rules.

    Example: atonix security-group show web -o yaml
    """
    cli = current()
    cli.render(GROUPS.show(cli, GROUPS.resolve(cli, ref)))


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Unique within its VPC."),
    vpc_id: str | None = typer.Option(None, *flag("vpc_id"), help="VPC id or name."),
    description: str | None = Description,
    tag: list[str] = Tags,
) -> None:
    """Create a security group: everything may go out, nothing comes in until you add rules.

    Example: atonix security-group create --vpc prod --name web
    """
    cli = current()
    body = {"name": name, "vpc_id": vpc_id, "description": description, "tags": tags(tag) or None}
    cli.render(GROUPS.create(cli, body))


@app.command("update")
def update(
    ref: str = Ref,
    name: str | None = typer.Option(None, "--name", help="New name."),
    description: str | None = Description,
    tag: list[str] = NewTags,
) -> None:
    """Change a security group's name, description or tags.

    Example: atonix security-group update web --description "public web servers"
    """
    cli = current()
    body = {"name": name, "description": description, "tags": tags(tag) if tag else None}
    cli.render(GROUPS.update(cli, ref, body))


@app.command("delete")
def delete(ref: str = Ref, yes: bool = Yes) -> None:
    """Delete a security group (refused while attached, referred to, or the VPC's default).

    Example: atonix security-group delete web --yes
    """
    GROUPS.delete(current(), ref, yes=yes)


@app.command("rules")
def rules(ref: str = Ref) -> None:
    """List a security group's rules, oldest first.

    Example: atonix security-group rules web
    """
    cli = current()
    found = cli.client.get(GROUPS.item(GROUPS.resolve(cli, ref), "rules"))["results"]
    cli.render(found, columns=RULE_COLUMNS)


@app.command("add-rule")
def add_rule(
    ref: str = Ref,
    direction: str = typer.Option("ingress", "--direction", help="ingress or egress."),
    protocol: str = Protocol,
    from_port: int | None = FromPort,
    to_port: int | None = ToPort,
    cidr: str | None = typer.Option(None, "--cidr", help="An IPv4 or IPv6 CIDR."),
    cidr_ipv4: str | None = typer.Option(None, *flag("cidr_ipv4")),
    cidr_ipv6: str | None = typer.Option(None, *flag("cidr_ipv6")),
    referenced_sg_id: str | None = typer.Option(
        None, *flag("referenced_sg_id"), help="Traffic of this group's members (id or name)."
    ),
    description: str | None = Description,
) -> None:
    """Add an ingress or egress rule: a protocol, a port range, and a CIDR or a group.

    Example: atonix security-group add-rule db --protocol tcp --port 5432 --source-group web
    """
    cli = current()
    body = {
        "direction": direction,
        "protocol": protocol,
        "from_port": from_port,
        "to_port": to_port,
        "cidr": cidr,
        "cidr_ipv4": cidr_ipv4,
        "cidr_ipv6": cidr_ipv6,
        "referenced_sg_id": referenced_sg_id,
        "description": description,
    }
    resource_id = GROUPS.resolve(cli, ref)
    rule = cli.client.post(GROUPS.item(resource_id, "add_rule"), given(body))
    cli.info(f"Added rule {rule['rule_id']} to security group {ref}")
    cli.render(rule)


@app.command("authorize-ingress")
def authorize_ingress(
    ref: str = Ref,
    protocol: str = Protocol,
    from_port: int | None = FromPort,
    to_port: int | None = ToPort,
    cidr: str = typer.Option("0.0.0.0/0", "--cidr", help="Where from: an IPv4 or IPv6 CIDR."),
    description: str | None = Description,
) -> None:
    """Allow traffic in from a CIDR (anywhere unless --cidr).

    Example: atonix security-group authorize-ingress web --protocol tcp --port 443
    """
    cli = current()
    body = {
        "protocol": protocol,
        "from_port": from_port,
        "to_port": to_port,
        "cidr": cidr,
        "description": description,
    }
    resource_id = GROUPS.resolve(cli, ref)
    rule = cli.client.post(GROUPS.item(resource_id, "authorize_ingress"), given(body))
    cli.info(f"Added rule {rule['rule_id']} to security group {ref}")
    cli.render(rule)


@app.command("remove-rule")
def remove_rule(
    ref: str = Ref,
    rule_id: str = typer.Argument(..., metavar="RULE", help="The rule's id (rule-…)."),
) -> None:
    """Remove one rule from a security group.

    Example: atonix security-group remove-rule web rule-0123456789ab
    """
    cli = current()
    path = GROUPS.item(GROUPS.resolve(cli, ref), "remove_rule")
    group = cli.client.post(path, {"rule_id": rule_id})
    cli.info(f"Removed rule {rule_id} from security group {ref}")
    cli.render(group)
