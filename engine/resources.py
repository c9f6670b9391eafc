"""What every collection shares: common fields, visibility, and lists filtered and paged in SQL."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    field_validator,
)
from pydantic_core import PydanticUndefined, core_schema
from sqlalchemy import JSON, ColumnElement, func, or_
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import Field, SQLModel, col, select

from engine.clock import utcnow
from engine.context import Ctx
from engine.errors import Forbidden, NotFound, ValidationFailed, field_error
from engine.sqltypes import UTCDateTime

if TYPE_CHECKING:
    from engine.lifecycle import Lifecycle

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000
DEFAULT_REGION = "us-west-2"
AVAILABILITY_ZONES = ("us-west-2a", "us-west-2b", "us-west-2c")


@dataclass(frozen=True)
class OneOf:
    """A string field's choices, as `Annotated[str, OneOf(CHOICES)]`: a value outside them is
    the API's one-line "must be one of ..." error, and OpenAPI shows them as an `enum`, so
    clients (and the fuzzer) see what is accepted."""

    choices: tuple[str, ...]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {**handler(schema), "enum": list(self.choices)}

    def _check(self, value: str) -> str:
        if value not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}")
        return value


Zone = Annotated[str, OneOf(AVAILABILITY_ZONES)]


@dataclass(frozen=True, eq=False)  # hashed by identity: typing hashes Annotated's metadata
class Documented:
    """What a field's own validator accepts, written into OpenAPI as JSON Schema keywords, as
    `Annotated[str, Documented({"minLength": 1})]`: the validator still gives the API's error
    message; the document tells clients (and the fuzzer) the same rule."""

    keywords: Mapping[str, Any]

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {**handler(schema), **self.keywords}


# Text with something in it after surrounding white space is stripped, and no control character.
_PRINTABLE = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
Name = Annotated[str, Documented({"minLength": 1, "maxLength": 255, "pattern": _PRINTABLE})]
Tags = Annotated[
    dict[str, str],
    Documented(
        {
            "propertyNames": {"minLength": 1, "maxLength": 100, "pattern": r"\S"},
            "additionalProperties": {"type": "string", "maxLength": 255},
        }
    ),
]


class ResourceBase(SQLModel):
    """The A5 common fields; `meta` is stored under that name and shown as `metadata`."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=255, index=True)
    description: str = ""
    owner: str | None = Field(default=None, max_length=64, index=True)
    region: str = Field(default=DEFAULT_REGION, max_length=32)
    tags: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    meta: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


RowT = TypeVar("RowT", bound=SQLModel)


def construct(model: type[RowT], **values: Any) -> RowT:
    """A new object of a table model, as `model(**values)` makes it (a table model validates
    nothing either; fields not given take their defaults), with its values put in place as the
    ORM does for a row it loads rather than set one by one: each set runs SQLAlchemy's and
    pydantic's handlers, and a default factory's signature is inspected on every call (an
    Instance(...) cost a launch 0.3 ms)."""
    defaults, factories, names = _defaults(model)
    unknown = values.keys() - names
    if unknown:
        raise TypeError(f"{model.__name__} has no fields {sorted(unknown)}")
    obj = manager_of_class(model).new_instance()
    fields = obj.__dict__
    fields.update(defaults)
    for name, factory in factories:
        if name not in values:
            fields[name] = factory()
    fields.update(values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    return obj


@functools.cache
def _defaults(
    model: type[SQLModel],
) -> tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...], frozenset[str]]:
    """A model's constant defaults, its default factories (a mutable default is copied, as
    pydantic does) and its field names: read once per model."""
    defaults: dict[str, Any] = {}
    factories: list[tuple[str, Callable[[], Any]]] = []
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            assert not info.default_factory_takes_validated_data, f"{model.__name__}.{name}"
            factories.append((name, cast("Callable[[], Any]", info.default_factory)))
        elif info.default is PydanticUndefined:
            continue
        elif isinstance(info.default, list | dict | set):
            factories.append((name, functools.partial(copy.deepcopy, info.default)))
        else:
            defaults[name] = info.default
    return defaults, tuple(factories), frozenset(model.model_fields)


