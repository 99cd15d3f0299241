"""Pure ASGI middleware: ETag and 304 for GET answers a page script or API client re-asks.

A JSON or HTML answer (200, sized, no cookie set, no caching of its own) fetched by a
script, htmx or an API client gets a weak ETag hashed from its body and
`Cache-Control: private, no-cache`: the browser keeps it but asks again every time, and
an unchanged answer comes back as a 304 without a body. Top-level navigations keep
`no-store` (set by core/middleware.py): Back after sign-out shows history from the
browser's cache whatever `no-cache` says, so a page that was shown is never kept; a
revalidation after sign-out is answered 401 or with the sign-in page, never 304.
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.core.envelope import envelope_time

_REVALIDATE = (b"cache-control", b"private, no-cache")
# What the answer (and its caching) depends on besides the URL: who asks, and whether
# htmx or a navigation asks (a fragment and a page can share a URL).
_VARY = b"Cookie, Authorization, HX-Request, Sec-Fetch-Mode"
_TAGGED_TYPES = (b"application/json", b"text/html")
_NOT_IN_304 = frozenset({b"content-length", b"content-type"})
MAX_TAGGED_BYTES = 4 * 1024 * 1024  # larger answers pass through untouched, unbuffered
# The tag of the answer's body when whoever made it knew it already (a kept answer,
# core/response_cache.py), in the ASGI scope.
ETAG_OF_BODY = "medianest.etag_of_body"


def _revalidation_of(scope: Scope) -> bytes | None:
    """None for a top-level page load (what Back shows again: by Sec-Fetch-Mode, or for a
    browser without it, an HTML request that is not htmx's); else the request's
    If-None-Match, b"" when it has none (one pass over the headers for both)."""
    mode = accept = None
    htmx = False
    condition = b""
    for name, value in scope["headers"]:
        if name == b"sec-fetch-mode":
            mode = value
        elif name == b"accept":
            accept = value
        elif name == b"hx-request":
            htmx = True
        elif name == b"if-none-match":
            condition = value
    if mode is not None:
        navigation = mode == b"navigate"
    else:
        navigation = not htmx and accept is not None and b"text/html" in accept
    return None if navigation else condition


def body_etag(body: bytes) -> bytes:
    """A weak tag of the answer's content (the envelope's timestamp excluded)."""
    # The envelope's `meta.timestamp` says when the answer was made, not what it says:
    # left out of the hash, or no two answers would ever match.
    time = envelope_time(body)
    if time is not None:
        body = body[: time.start] + body[time.stop :]
    # SHA-1 as a checksum, not for security: hardware-accelerated, 35 µs for 41 kB where
    # blake2b took 154 (docs/performance.md).
    return b'W/"' + hashlib.sha1(body, usedforsecurity=False).hexdigest().encode() + b'"'


def matches(if_none_match: bytes, etag: bytes) -> bool:
    """If-None-Match's weak comparison: any listed tag, with or without W/, or `*`."""
    opaque = etag.removeprefix(b"W/")
    for candidate in if_none_match.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == opaque:
            return True
    return False


def _taggable(message: Message) -> bool:
    if message["status"] != 200:
        return False
    size = -1
    kind = b""
    for name, value in message.get("headers", ()):
        if name in (b"etag", b"cache-control", b"set-cookie", b"content-encoding"):
            return False  # the answer decided its own caching, or changes the client's state
        if name == b"content-length":
            size = int(value)
        elif name == b"content-type":
            kind = value.partition(b";")[0].strip().lower()
    return 0 <= size <= MAX_TAGGED_BYTES and kind in _TAGGED_TYPES


class ConditionalGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        condition = _revalidation_of(scope)
        if condition is None:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def tagging_send(message: Message) -> None:
            nonlocal start
            if start is None:
                if message["type"] == "http.response.start" and _taggable(message):
                    start = message
                    return
                await send(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body = message.get("body", b"")
            if message.get("more_body", False):
                chunks.append(body)
                return
            if chunks:
                body = b"".join([*chunks, body])
            await _send_tagged(scope, start, body, condition, send)

        await self.app(scope, receive, tagging_send)


async def _send_tagged(
    scope: Scope, start: Message, body: bytes, condition: bytes, send: Send
) -> None:
    etag = scope.get(ETAG_OF_BODY) or body_etag(body)
    headers = start.get("headers")
    if type(headers) is not list:  # else the message's own list, changed in place
        headers = list(headers or ())
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            headers[index] = (name, value + b", " + _VARY)
            break
    else:
        headers.append((b"vary", _VARY))
    headers += [(b"etag", etag), _REVALIDATE]
    if condition and matches(condition, etag):
        headers = [(n, v) for n, v in headers if n not in _NOT_IN_304]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    start["headers"] = headers
    await send(start)
    await send({"type": "http.response.body", "body": body})
