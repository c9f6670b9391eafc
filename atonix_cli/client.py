"""The API client: one interface over the embedded engine and a remote endpoint; errors, paging."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from atonix_cli.errors import ApiFailure

API_PREFIX = "/api/v1/"
PAGE_SIZE = 1000  # the API's maximum: lists are fetched whole, a page at a time


@dataclass
class RawResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


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
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
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
