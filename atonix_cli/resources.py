"""The verbs every resource command shares (resolve, show, list, delete, act, wait, --tag), driven
by the catalog generated from the engine's collection declarations."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer

from atonix_cli.catalog import CATALOG, Kind
from atonix_cli.context import Application
from atonix_cli.errors import CliError, ExitCode
from atonix_cli.waiting import wait_for_status


class Resource:
    """One collection as commands use it: `Resource("instances")`."""

    def __init__(self, name: str) -> None:
        self.kind: Kind = CATALOG[name]
        self.path = f"services/{name}/"
        self.label = self.kind.label

    def argument(self, metavar: str, *, label: str = "") -> Any:
        """The positional argument naming one resource, its help from the catalog's prefix."""
        what = label or self.label.capitalize()
        return typer.Argument(
            ..., metavar=metavar, help=f"{what} id ({self.kind.id_prefix}-…) or unique name."
        )

    def item(self, resource_id: str, action: str = "") -> str:
        return f"{self.path}{resource_id}/" + (f"{action}/" if action else "")

    # --- lookups -------------------------------------------------------------------------------

    def resolve(self, cli: Application, ref: str) -> str:
        """An id from an id or a unique name; live resources win over gone ones of the same name."""
        prefix = self.kind.id_prefix
        if prefix and re.fullmatch(rf"{re.escape(prefix)}-[0-9a-f]{{12}}", ref):
            return ref
        matches = cli.client.list_all(self.path, name=ref)
        live = [m for m in matches if m.get("status") not in self.kind.final]
        candidates = live or matches
        if not candidates and prefix and ref.startswith(f"{prefix}-"):
            return ref  # a readable id (built-in images: ami-ubuntu2204); the API judges it
        if not candidates:
            raise CliError(f"no {self.label} named or with id {ref!r}", ExitCode.NOT_FOUND)
        if len(candidates) > 1:
            ids = ", ".join(m["resource_id"] for m in candidates[:5])
            raise CliError(
                f"{len(candidates)} {self.label}s are named {ref!r} ({ids}); use an id",
                ExitCode.USAGE,
            )
        return str(candidates[0]["resource_id"])

    def show(self, cli: Application, resource_id: str) -> dict[str, Any]:
        return dict(cli.client.get(self.item(resource_id)))

    def list(self, cli: Application, action: str = "", **filters: Any) -> list[Any]:
        """Every item (lists are fetched whole), of the collection or of a list-level action."""
        return cli.client.list_all(self.path + (f"{action}/" if action else ""), **filters)

    # --- changes -------------------------------------------------------------------------------

    def create(
        self,
        cli: Application,
        body: dict[str, Any],
        *,
        verb: str = "Created",
        detail: Callable[[dict[str, Any]], str] | None = None,
    ) -> dict[str, Any]:
        """Create from the fields given, and say on stderr what was made: `Created vpc prod
        (vpc-…, 10.1.0.0/16)`, with `detail` of the answer after the id."""
        created = dict(cli.client.post(self.path, given(body)))
        extra = f", {detail(created)}" if detail else ""
        name = created.get("name") or ""
        cli.info(f"{verb} {self.label} {name} ({created['resource_id']}{extra})")
        return created

    def update(self, cli: Application, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change the fields given of the resource `ref` names; the API answers with it."""
        path = self.item(self.resolve(cli, ref))
        return dict(cli.client.call("PATCH", path, json_body=given(body)))

    def delete(self, cli: Application, ref: str, *, yes: bool) -> str:
        resource_id = self.resolve(cli, ref)
        cli.confirm(f"Delete {self.label} {ref}?", yes=yes)
        cli.client.call("DELETE", self.item(resource_id))
        cli.info(f"Deleted {self.label} {resource_id}")
        return resource_id

    def act(
        self, cli: Application, ref: str, action: str, *, wait: bool, timeout: float
    ) -> dict[str, Any]:
        """Run a custom action; the API answers with the resource, so only --wait reads again."""
        resource_id = self.resolve(cli, ref)
        acted = dict(cli.client.post(self.item(resource_id, action)))
        named = f" ({resource_id})" if ref != resource_id else ""
        cli.info(
            f"{self.kind.actions.get(action) or action.capitalize()} {self.label} {ref}{named}"
        )
        return self.settle(cli, acted, timeout) if wait else acted

    # --- states --------------------------------------------------------------------------------

    def settled(self, status: str) -> str:
        """Where a transitional state ends: pending -> running; any other state is its own end."""
        seen = {status}
        while status in self.kind.transitions:
            status = self.kind.transitions[status]
            if status in seen:
                break
            seen.add(status)
        return status

    def settle(self, cli: Application, resource: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Wait until `resource` has left its transitional state (a spinner on a terminal)."""
        status = str(resource.get("status", ""))
        if status not in self.kind.transitions:
            return resource
        return self.wait(cli, str(resource["resource_id"]), (self.settled(status),), timeout)

    def wait(
        self, cli: Application, resource_id: str, wanted: tuple[str, ...], timeout: float
    ) -> dict[str, Any]:
        """Poll until the state is one of `wanted`; a final state that is not is a dead end."""
        return wait_for_status(
            lambda: self.show(cli, resource_id),
            wanted=wanted,
            dead_ends=tuple(s for s in self.kind.final if s not in wanted),
            label=f"{self.label} {resource_id}",
            timeout=timeout,
            spinner=cli.spinner(),
        )

    def check_state(self, state: str, option: str = "--state") -> str:
        if state not in self.kind.states:
            raise typer.BadParameter(
                f"must be one of {', '.join(self.kind.states)}", param_hint=option
            )
        return state


def given(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a command was given: an option left unset (None) is not sent."""
    return {k: v for k, v in body.items() if v is not None}


def tags(pairs: list[str]) -> dict[str, str]:
    """`--tag KEY=VALUE` options as the API's `tags` object."""
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--tag")
        found[key] = value
    return found
