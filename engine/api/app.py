"""The dispatcher: authenticates, authorizes, runs a route's handler in a unit of work, as WSGI."""

from __future__ import annotations

import importlib
import logging
import secrets
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from sqlmodel import Session

from engine import timeline
from engine.api.http import MAX_JSON_BODY, Request, Response, Stream
from engine.api.router import Router
from engine.api.routes import PLATFORM, RESET, Route
from engine.context import Ctx, Principal
from engine.db import Database
from engine.errors import (
    ApiError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    TooLarge,
    ValidationFailed,
)

log = logging.getLogger("atonix.engine")

StartResponse = Callable[..., Any]
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


class EngineApp:
    """The engine as a WSGI application: the in-process transport and the server both call it."""

    def __init__(self, db: Database, *, allow_reset: bool = False) -> None:
        self.db = db
        # POST /api/v1/engine/reset/ exists only when asked for (a test server's flag).
        self.allow_reset = allow_reset
        self.router = Router((*PLATFORM, RESET) if allow_reset else PLATFORM)
        self._handlers: dict[str, Any] = {}

    # --- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = environ.get("HTTP_X_REQUEST_ID") or "req-" + secrets.token_hex(8)
        try:
            request = _request_from_environ(environ)
        except ApiError as error:
            response = _error_response(error, request_id)
        else:
            response = self.handle(
                request,
                request_id=request_id,
                source_ip=environ.get("REMOTE_ADDR"),
            )
        return _send(
            response,
            request_id,
            start_response,
            head=environ["REQUEST_METHOD"] == "HEAD",
        )

    # --- dispatch ----------------------------------------------------------------------------

    def handle(
        self, request: Request, *, request_id: str, source_ip: str | None = None
    ) -> Response:
        started = time.perf_counter()
        route: Route | None = None
        try:
            found = self.router.match(request.method, request.path)
            if found is None:
                allowed = self.router.allowed_methods(request.path)
                if allowed:
                    raise MethodNotAllowed(
                        f"{request.method} is not allowed here; use {', '.join(allowed)}",
                        details={"allowed": allowed},
                    )
                raise NotFound(f"no such endpoint: {request.method} {request.path}")
            route = found.route
            request.route, request.params = route, found.params
            handler = self._handler(route.handler)
            resource = route.resource
            request.kind = _load(resource) if isinstance(resource, str) else resource
            if route.raw:
                response = self._run_raw(request, route, handler, request_id, source_ip)
            else:
                _read_body(request)
                response = self._run(request, route, handler, request_id, source_ip)
        except ApiError as error:
            self._audit_failure(request, route, error)
            response = _error_response(error, request_id)
            # A body left unread (a raw route refused, or a JSON body refused before it was
            # read: 404, 405, 413) is read and dropped, so the connection stays usable for the
            # client's next request instead of the server closing it under a reused keep-alive.
            if (route is not None and route.raw) or (not request.body and _has_body(request)):
                _drain(request)
        except Exception:
            log.error("request %s failed:\n%s", request_id, traceback.format_exc())
            response = _error_response(
                InternalError(f"internal error; quote request id {request_id} when reporting it"),
                request_id,
            )
        log.debug(
            "%s %s -> %s in %.1f ms",
            request.method,
            request.path,
            response.status,
            (time.perf_counter() - started) * 1e3,
        )
        return response

    def _run(
        self, request: Request, route: Route, handler: Any, request_id: str, source_ip: str | None
    ) -> Response:
        db = self.db
        if route.permission == "public":
            with db.session(write=route.method not in ("GET", "HEAD")) as session:
                request.ctx_ = Ctx(
                    db=db,
                    session=session,
                    principal=_ANONYMOUS,
                    now=db.now(session),
                    request_id=request_id,
                    source_ip=source_ip,
                    user_agent=request.headers.get("user-agent", ""),
                )
                return _as_response(handler(request), route)

        from engine.identity.service import authorize

        write = route.method not in ("GET", "HEAD")
        idempotency_key = request.headers.get("idempotency-key") if route.method == "POST" else None
        if idempotency_key:
            from engine.api import idempotency  # before the session, which creates its table

            idempotency.check_key(idempotency_key)
        if not write:
            # A read with nothing due by its `now` (the common case) runs in the transaction
            # that checked: one transaction, not two. Otherwise the due work is done first, in
            # a write transaction of its own, and the read runs after it commits.
            with db.session(write=False) as session:
                ctx = self._caller(request, session, request_id, source_ip)
                authorize(ctx.principal, route.permission)
                if not timeline.anything_due(ctx.conn, ctx.now):
                    return _as_response(handler(request), route)
            with db.writing() as conn:
                timeline.work_due(conn, ctx.now)
        with db.session(write=write) as session:
            if write:
                # One transaction for the whole write: the caller, due work, the change.
                ctx = self._caller(request, session, request_id, source_ip)
                authorize(ctx.principal, route.permission)
                timeline.work_due(ctx.conn, ctx.now)
            else:
                ctx = request.ctx_ = replace(request.ctx, session=session)
            if idempotency_key:
                replay = idempotency.replay(ctx, key=idempotency_key, request=request)
                if replay is not None:
                    return replay
            response = _as_response(handler(request), route)
            if write and route.action:
                _audit_success(request, route)
            if idempotency_key:
                idempotency.remember(ctx, key=idempotency_key, request=request, response=response)
            return response

    def _run_raw(
        self, request: Request, route: Route, handler: Any, request_id: str, source_ip: str | None
    ) -> Response:
        """A raw route: the handler reads the body and runs its own units of work through
        `request.unit`, each a transaction. The first authenticates the caller (or takes it as
        anonymous, with no Authorization header: public objects and presigned URLs, which the
        handler checks) and does due work, as every route does: in its own transaction before
        a read, in the write's; a write's audit record commits with it."""
        from engine.identity.service import authorize

        db = self.db
        first = True

        def identify(session: Session) -> Ctx:
            if request.headers.get("authorization"):
                ctx = self._caller(request, session, request_id, source_ip)
                authorize(ctx.principal, route.permission)
                return ctx
            ctx = request.ctx_ = Ctx(
                db=db,
                session=session,
                principal=_ANONYMOUS,
                now=db.now(session),
                request_id=request_id,
                source_ip=source_ip,
                user_agent=request.headers.get("user-agent", ""),
            )
            return ctx

        @contextmanager
        def unit(*, write: bool, audit: bool = True) -> Iterator[Ctx]:
            nonlocal first
            if first and not write:
                with db.session(write=False) as session:
                    ctx = identify(session)
                    if not timeline.anything_due(ctx.conn, ctx.now):
                        first = False
                        yield ctx
                        return
                with db.writing() as conn:
                    timeline.work_due(conn, ctx.now)
                first = False
            with db.session(write=write) as session:
                if first:
                    ctx = identify(session)
                    timeline.work_due(ctx.conn, ctx.now)
                    first = False
                else:
                    ctx = request.ctx_ = replace(request.ctx, session=session, now=db.now(session))
                yield ctx
                if write and audit and route.action and ctx.principal is not _ANONYMOUS:
                    _audit_success(request, route)

        request.unit = unit
        return _as_response(handler(request), route)

    def _caller(
        self, request: Request, session: Session, request_id: str, source_ip: str | None
    ) -> Ctx:
        """Authenticate the request; its context from then on, so a refusal by authorize is
        audited too."""
        from engine.identity.service import authenticate

        now = self.db.now(session)
        principal = authenticate(
            session.connection(), authorization=request.headers.get("authorization"), now=now
        )
        ctx = request.ctx_ = Ctx(
            db=self.db,
            session=session,
            principal=principal,
            now=now,
            request_id=request_id,
            source_ip=source_ip,
            user_agent=request.headers.get("user-agent", ""),
        )
        return ctx

    def _handler(self, ref: str) -> Any:
        handler = self._handlers.get(ref)
        if handler is None:
            handler = self._handlers[ref] = _load(ref)
        return handler

    def _audit_failure(self, request: Request, route: Route | None, error: ApiError) -> None:
        """A refused mutation leaves a `failure` record, written after the mutation rolled back."""
        ctx = request.ctx_
        if route is None or route.action is None or ctx is None or ctx.principal is _ANONYMOUS:
            return
        from engine import audit

        try:
            with self.db.session(write=True) as session:
                failed = Ctx(
                    db=self.db,
                    session=session,
                    principal=ctx.principal,
                    now=ctx.now,
                    request_id=ctx.request_id,
                    source_ip=ctx.source_ip,
                    user_agent=ctx.user_agent,
                )
                audit.record(
                    failed,
                    action=route.action,
                    resource_type=_resource_type(request, route),
                    resource_id=request.params.get("id", ""),
                    status="failure",
                    error_message=f"{error.code}: {error.message}",
                )
        except Exception:  # the refusal itself must still reach the caller
            log.warning("could not audit a failed request:\n%s", traceback.format_exc())


