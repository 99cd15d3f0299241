"""Pure ASGI middleware: correlation id, request log, security headers, last-resort 500.

It wraps everything (Socket.IO's HTTP fallback included), so even an exception that
escapes every handler becomes an `INTERNAL_ERROR` envelope with the correlation id.
"""

from __future__ import annotations

import json
import random
import re
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.core.envelope import error_payload
from medianest.core.logging import get_logger
from medianest.core.metrics import record_request

log = get_logger("medianest.request")

CORRELATION_HEADER = "x-correlation-id"
_CORRELATION_HEADER_BYTES = CORRELATION_HEADER.encode()
_VALID_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: https://image.tmdb.org; "
        b"style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self' ws: wss:; "
        b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]


def _correlation_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == _CORRELATION_HEADER_BYTES:
            candidate: str = value.decode("latin-1")
            if _VALID_CORRELATION_ID.match(candidate):
                return candidate
    # An id for finding log lines, not a secret: 128 random bits without a system call
    # per request (uuid4 reads the kernel's random source every time).
    return f"{random.getrandbits(128):032x}"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = _correlation_id(scope)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                headers.append((_CORRELATION_HEADER_BYTES, correlation_id.encode()))
                existing = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in existing)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled_exception", path=scope.get("path"))
            if not status_holder["started"]:
                body = json.dumps(
                    error_payload(
                        "INTERNAL_ERROR",
                        "An unexpected error occurred. Quote the correlation id when reporting it.",
                        {"correlationId": correlation_id},
                    )
                ).encode()
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            status_holder["status"] = 500
        finally:
            path = scope.get("path", "")
            record_request(scope, status_holder["status"], time.perf_counter() - started)
            if not path.startswith("/static/"):
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=path,
                    status=status_holder["status"],
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            structlog.contextvars.clear_contextvars()
