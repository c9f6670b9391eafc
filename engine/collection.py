"""A collection declared once: routes, OpenAPI, counts, audit, durations and the CLI catalog
derive from its `Collection`.

A collection's module (`engine/<service>/<collection>.py`, named after the collection) holds its
table, its request bodies, its service functions and, at the bottom, its declaration:

    INSTANCES = Collection(
        service="compute", name="instances", label="instance", id_prefix="i",
        model=Instance, public=public, ...,
        states=StateMachine(...), actions=(Action("stop", stop_instance, ...),),
    )

and its service lists the module in `COLLECTIONS` (`engine/<service>/__init__.py`). Nothing else
names it: the route table, the audit log and the timeline find it through `engine.registry`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engine import prepared
from engine.errors import DependencyViolation, InvalidState
from engine.ids import new_id
from engine.resources import Body, ResourceKind

if TYPE_CHECKING:
    from engine.context import Ctx
    from engine.lifecycle import Lifecycle

CRUD = ("list", "create", "get", "update", "delete")
READ_ONLY = ("list", "get")


@dataclass(frozen=True)
class StateMachine:
    """Every state in lifecycle order; each transitional one completes to its target after its
    duration on the engine clock; a final state is removed `retention` after it is reached."""

    states: tuple[str, ...]
    transitions: Mapping[str, tuple[str, float]]  # transitional state -> (target, seconds)
    final: tuple[str, ...] = ()
    retention: timedelta | None = None

    def __post_init__(self) -> None:
        named = {*self.transitions, *(t for t, _ in self.transitions.values()), *self.final}
        unknown = named - set(self.states)
        assert not unknown, f"states {sorted(unknown)} are not in {self.states}"

    @property
    def live(self) -> tuple[str, ...]:
        """The states of a resource that still exists for its dependents."""
        return tuple(s for s in self.states if s not in self.final)


@dataclass(frozen=True)
class Query:
    """A query parameter a list-level GET action reads, as OpenAPI documents it."""

    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Action:
    """A custom action (SPEC B1). A detail action's function takes `(ctx, resource[, body])` and
    returns the resource, rendered as the collection shows it, or a value returned as it is; a
    list-level action's function takes the request."""

    name: str
    function: Callable[..., Any]
    method: str = "POST"
    detail: bool = True
    allowed_from: tuple[str, ...] = ()  # the states it may start from; else 409 INVALID_STATE
    body: type[Body] | None = None
    status: int = 200
    summary: str = ""
    message: str = ""  # the CLI's one-line note, e.g. "Stopping"
    # A list-level GET's own query parameters, for OpenAPI. Without `paged` it answers a
    # question rather than a page, and OpenAPI documents no paging.
    query: Mapping[str, Query] = field(default_factory=dict)
    paged: bool = False  # a page of the collection, narrowed by `query`

    @property
    def mutates(self) -> bool:
        return self.method != "GET"


@dataclass(frozen=True)
class Dependent:
    """Rows of another collection that keep a resource from being deleted while they live."""

    collection: str  # the dependent collection's name
    column: str  # its column holding this resource's public id
    forced: bool = False  # a `DELETE ?force=true` removes them with the resource instead


