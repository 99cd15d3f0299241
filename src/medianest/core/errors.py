"""The one error hierarchy: every expected failure is a MediaNestError with a code and a status."""

from __future__ import annotations

from typing import Any


class MediaNestError(Exception):
    """Base of every error that becomes an API envelope (`success: false`)."""

    status_code = 500
    code = "INTERNAL_ERROR"
    default_message = "An unexpected error occurred."
    # An answer that is a decision, not a failure, may keep what the request wrote
    # before it (the session dependency commits instead of rolling back).
    keeps_writes = False

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        keeps_writes: bool | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        if keeps_writes is not None:  # this answer, unlike others of its class
            self.keeps_writes = keeps_writes
        super().__init__(self.message)


class ValidationFailed(MediaNestError):
    status_code = 400
    code = "VALIDATION_ERROR"
    default_message = "The request is invalid."


class InvalidInput(ValidationFailed):
    """A field the input schema refuses, found by a page's form: 422, as the API answers
    the same value in a JSON body (FastAPI's request validation)."""

    status_code = 422


class Unauthenticated(MediaNestError):
    status_code = 401
    code = "UNAUTHENTICATED"
    default_message = "Sign in first."


class PermissionDenied(MediaNestError):
    status_code = 403
    code = "PERMISSION_DENIED"
    default_message = "You do not have permission to do this."


class PasswordChangeRequired(PermissionDenied):
    code = "PASSWORD_CHANGE_REQUIRED"
    default_message = "Change your password before continuing."


class CsrfFailed(PermissionDenied):
    code = "CSRF_FAILED"
    default_message = "Missing or invalid CSRF token."


class NotFound(MediaNestError):
    status_code = 404
    code = "NOT_FOUND"
    default_message = "Not found."


class MethodNotAllowed(MediaNestError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed."


class Conflict(MediaNestError):
    status_code = 409
    code = "CONFLICT"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(MediaNestError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large."


class RateLimitExceeded(MediaNestError):
    status_code = 429
    code = "RATE_LIMIT_EXCEEDED"
    default_message = "Too many requests. Try again later."

    def __init__(
        self,
        message: str | None = None,
        *,
        limit: int,
        window_seconds: int,
        retry_after: int,
        details: dict[str, Any] | None = None,
    ) -> None:
        retry_after = max(1, retry_after)
        super().__init__(
            message,
            details={
                "limit": limit,
                "window": window_seconds,
                "retryAfter": retry_after,
                **(details or {}),
            },
            headers={
                "Retry-After": str(retry_after),
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
            },
        )


class QuotaExceeded(RateLimitExceeded):
    code = "QUOTA_EXCEEDED"
    default_message = "Your quota is used up for now."


class UpstreamError(MediaNestError):
    """An external service answered, but with something we cannot use."""

    status_code = 502
    code = "UPSTREAM_ERROR"
    default_message = "An external service gave an invalid answer."


class ServiceUnavailable(MediaNestError):
    """An external service (or one of ours, like the database) is down and nothing is cached."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "A service MediaNest depends on is unavailable."


class ServiceBusy(ServiceUnavailable):
    """MediaNest itself is at capacity (database connections, password checks): retry soon."""

    code = "SERVICE_BUSY"
    default_message = "MediaNest is busy. Try again in a moment."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int = 1,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details, headers={"Retry-After": str(retry_after)})


class InternalError(MediaNestError):
    status_code = 500
    code = "INTERNAL_ERROR"
