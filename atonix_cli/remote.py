"""Remote transport: httpx with timeouts, and retries with backoff only where repeating is safe."""

from __future__ import annotations

import random
import sys
import time
import types
from collections.abc import Callable, Iterator, Mapping
from typing import BinaryIO

from atonix_cli.client import CHUNK, RawResponse, copy_chunks
from atonix_cli.errors import CliError, ExitCode

# httpx imports its own command-line tool whenever click, rich and pygments are installed (they
# are, with typer): about a sixth of a remote command's start-up, for a tool the client never
# runs. A placeholder without `main` makes httpx's `from ._main import main` fail as if they
# were missing, and httpx defines its stand-in instead.
sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))
import httpx  # noqa: E402

MAX_ATTEMPTS = 4
MAX_RETRY_AFTER = 30.0
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class HttpTransport:
    def __init__(
        self, endpoint: str, *, timeout: float, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._client = httpx.Client(base_url=self.endpoint, timeout=timeout)
        self._sleep = sleep

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> RawResponse:
        # Reads, and writes carrying an Idempotency-Key, may be repeated (SPEC A3).
        repeatable = method in SAFE_METHODS or "Idempotency-Key" in headers
        sent = dict(headers)
        reply = self._exchange(
            method,
            path,
            lambda: self._client.build_request(
                method, path, params=params, headers=sent, content=body
            ),
            repeatable=repeatable,
            stream=False,
        )
        return _raw(reply)

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
    ) -> HttpStream:
        if trailers is not None:
            raise ValueError("headers after the body are for the embedded engine only")
        # A body streamed from a file or a pipe cannot be sent twice: only reads are retried.
        sent = dict(headers)
        content: Iterator[bytes] | None = None
        if upload is not None:
            sent["Content-Length"] = str(length)  # so httpx sends it whole, not chunked
            content = _read_chunks(upload, length)
        reply = self._exchange(
            method,
            path,
            lambda: self._client.build_request(
                method, path, params=params, headers=sent, content=content
            ),
            repeatable=upload is None and method in SAFE_METHODS,
            stream=True,
        )
        # An error answer looked at for a retry has been read already.
        return HttpStream(reply, self.endpoint, reply.content if reply.is_stream_consumed else None)

    def _exchange(
        self,
        method: str,
        path: str,
        request_for: Callable[[], httpx.Request],
        *,
        repeatable: bool,
        stream: bool,
    ) -> httpx.Response:
        """Send the request `request_for` builds; when `repeatable`, again after a connection
        failure or a refusal for now (503, 429 RATE_LIMITED), with backoff. The reply's body is
        left unread if `stream`."""
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = self._client.send(request_for(), stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                if repeatable and attempt < MAX_ATTEMPTS:
                    self._sleep(_backoff(attempt))
                    continue
                raise CliError(
                    f"cannot reach {self.endpoint}: {_reason(exc)}", ExitCode.UNAVAILABLE
                ) from None
            except httpx.TimeoutException:
                raise CliError(
                    f"{self.endpoint} did not answer in time ({method} {path})",
                    ExitCode.UNAVAILABLE,
                ) from None
            except httpx.TransportError as exc:
                # The endpoint closed the connection while the body was still going out.
                raise CliError(
                    f"the connection to {self.endpoint} broke during {method} {path}: "
                    f"{_reason(exc)}",
                    ExitCode.UNAVAILABLE,
                ) from None
            if repeatable and attempt < MAX_ATTEMPTS and reply.status_code in (429, 503):
                reply.read()
                answer = _raw(reply)
                if _retryable(answer):
                    reply.close()
                    self._sleep(_retry_delay(answer, attempt))
                    continue
            return reply

    def close(self) -> None:
        self._client.close()


class HttpStream:
    """An httpx response read as it arrives."""

    def __init__(self, reply: httpx.Response, endpoint: str, body: bytes | None = None) -> None:
        self._reply = reply
        self._endpoint = endpoint
        self._body = body  # already read (an error answer looked at for a retry)
        self.status = reply.status_code
        self.headers = {k.lower(): v for k, v in reply.headers.items()}

    def chunks(self) -> Iterator[bytes]:
        if self._body is not None:
            yield self._body
            return
        try:
            yield from self._reply.iter_raw()
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise CliError(
                f"the connection to {self._endpoint} broke mid-transfer: {_reason(exc)}",
                ExitCode.UNAVAILABLE,
            ) from None

    def copy_to(self, out: BinaryIO, progress: Callable[[int], None] | None = None) -> int:
        return copy_chunks(self.chunks(), out, progress)

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        self._reply.close()


def _raw(reply: httpx.Response) -> RawResponse:
    return RawResponse(
        status=reply.status_code,
        body=reply.content,
        headers={k.lower(): v for k, v in reply.headers.items()},
    )


def _read_chunks(upload: BinaryIO, length: int) -> Iterator[bytes]:
    left = length
    while left > 0:
        chunk = upload.read(min(CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
        yield chunk


def _retryable(response: RawResponse) -> bool:
    if response.status == 503:
        return True
    return response.status == 429 and b"RATE_LIMITED" in response.body


def _retry_delay(response: RawResponse, attempt: int) -> float:
    header = response.headers.get("retry-after")
    if header:
        try:
            return min(max(float(header), 0.0), MAX_RETRY_AFTER)
        except ValueError:
            pass
    return _backoff(attempt)


def _backoff(attempt: int) -> float:
    return min(0.25 * 2 ** (attempt - 1), 4.0) * (0.5 + random.random() / 2)


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("] ")[-1]