@dataclass(frozen=True, kw_only=True, eq=False)
class Collection(ResourceKind):
    """One collection of a service: its identity and rules, declared once (see the module)."""

    service: str
    name: str  # the path segment: /api/v1/services/<name>/
    label: str  # singular, for messages and audit: "instance", "kubernetes cluster"
    id_prefix: str
    verbs: tuple[str, ...] = CRUD
    # The audit action of DELETE: an instance's DELETE is a termination, refused or not.
    delete_action: str = "delete"
    states: StateMachine | None = None
    actions: tuple[Action, ...] = ()
    dependents: tuple[Dependent, ...] = ()
    # What a `DELETE ?force=true` removes first, for the API's description ("" if nothing).
    force_removes: str = ""
    # What one resource takes of its owner's quotas: SPEC B5 type -> a number, or a function of
    # the row ({"instances": 1, "vcpus": lambda i: i.vcpus}).
    quota: Mapping[str, int | Callable[[Any], int]] = field(default_factory=dict)
    counted: bool = False  # keep per-owner row counts (engine.counts) so list counts are O(1)
    # Routes of its own beyond CRUD and actions (engine.api.routes.Route), such as the buckets'
    # data route; one with the method and path of a generic route replaces it.
    routes: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        super().__post_init__()
        if not self.resource_type:
            set_("resource_type", self.label.replace(" ", "_"))
        # The tables a collection's writes touch are imported with it, so they are created with
        # its own before its first request.
        if self.counted:
            import engine.counts  # noqa: F401

            set_("counted_as", self.name)
        if self.quota:
            from engine.quotas import DEFAULT_LIMITS

            unknown = set(self.quota) - set(DEFAULT_LIMITS)
            assert not unknown, f"{self.name}: no quota types {sorted(unknown)} (SPEC B5)"
        if self.states is not None:
            from engine.lifecycle import Lifecycle

            set_("lifecycle", Lifecycle(self))

    # --- what service functions call ----------------------------------------------------------

    def new_id(self) -> str:
        return new_id(self.id_prefix)

    def is_id(self, ref: str) -> bool:
        """Whether `ref` has the shape of this collection's ids (`bkt-...`) rather than a name."""
        return ref.startswith(f"{self.id_prefix}-")

    @property
    def machine(self) -> Lifecycle:
        assert self.lifecycle is not None, f"{self.name} declares no states"
        return self.lifecycle

    def begin(self, ctx: Ctx, obj: Any, state: str) -> None:
        """Move `obj` into `state` on the timeline (see `engine.lifecycle`)."""
        self.machine.begin(ctx, obj, state)

    def require(self, obj: Any, allowed: tuple[str, ...]) -> None:
        """409 INVALID_STATE unless `obj` is in one of the `allowed` states."""
        if obj.status not in allowed:
            raise InvalidState(
                f"{self.label.capitalize()} must be {' or '.join(allowed)} (it is {obj.status})",
                details={"status": obj.status, "allowed": list(allowed)},
            )

    def quota_amounts(self, obj: Any) -> dict[str, int]:
        return {t: a if isinstance(a, int) else a(obj) for t, a in self.quota.items()}

    def consume_quota(self, ctx: Ctx, obj: Any) -> None:
        """Take `obj`'s quota amounts from its owner's (429 QUOTA_EXCEEDED past a limit)."""
        if self.quota:
            from engine import quotas

            quotas.consume(ctx, owner=obj.owner or "", amounts=self.quota_amounts(obj))

    def release_quota(self, ctx: Ctx, obj: Any) -> None:
        if self.quota:
            from engine import quotas

            for kind, amount in self.quota_amounts(obj).items():
                quotas.release(ctx, owner=obj.owner or "", resource_type=kind, amount=amount)

    def added(self, ctx: Ctx, obj: Any) -> None:
        """Record a new row: add it to the session and, for a counted collection, its count."""
        ctx.session.add(obj)
        self._count_new(ctx, obj)

    def inserted(self, ctx: Ctx, obj: Any) -> None:
        """`added`, for a new row the request is done changing: one INSERT of its values now,
        rather than the session's unit of work at the next flush (about a tenth of a launch).
        `obj` is not tracked by the session afterwards: later changes to it are not saved."""
        insert, keys = self._insert
        values = {column: getattr(obj, attribute) for attribute, column in keys}
        if obj.id is None:
            del values["id"]
        result = prepared.run(ctx.conn, insert, values)
        if obj.id is None and (key := result.inserted_primary_key) is not None:
            obj.id = key[0]
        self._count_new(ctx, obj)

    def _count_new(self, ctx: Ctx, obj: Any) -> None:
        if self.counted:
            from engine import counts

            counts.add(ctx.conn, collection=self.name, owner=obj.owner or "", delta=1)

    @functools.cached_property
    def _insert(self) -> tuple[Any, tuple[tuple[str, str], ...]]:
        """The model's INSERT, and its (attribute, column) pairs: built once."""
        from sqlalchemy import inspect

        mapper = inspect(self.model)
        keys = tuple((prop.key, prop.columns[0].key) for prop in mapper.column_attrs)
        return mapper.local_table.insert(), keys

    def check_dependents(self, ctx: Ctx, obj: Any, *, force: bool = False) -> None:
        """409 DEPENDENCY_VIOLATION while a declared dependent still uses `obj` (those a forced
        delete removes are left to the collection's delete when `force`)."""
        from sqlmodel import col, func, select

        from engine import registry

        public_id = getattr(obj, self.id_field)
        for dependent in self.dependents:
            if force and dependent.forced:
                continue
            other = registry.get(dependent.collection)
            if not table_exists(ctx, other.model):
                continue  # its service never ran here: nothing of it can use `obj`
            query = select(func.count()).select_from(other.model)
            query = query.where(col(getattr(other.model, dependent.column)) == public_id)
            if other.states is not None:
                query = query.where(col(other.model.status).in_(other.states.live))
            in_use = ctx.session.exec(query).one()
            if in_use:
                forcible = (
                    ", or force the delete (?force=true, --force)" if dependent.forced else ""
                )
                raise DependencyViolation(
                    f"{self.label} {public_id} is used by {in_use} {other.label}(s); "
                    f"{other.delete_action} them first{forcible}",
                    details={other.name: in_use},
                )


def table_exists(ctx: Ctx, model: Any) -> bool:
    """Whether `model`'s table is in the database yet. Tables are created when their module is
    first imported before a request; one imported during a request (a dependent looked up, a
    launch into a subnet) may have none on a database its service never touched."""
    from sqlalchemy import inspect

    return bool(inspect(ctx.conn).has_table(model.__tablename__))
