"""Remote transport: httpx with timeouts, and retries with backoff only where repeating is safe."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

import httpx

from atonix_cli.client import RawResponse
from atonix_cli.errors import CliError, ExitCode

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
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = self._client.request(
                    method, path, params=params, headers=dict(headers), content=body
                )
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
            response = RawResponse(
                status=reply.status_code,
                body=reply.content,
                headers={k.lower(): v for k, v in reply.headers.items()},
            )
            if repeatable and attempt < MAX_ATTEMPTS and _retryable(response):
                self._sleep(_retry_delay(response, attempt))
                continue
            return response

    def close(self) -> None:
        self._client.close()


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