def _audit_success(request: Request, route: Route) -> None:
    """A write's audit record, in the write's own transaction, under its route's action name,
    with what the service added (`ctx.audit_details`, and `ctx.audit_subject` on a platform
    route)."""
    from engine import audit
    from engine.collection import Collection

    kind, subject, ctx = request.kind, request.subject, request.ctx
    if isinstance(kind, Collection):
        resource_id = getattr(subject, kind.id_field) if subject is not None else ""
        resource_name = getattr(subject, "name", "") if subject is not None else ""
    else:
        resource_id, resource_name = ctx.audit_subject
    audit.record(
        ctx,
        action=route.action or "",
        resource_type=_resource_type(request, route),
        resource_id=resource_id,
        resource_name=resource_name or "",
        details=ctx.audit_details,
    )


def _resource_type(request: Request, route: Route) -> str:
    from engine.collection import Collection

    if isinstance(request.kind, Collection):
        return request.kind.resource_type
    return route.resource_type or route.path.split("/")[3]


_ANONYMOUS = Principal(
    user_id=0, username="", role="viewer", scopes=(), credential="none", credential_id=""
)


def _as_response(result: Any, route: Route) -> Response:
    if isinstance(result, Response):
        return result
    return Response(status=route.status, body=result)


def _error_response(error: ApiError, request_id: str) -> Response:
    return Response(status=error.status, body=error.body(request_id), headers=error.headers)


