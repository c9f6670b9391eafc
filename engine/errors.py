"""API errors: every stable error code, its HTTP status and its body, defined once (SPEC A3)."""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    """An expected failure of a request; becomes the A3 error body."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers: list[tuple[str, str]] = []  # response headers it adds (Content-Range)

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "error": self.message,
            "code": self.code,
            "details": self.details,
            "request_id": request_id,
        }


class ValidationFailed(ApiError):
    status, code = 400, "VALIDATION_ERROR"


class ChecksumMismatch(ValidationFailed):
    """The bytes received are not those the client hashed: nothing was stored."""

    code = "CHECKSUM_MISMATCH"


class Unauthenticated(ApiError):
    status, code = 401, "UNAUTHENTICATED"


class Forbidden(ApiError):
    status, code = 403, "FORBIDDEN"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class MethodNotAllowed(ApiError):
    status, code = 405, "METHOD_NOT_ALLOWED"


class Conflict(ApiError):
    status, code = 409, "CONFLICT"


class InvalidState(ApiError):
    status, code = 409, "INVALID_STATE"


class DependencyViolation(ApiError):
    status, code = 409, "DEPENDENCY_VIOLATION"


class TooLarge(ApiError):
    status, code = 413, "TOO_LARGE"


class RangeNotSatisfiable(ApiError):
    status, code = 416, "RANGE_NOT_SATISFIABLE"


class QuotaExceeded(ApiError):
    status, code = 429, "QUOTA_EXCEEDED"


class RateLimited(ApiError):
    status, code = 429, "RATE_LIMITED"


class InternalError(ApiError):
    status, code = 500, "INTERNAL_ERROR"


class ServiceUnavailable(ApiError):
    status, code = 503, "SERVICE_UNAVAILABLE"


class SchemaMismatch(Exception):
    """The database was written by another schema version than this engine's and cannot be used."""


def field_error(field: str, message: str) -> ValidationFailed:
    """A 400 naming one invalid field, the shape every validation failure takes."""
    return ValidationFailed(f"{field}: {message}", details={field: [message]})
