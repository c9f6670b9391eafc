"""The API client: one interface over the embedded engine and a remote endpoint; errors, paging."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from atonix_cli.errors import ApiFailure

API_PREFIX = "/api/v1/"
PAGE_SIZE = 1000  # the API's maximum: lists are fetched whole, a page at a time
CHUNK = 1 << 20  # bytes per read and write of a streamed body


@dataclass
class RawResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Streamed(Protocol):
    """A response whose body is read as it arrives, never held whole (object bytes)."""

    status: int
    headers: dict[str, str]

    def chunks(self) -> Iterator[bytes]:
        """The body, a chunk at a time."""
        ...

    def copy_to(self, out: BinaryIO, progress: Callable[[int], None] | None = None) -> int:
        """Write the whole body to `out` (file to file where the transport can); bytes written."""
        ...

    def read(self) -> bytes:
        """The whole body: only for small ones (an error's JSON)."""
        ...

    def close(self) -> None: ...


def copy_chunks(
    chunks: Iterator[bytes], out: BinaryIO, progress: Callable[[int], None] | None
) -> int:
    written = 0
    for chunk in chunks:
        out.write(chunk)
        written += len(chunk)
        if progress:
            progress(len(chunk))
    return written


class Transport(Protocol):
    """Delivers one request: in-process to the engine, or over HTTP to an endpoint."""

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> RawResponse: ...

    def open(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        upload: BinaryIO | None,
        length: int,
        trailers: Callable[[], Mapping[str, str]] | None = None,
    ) -> Streamed:
        """Send `length` bytes read from `upload` as the body, and answer with the response
        unread, to be streamed; neither side is held whole. `trailers` (in-process only): what
        the engine calls for headers that follow the body."""
        ...

    def close(self) -> None: ...


class ApiClient:
    def __init__(
        self,
        transport: Transport,
        *,
        authorization: str | None,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        self.transport = transport
        self.authorization = authorization
        self.trace = trace

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """One API request; the decoded JSON answer, or ApiFailure carrying the A3 error."""
        headers = {"Accept": "application/json", "User-Agent": _user_agent()}
        if self.authorization:
            headers["Authorization"] = self.authorization
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            # Makes a create safe to retry: the server answers a repeat with the first response.
            headers["Idempotency-Key"] = uuid.uuid4().hex
        query = _query(params)
        if self.trace:
            self.trace(f"> {method} {API_PREFIX}{path} {query or ''}")
        response = self.transport.send(
            method, API_PREFIX + path, params=query, headers=headers, body=body
        )
        if self.trace:
            self.trace(
                f"< {response.status} ({len(response.body)} bytes) "
                f"request-id={response.headers.get('x-request-id', '-')}"
            )
        if response.status >= 400:
            raise _failure(response)
        return response.json()

    def transfer(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        upload: BinaryIO | None = None,
        length: int = 0,
        trailers: Callable[[], Mapping[str, str]] | None = None,
    ) -> Streamed:
        """A request with a raw body streamed from `upload` (object bytes) whose response is
        streamed back; an error answer is read and raised as ApiFailure. Close what it returns.
        `trailers`: headers the engine asks for once it has the body (embedded only).
        """
        sent = {"Accept": "*/*", "User-Agent": _user_agent(), **(headers or {})}
        if self.authorization:
            sent["Authorization"] = self.authorization
        query = _query(params)
        if self.trace:
            self.trace(f"> {method} {API_PREFIX}{path} {query or ''} ({length} bytes streamed)")
        response = self.transport.open(
            method,
            API_PREFIX + path,
            params=query,
            headers=sent,
            upload=upload,
            length=length,
            trailers=trailers,
        )
        if self.trace:
            self.trace(
                f"< {response.status} ({response.headers.get('content-length', '?')} bytes) "
                f"request-id={response.headers.get('x-request-id', '-')}"
            )
        if response.status >= 400:
            try:
                body = response.read() if method != "HEAD" else b""
            finally:
                response.close()
            if not body and response.status in _BODILESS:
                # A HEAD answer has no body to carry the A3 error: its status says which.
                code, message = _BODILESS[response.status]
                raise ApiFailure(status=response.status, code=code, message=message)
            raise _failure(RawResponse(status=response.status, body=body, headers=response.headers))
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, json_body=body if body is not None else {})

    def list_all(self, path: str, **params: Any) -> list[Any]:
        """Every item of a collection, following pages so scripts always get the whole list."""
        items: list[Any] = []
        page = 1
        while True:
            envelope = self.get(path, **params, page=page, page_size=PAGE_SIZE)
            items.extend(envelope["results"])
            if not envelope.get("next"):
                return items
            page += 1

    def close(self) -> None:
        self.transport.close()


_BODILESS = {
    401: ("UNAUTHENTICATED", "not authenticated"),
    403: ("FORBIDDEN", "forbidden"),
    404: ("NOT_FOUND", "not found"),
}


def _query(params: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: _param(v) for k, v in (params or {}).items() if v is not None}


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _failure(response: RawResponse) -> ApiFailure:
    try:
        body = response.json() or {}
    except ValueError:
        body = {}
    if not isinstance(body, dict) or "code" not in body:
        text = response.body[:200].decode(errors="replace").strip()
        return ApiFailure(
            status=response.status,
            code="INTERNAL_ERROR" if response.status >= 500 else "UNEXPECTED_RESPONSE",
            message=f"HTTP {response.status} from the endpoint: {text or 'no body'}",
        )
    return ApiFailure(
        status=response.status,
        code=str(body["code"]),
        message=str(body.get("error", body["code"])),
        details=body.get("details") or {},
        request_id=str(body.get("request_id", "")),
    )


def _user_agent() -> str:
    from atonix_cli import __version__

    return f"atonix-cli/{__version__}"