# What a refused raw request's unread body may be read and dropped, so its client (still
# sending) gets the answer; past this the connection is closed on it.
DRAIN_LIMIT = 16 << 20


def _drain(request: Request) -> None:
    length = request.content_length
    if request.stream is None or (length is not None and length > DRAIN_LIMIT):
        return
    left = DRAIN_LIMIT if length is None else length
    try:
        while left > 0:
            chunk = request.stream.read(min(left, 1 << 20))
            if not chunk:
                return
            left -= len(chunk)
    except (OSError, ValueError):
        return  # the client went away


def _is_chunked(request: Request) -> bool:
    return "chunked" in request.headers.get("transfer-encoding", "").lower()


def _has_body(request: Request) -> bool:
    return bool(request.content_length) or (request.content_length is None and _is_chunked(request))


def _read_body(request: Request) -> None:
    """A JSON route's whole body, up to MAX_JSON_BODY (a raw route reads its own stream)."""
    length = request.content_length
    if length is None:
        if _is_chunked(request):
            _read_chunked_body(request)
        return
    if length == 0:
        return
    if length > MAX_JSON_BODY:
        raise TooLarge(f"request body of {length} bytes is over the {MAX_JSON_BODY}-byte limit")
    request.body = request.stream.read(length)


def _read_chunked_body(request: Request) -> None:
    """A JSON body sent without a length (chunked): read up to the limit, refused past it."""
    parts: list[bytes] = []
    left = MAX_JSON_BODY + 1
    while left > 0 and (chunk := request.stream.read(min(left, 64 << 10))):
        parts.append(chunk)
        left -= len(chunk)
    if left == 0:
        raise TooLarge(f"request body is over the {MAX_JSON_BODY}-byte limit")
    request.body = b"".join(parts)


def _request_from_environ(environ: dict[str, Any]) -> Request:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    declared = (environ.get("CONTENT_LENGTH") or "").strip()
    if declared and not declared.isdecimal():
        raise ValidationFailed(
            "Content-Length: must be a number of bytes", details={"content-length": [declared]}
        )
    method = environ["REQUEST_METHOD"]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    # No database stores a NUL character (PostgreSQL refuses it outright): refused up front.
    bad = [
        name for name, values in query.items() if "\x00" in name or any("\x00" in v for v in values)
    ]
    path = environ.get("PATH_INFO") or "/"
    if "\x00" in path:
        raise ValidationFailed("path: must not contain NUL characters", details={"path": [path]})
    if bad:
        raise ValidationFailed(
            f"{bad[0]}: must not contain NUL characters", details={bad[0]: ["NUL character"]}
        )
    return Request(
        method="GET" if method == "HEAD" else method,
        path=path,
        query=query,
        headers=headers,
        stream=environ["wsgi.input"],
        content_length=int(declared) if declared else None,
        head=method == "HEAD",
    )


class FileRange:
    """A streamed body that is bytes [start, start + length) of a plain file: iterated by any
    server, or copied file to file by a caller that looks for `file` (the embedded transport)."""

    def __init__(self, stream: Stream) -> None:
        self.file, self.start, self.length = stream.file, stream.start, stream.length
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        return self._stream.chunks

    def close(self) -> None:
        _close_stream(self._stream)


def _close_stream(stream: Stream) -> None:
    close = getattr(stream.chunks, "close", None)
    if close is not None:
        close()
    if stream.close is not None:
        stream.close()


def _send(
    response: Response,
    request_id: str,
    start_response: StartResponse,
    *,
    head: bool,
) -> Iterable[bytes]:
    body = response.body
    if isinstance(body, Stream):
        headers = [
            ("Content-Type", body.content_type),
            ("Content-Length", str(body.length)),
            ("X-Request-Id", request_id),
            *response.headers,
        ]
        start_response(f"{response.status} {_STATUS_TEXT.get(response.status, 'Unknown')}", headers)
        if head:
            _close_stream(body)
            return iter(())
        return FileRange(body) if body.file is not None else _Closing(body)
    if isinstance(response.body, bytes):
        payload, content_type = response.body, "application/octet-stream"
    elif response.body is None or response.status == 204:
        payload, content_type = b"", "application/json"
    else:
        payload, content_type = response.json_bytes(), "application/json"
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(payload))),
        ("X-Request-Id", request_id),
        *response.headers,
    ]
    status = f"{response.status} {_STATUS_TEXT.get(response.status, 'Unknown')}"
    start_response(status, headers)
    return iter(()) if head or not payload else iter((payload,))


class _Closing:
    """A streamed body whose resources are released when the server closes the iterable."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        return self._stream.chunks

    def close(self) -> None:
        _close_stream(self._stream)