class Body(BaseModel):
    """A request body: unknown fields are an error rather than silently ignored, and no text
    holds a NUL character (PostgreSQL stores none)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class CommonInput(Body):
    name: Name | None = None
    description: str | None = None
    tags: Tags | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not 1 <= len(value) <= 255:
            raise ValueError("must be 1-255 characters")
        if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key, item in (value or {}).items():
            if not 1 <= len(key) <= 100:
                raise ValueError(f"tag key {key[:20]!r}… must be 1-100 characters")
            if len(item) > 255:
                raise ValueError(f"tag {key!r}: value must be at most 255 characters")
        return value


def apply_common(obj: Any, body: CommonInput, *, now: datetime) -> None:
    """Copy the common fields a body sets onto a resource."""
    for name in ("name", "description", "tags"):
        value = getattr(body, name)
        if value is not None:
            setattr(obj, name, value)
    if body.metadata is not None:
        obj.meta = body.metadata
    obj.updated_at = now


def common_public(obj: Any, id_field: str) -> dict[str, Any]:
    public_id = getattr(obj, id_field)
    return {
        "resource_id": public_id,
        id_field: public_id,
        "name": obj.name,
        "description": obj.description,
        "owner": obj.owner,
        "region": obj.region,
        "tags": obj.tags,
        "metadata": obj.meta,
        "created_at": obj.created_at,
        "updated_at": obj.updated_at,
    }


def owned(ctx: Ctx, model: Any) -> list[ColumnElement[bool]]:
    """Default visibility: your own resources; an admin sees everyone's (A2)."""
    if ctx.sees_everything():
        return []
    return [col(model.owner) == ctx.principal.username]


def owner_may_write(ctx: Ctx, obj: Any) -> bool:
    return ctx.sees_everything() or obj.owner == ctx.principal.username


def parse_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError("expected true or false")


@dataclass(frozen=True, kw_only=True, eq=False)
class ResourceKind:
    """What a list or a lookup needs of a table: its model, visibility, filters and operations
    (a service's collections declare more: `engine.collection.Collection`)."""

    model: Any
    id_field: str
    public: Callable[[Any], dict[str, Any]]
    resource_type: str = ""  # the audit log's word: "instance", "kubernetes_cluster"
    label: str = ""  # the messages' word; the resource type's, spaced, unless given
    summary: Callable[[Any], dict[str, Any]] | None = None
    detail: Callable[[Ctx, Any], dict[str, Any]] | None = None
    filters: Mapping[str, Callable[[str], Any]] = field(default_factory=dict)
    search: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ("created_at", "name")
    default_ordering: str = "-created_at"
    visible: Callable[[Ctx, Any], list[ColumnElement[bool]]] = owned
    # A counted kind keeps per-owner row counts under this name (engine.counts), so a page
    # that narrows nothing but the owner reads its count instead of counting rows.
    counted_as: str = ""
    writable: Callable[[Ctx, Any], bool] = owner_may_write
    lifecycle: Lifecycle | None = None
    create_schema: type[Body] | None = None
    create: Callable[..., Any] | None = None
    update_schema: type[Body] | None = None
    update: Callable[..., Any] | None = None
    delete: Callable[..., int] | None = None

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.resource_type.replace("_", " "))

    def exact_filters(self) -> dict[str, Callable[[str], Any]]:
        """The exact-match query filters: the kind's own, and `name` where the model has one."""
        common: dict[str, Callable[[str], Any]] = (
            {"name": str} if "name" in self.model.__table__.columns else {}
        )
        return {**common, **self.filters}

    def show(self, ctx: Ctx, obj: Any) -> dict[str, Any]:
        """The detail form of one resource (richer than a list item where the kind says so)."""
        return self.detail(ctx, obj) if self.detail else self.public(obj)


def locked(stmt: Any) -> Any:
    """`stmt` with its rows locked until the unit of work ends and read as they are now (not
    as the session last saw them): what a read-modify-write needs, so concurrent changes queue
    and each sees the one before it. SQLite renders no FOR UPDATE: its write lock already
    serialises writers."""
    return stmt.with_for_update().execution_options(populate_existing=True)


