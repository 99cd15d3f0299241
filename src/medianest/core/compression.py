"""gzip for text answers over 1 kB, in the app, so `medianest serve` without a proxy
gets it too (nginx passes the encoding through: deploy/nginx/medianest.conf).

Starlette's GZipMiddleware leaves alone answers that already have a Content-Encoding
(Socket.IO's long-polling compresses its own), partial answers, and the media types
below: already compressed, or streamed to a player.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipMiddleware,
    GZipResponder,
    IdentityResponder,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from medianest.core.recent import RecentlyUsed

MINIMUM_SIZE = 1000
# Level 6 (zlib's default), not Starlette's 9: app.js three times over compresses to
# 9,814 bytes in 2.3 ms instead of 9,685 in 3.3 ms (1 % larger, 30 % less CPU).
COMPRESS_LEVEL = 6
EXCLUDED_CONTENT_TYPES = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/octet-stream",
    "image/x-icon",
)
_ACCEPT_ENCODING = b"accept-encoding"
# Bodies compressed lately, by their bytes: a kept answer (core/response_cache.py) sends
# the same body until its tables change, and compressing a 2.4 kB page cost 83 µs,
# mostly zlib setting up its state (docs/performance.md). Bounded by bytes held.
KEPT_COMPRESSED_MAX_BYTES = 4 * 1024 * 1024
KEPT_COMPRESSED_MAX_BODY = 256 * 1024


def _weight(body: bytes, packed: bytes) -> int:
    return len(body) + len(packed)


class CompressedBodies:
    """The last bodies compressed and what they compressed to, least recent out first."""

    def __init__(self, max_bytes: int = KEPT_COMPRESSED_MAX_BYTES) -> None:
        self._entries: RecentlyUsed[bytes, bytes] = RecentlyUsed(max_bytes, weigh=_weight)

    def get(self, body: bytes) -> bytes | None:
        return self._entries.get(body)

    def put(self, body: bytes, packed: bytes) -> None:
        if body not in self._entries and len(body) <= KEPT_COMPRESSED_MAX_BODY:
            self._entries.put(body, packed)


class _KeptGzipResponder(GZipResponder):
    """A whole body (one message) seen lately is sent as it was compressed then."""

    def __init__(
        self, app: ASGIApp, minimum_size: int, compresslevel: int, bodies: CompressedBodies
    ) -> None:
        super().__init__(app, minimum_size, compresslevel, exclude_content_types=())
        self._bodies = bodies
        self._streaming = False

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if more_body or self._streaming:  # a part of a streamed body: zlib's state goes on
            self._streaming = True
            return await super().apply_compression(body, more_body=more_body)
        packed = self._bodies.get(body)
        if packed is None:
            packed = await super().apply_compression(body, more_body=False)
            self._bodies.put(body, packed)
        return packed


class _Gzip(GZipMiddleware):
    """Starlette's middleware, its responders made once per request without their
    `__init__` normalizing the excluded types again (the middleware did that once: it
    was 4 % of a small kept answer's CPU) and without a `Headers` object to find
    Accept-Encoding; a body compressed lately is not compressed again (`bodies`)."""

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        super().__init__(app, **options)
        self.bodies = CompressedBodies()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepts_gzip = any(
            name == _ACCEPT_ENCODING and b"gzip" in value for name, value in scope["headers"]
        )
        responder: IdentityResponder
        if accepts_gzip:
            responder = _KeptGzipResponder(
                self.app, self.minimum_size, self.compresslevel, self.bodies
            )
        else:
            responder = IdentityResponder(self.app, self.minimum_size, exclude_content_types=())
        responder.exclude_content_types = self.exclude_content_types
        await responder(scope, receive, send)


def compressed(app: ASGIApp) -> ASGIApp:
    return _Gzip(
        app,
        minimum_size=MINIMUM_SIZE,
        compresslevel=COMPRESS_LEVEL,
        exclude_content_types=EXCLUDED_CONTENT_TYPES,
    )
