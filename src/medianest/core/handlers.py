"""One place that turns errors into responses: envelopes for /api, pages for the UI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from medianest.core.envelope import error_payload
from medianest.core.errors import MediaNestError, ServiceBusy
from medianest.core.logging import get_logger
from medianest.core.metrics import record_error
from medianest.core.validation_words import plain_message

log = get_logger(__name__)

_HTTP_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
}

# A page renderer for non-API paths; the web package installs one.
PageErrorRenderer = Any


def _wants_page(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api", "/metrics", "/socket.io")):
        return False
    if request.headers.get("hx-request"):
        return True
    return "text/html" in request.headers.get("accept", "")


def error_response(
    request: Request,
    *,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    renderer = getattr(request.app.state, "page_error_renderer", None)
    if renderer is not None and _wants_page(request):
        try:
            response: Response = renderer(request, status, code, message, headers or {})
        except Exception:  # a broken error page must not turn an error into a hang
            log.exception("page_error_renderer_failed", code=code)
        else:
            record_error(code)
            for key, value in (headers or {}).items():
                response.headers[key] = value
            return response
    return api_error_response(
        status=status, code=code, message=message, details=details, headers=headers
    )


def api_error_response(
    *,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error envelope of an API path (counted in the error metrics)."""
    record_error(code)
    return JSONResponse(error_payload(code, message, details), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    fields = []
    for error in exc.errors():
        # Never echo the input back: it may be a password.
        fields.append(
            {
                "field": ".".join(str(p) for p in error.get("loc", ()) if p != "body"),
                "message": plain_message(error),
                "type": str(error.get("type", "value_error")),
            }
        )
    return {"fields": fields}


async def _on_medianest_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MediaNestError)
    if exc.status_code >= 500:
        log.warning("request_failed", code=exc.code, error=exc.message)
    return error_response(
        request,
        status=exc.status_code,
        code=exc.code,
        message=exc.message,
        details=exc.details,
        headers=exc.headers,
    )


async def _on_pool_timeout(request: Request, exc: Exception) -> Response:
    # Every pooled database connection stayed busy for the whole pool timeout.
    return await _on_medianest_error(
        request, ServiceBusy(details={"reason": "database_connections_busy"})
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(
        request,
        status=422,
        code="VALIDATION_ERROR",
        message="Some fields are missing or invalid.",
        details=_validation_details(exc),
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "INTERNAL_ERROR" if exc.status_code >= 500 else "ERROR")
    message = {
        404: "No such resource.",
        405: "This method is not allowed here.",
    }.get(exc.status_code, str(exc.detail))
    return error_response(
        request,
        status=exc.status_code,
        code=code,
        message=message,
        headers=dict(exc.headers or {}),
    )


async def _on_unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this; the request middleware logs the traceback once.
    correlation_id = getattr(request.state, "correlation_id", None)
    return error_response(
        request,
        status=500,
        code="INTERNAL_ERROR",
        message="An unexpected error occurred. Quote the correlation id when reporting it.",
        details={"correlationId": correlation_id} if correlation_id else {},
    )


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MediaNestError, _on_medianest_error)
    app.add_exception_handler(PoolTimeout, _on_pool_timeout)
    app.add_exception_handler(Exception, _on_unexpected_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