def get_visible(ctx: Ctx, kind: ResourceKind, public_id: str, *, for_write: bool = False) -> Any:
    """One resource the caller may see, by public id; another user's is a 404, not a 403 (A2)."""
    model = kind.model
    stmt = select(model).where(col(getattr(model, kind.id_field)) == public_id)
    for condition in kind.visible(ctx, model):
        stmt = stmt.where(condition)
    if for_write:
        # A state change is then a compare-and-swap on the current state: of ten concurrent
        # stops one finds the instance running.
        stmt = locked(stmt)
    obj = ctx.session.exec(stmt).first()
    if obj is None:
        raise NotFound(f"{kind.label} {public_id} not found", details={"id": public_id})
    if for_write and not kind.writable(ctx, obj):
        raise Forbidden(f"{kind.label} {public_id} is read-only to you")
    return obj


def list_page(
    ctx: Ctx,
    kind: ResourceKind,
    query: Mapping[str, list[str]],
    *,
    path: str,
    where: list[ColumnElement[bool]] | None = None,
) -> dict[str, Any]:
    """One A4 page: exact filters, `search`, `ordering`, `page` and `page_size`, all in SQL."""
    model = kind.model
    visibility = list(kind.visible(ctx, model))
    conditions = visibility + list(where or [])
    for name, parse in kind.exact_filters().items():
        if name in query:
            raw = query[name][-1]
            try:
                value = parse(raw)
            except ValueError as exc:
                raise field_error(name, str(exc)) from None
            if isinstance(value, int) and not -(2**31) <= value < 2**31:
                raise field_error(name, "out of range")  # past an INTEGER column (PostgreSQL)
            conditions.append(col(getattr(model, name)) == value)
    text = (query.get("search") or [""])[-1].strip()
    if text and kind.search:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # Case-insensitive on every database (PostgreSQL's LIKE is not; SQLite's is, for ASCII).
        conditions.append(
            or_(*(col(getattr(model, f)).ilike(pattern, escape="\\") for f in kind.search))
        )
    ordering = (query.get("ordering") or [kind.default_ordering])[-1]
    order: list[Any] = []
    for term in ordering.split(","):
        field_name = term.strip().removeprefix("-")
        if field_name not in kind.ordering:
            raise field_error(
                "ordering", f"must be one of {', '.join(kind.ordering)} (prefix - to reverse)"
            )
        column = col(getattr(model, field_name))
        order.append(column.desc() if term.strip().startswith("-") else column)
    tiebreak = col(model.id)
    order.append(tiebreak.desc() if ordering.startswith("-") else tiebreak)
    page = _positive_int(query, "page", 1)
    page_size = min(_positive_int(query, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)

    if kind.counted_as and kind.visible is owned and len(conditions) == len(visibility):
        from engine import counts

        owner = None if ctx.sees_everything() else ctx.principal.username
        count = counts.total(ctx.session, collection=kind.counted_as, owner=owner)
    else:
        count = ctx.session.exec(select(func.count()).select_from(model).where(*conditions)).one()
    if page > 1 and (page - 1) * page_size >= count:
        raise NotFound(f"page {page} is past the last page", details={"count": count})
    rows = ctx.session.exec(
        select(model)
        .where(*conditions)
        .order_by(*order)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    render = kind.summary or kind.public
    return {
        "count": count,
        "next": _page_link(path, query, page + 1) if page * page_size < count else None,
        "previous": _page_link(path, query, page - 1) if page > 1 else None,
        "results": [render(row) for row in rows],
    }


def _positive_int(query: Mapping[str, list[str]], name: str, default: int) -> int:
    if name not in query:
        return default
    raw = query[name][-1]
    if not raw.isdecimal() or int(raw) < 1:  # isdigit() also takes '²', which int() refuses
        raise ValidationFailed(f"{name}: must be a positive integer", details={name: [raw]})
    return int(raw)


def _page_link(path: str, query: Mapping[str, list[str]], page: int) -> str:
    from urllib.parse import urlencode

    params = [(k, v) for k, values in query.items() if k != "page" for v in values]
    params.append(("page", str(page)))
    return f"{path}?{urlencode(params)}"
