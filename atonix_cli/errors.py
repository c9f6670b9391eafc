"""Exit codes and the CLI's error types: the one place API error codes become exit statuses."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2  # bad flags or input, also VALIDATION_ERROR from the API
    AUTH = 3  # not logged in, bad credentials, missing role or scope
    NOT_FOUND = 4
    CONFLICT = 5  # duplicate, wrong state, still in use
    QUOTA = 6
    UNAVAILABLE = 7  # unreachable, timed out, rate limited, service unavailable
    NOT_REACHABLE = 5  # `network reachability`: the traffic would not get through
    INTERRUPTED = 130


# Stable API error codes (SPEC A3) to exit codes.
EXIT_FOR_CODE: dict[str, ExitCode] = {
    "VALIDATION_ERROR": ExitCode.USAGE,
    "TOO_LARGE": ExitCode.USAGE,
    "CHECKSUM_MISMATCH": ExitCode.USAGE,  # the bytes sent are not those the checksum names
    "RANGE_NOT_SATISFIABLE": ExitCode.USAGE,
    "METHOD_NOT_ALLOWED": ExitCode.USAGE,
    "UNAUTHENTICATED": ExitCode.AUTH,
    "FORBIDDEN": ExitCode.AUTH,
    "NOT_FOUND": ExitCode.NOT_FOUND,
    "CONFLICT": ExitCode.CONFLICT,
    "INVALID_STATE": ExitCode.CONFLICT,
    "DEPENDENCY_VIOLATION": ExitCode.CONFLICT,
    "QUOTA_EXCEEDED": ExitCode.QUOTA,
    "RATE_LIMITED": ExitCode.UNAVAILABLE,
    "SERVICE_UNAVAILABLE": ExitCode.UNAVAILABLE,
    "INTERNAL_ERROR": ExitCode.UNEXPECTED,
}


class CliError(Exception):
    """An expected failure: one line on stderr and a documented exit code."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.UNEXPECTED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ApiFailure(CliError):
    """The API answered with an A3 error body."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(message, EXIT_FOR_CODE.get(code, ExitCode.UNEXPECTED))
        self.status = status
        self.code = code
        self.details = details or {}
        self.request_id = request_id
