"""Request and response values passed between the dispatcher and handlers; JSON encoding."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from engine.errors import ValidationFailed

if TYPE_CHECKING:
    from engine.api.routes import Route
    from engine.context import Ctx
    from engine.resources import ResourceKind

SchemaT = TypeVar("SchemaT", bound=BaseModel)
MAX_JSON_BODY = 1 << 20


@dataclass
class Stream:
    """A streamed response body: `length` bytes from `chunks`, never held whole. When they are
    bytes [start, start + length) of a plain file, `file` is it, so a server's file wrapper or
    an in-process caller may copy file to file instead (`engine.api.app.FileRange`)."""

    chunks: Iterator[bytes]
    length: int
    content_type: str = "application/octet-stream"
    file: Any = None
    start: int = 0
    close: Callable[[], None] | None = None


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def json_bytes(self) -> bytes:
        """The body as JSON, encoded once: the idempotency record keeps the bytes sent."""
        if self._encoded is None:
            self._encoded = encode_json(self.body)
        return self._encoded


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    route: Route | None = None
    kind: ResourceKind | None = None
    ctx_: Ctx | None = None
    subject: Any = None  # the resource the request acted on, for its audit record
    # A raw route's body, unread: a file-like `read(n)`, and the declared length if any.
    stream: Any = None
    content_length: int | None = None
    head: bool = False  # a HEAD, served by the GET route with no body sent
    # A raw route's units of work: `with request.unit(write=True) as ctx:` (see EngineApp).
    unit: Callable[..., AbstractContextManager[Ctx]] | None = None

    @property
    def ctx(self) -> Ctx:
        assert self.ctx_ is not None, "handler of a public route asked for a context"
        return self.ctx_

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() in ("1", "true", "yes")

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is `{}`; anything else is a clear 400."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"malformed JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise ValidationFailed("the JSON body must be an object")
        return data

    def parse(self, schema: type[SchemaT]) -> SchemaT:
        try:
            return schema.model_validate(self.json())
        except PydanticValidationError as exc:
            raise validation_failed(exc) from None

    def target(self, *, for_write: bool = False) -> Any:
        """The resource named by the path's `{id}`, as the caller may see it."""
        from engine.resources import get_visible

        assert self.kind is not None
        self.subject = get_visible(self.ctx, self.kind, self.params["id"], for_write=for_write)
        return self.subject


def validation_failed(exc: PydanticValidationError) -> ValidationFailed:
    details: dict[str, list[str]] = {}
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        details.setdefault(name, []).append(message)
    first = next(iter(details.items()))
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ValidationFailed(f"{first[0]}: {first[1][0]}{more}", details=details)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is UTC:  # as the engine's rows come: "+00:00" becomes "Z"
            return value.isoformat(timespec="milliseconds")[:-6] + "Z"
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds") + "Z"
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode_json(value: Any) -> bytes:
    return json.dumps(value, default=_default, separators=(",", ":")).encode()
