"""Pure ASGI middleware: correlation id, request log, security headers, last-resort 500.

It wraps everything (Socket.IO's HTTP fallback included), so even an exception that
escapes every handler becomes an `INTERNAL_ERROR` envelope with the correlation id.
"""

from __future__ import annotations

import contextvars
import json
import random
import re
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.core.envelope import error_payload
from medianest.core.logging import get_logger, request_log
from medianest.core.metrics import record_request

log = get_logger("medianest.request")

CORRELATION_HEADER = "x-correlation-id"
_CORRELATION_HEADER_BYTES = CORRELATION_HEADER.encode()
_VALID_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

# What every answer says about being framed or sniffed. A 304 carries only these: it
# updates the headers of the answer the browser kept (RFC 9111, 4.3.4), and one without
# a policy leaves the kept answer's own (a page's, a script's or the strict one) in place.
NOT_MODIFIED_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
]
# What a page (or a script it runs, whose policy governs a service worker's own
# requests) may load.
PAGE_SECURITY_HEADERS = [
    *NOT_MODIFIED_SECURITY_HEADERS,
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: https://image.tmdb.org; "
        b"style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self' ws: wss:; "
        b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]
# Any other answer (JSON, images, styles, Socket.IO's polling) is never a page that loads
# anything: opened on its own it may load nothing at all, as OWASP's REST cheat sheet
# asks of an API. Shorter too: every answer's headers are written and checked byte by byte.
OTHER_SECURITY_HEADERS = [
    *NOT_MODIFIED_SECURITY_HEADERS,
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
_PAGE_TYPES = (b"text/html", b"text/javascript", b"application/javascript")


def _correlation_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == _CORRELATION_HEADER_BYTES:
            candidate: str = value.decode("latin-1")
            if _VALID_CORRELATION_ID.match(candidate):
                return candidate
    # An id for finding log lines, not a secret: 128 random bits without a system call
    # per request (uuid4 reads the kernel's random source every time).
    return f"{random.getrandbits(128):032x}"


def _structlog_var(key: str) -> contextvars.ContextVar[object]:
    """The context variable structlog keeps `key` of `bind_contextvars` in (it makes it on
    the first bind; the token says which it is): set and reset directly, without
    building the mapping of tokens per request that `bind_contextvars` returns."""
    token = structlog.contextvars.bind_contextvars(**{key: None})[key]
    token.var.reset(token)
    return token.var


# What every log line written while a request runs carries (structlog merges it in).
_CORRELATION_VAR = _structlog_var("correlation_id")

_SECURITY_HEADER_NAMES = frozenset(name for name, _ in PAGE_SECURITY_HEADERS)
# Pages and API answers carry a user's data: no browser or proxy keeps them (Back after
# sign-out must not show the previous user's dashboard). Static files and answers that
# chose their own caching (poster images) keep theirs.
_NO_STORE = (b"cache-control", b"no-store")


def _with_our_headers(
    headers: list[tuple[bytes, bytes]], status: int, correlation: bytes, *, cacheable: bool
) -> None:
    """Add the correlation id, the security headers the response did not set itself (a
    page's or a script's policy, else the strict one) and (unless `cacheable`)
    `Cache-Control: no-store` (ASGI header names are lower-case). One pass over the
    answer's headers (a plain loop: no generator per header)."""
    page = has_cache_control = own_security = False
    for name, value in headers:
        if name == b"content-type":
            page = value.startswith(_PAGE_TYPES)
        elif name == b"cache-control":
            has_cache_control = True
        elif name in _SECURITY_HEADER_NAMES:
            own_security = True
    if status == 304:
        security = NOT_MODIFIED_SECURITY_HEADERS
    else:
        security = PAGE_SECURITY_HEADERS if page else OTHER_SECURITY_HEADERS
    if not cacheable and not has_cache_control:
        headers.append(_NO_STORE)
    if own_security:  # rare (an answer with its own policy): merge
        present = {name for name, _ in headers}
        headers.extend(h for h in security if h[0] not in present)
    else:
        headers.extend(security)
    headers.append((_CORRELATION_HEADER_BYTES, correlation))


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = _correlation_id(scope)
        correlation = correlation_id.encode()
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        # Reset, not cleared, at the end: the request's own binding goes, nothing else.
        bound = _CORRELATION_VAR.set(correlation_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        cacheable = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", ()))
                _with_our_headers(headers, status, correlation, cacheable=cacheable)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled_exception", path=scope.get("path"))
            if not response_started:
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
            status = 500
        finally:
            path = scope.get("path", "")
            seconds = time.perf_counter() - started
            record_request(scope, status, seconds)
            if not path.startswith("/static/"):
                request_log.request(
                    method=scope.get("method"),
                    path=path,
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )
            _CORRELATION_VAR.reset(bound)
