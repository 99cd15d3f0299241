"""gzip for text answers over 1 kB, in the app, so `medianest serve` without a proxy
gets it too (nginx passes the encoding through: deploy/nginx/medianest.conf).

Starlette's GZipMiddleware leaves alone answers that already have a Content-Encoding
(Socket.IO's long-polling compresses its own), partial answers, and the media types
below: already compressed, or streamed to a player.
"""

from __future__ import annotations

from starlette.middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipMiddleware,
    GZipResponder,
    IdentityResponder,
)
from starlette.types import ASGIApp, Receive, Scope, Send

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


class _Gzip(GZipMiddleware):
    """Starlette's middleware, its responders made once per request without their
    `__init__` normalizing the excluded types again (the middleware did that once: it
    was 4 % of a small kept answer's CPU) and without a `Headers` object to find
    Accept-Encoding."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepts_gzip = any(
            name == _ACCEPT_ENCODING and b"gzip" in value for name, value in scope["headers"]
        )
        responder: IdentityResponder
        if accepts_gzip:
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=(),
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
