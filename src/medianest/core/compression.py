"""gzip for text answers over 1 kB, in the app, so `medianest serve` without a proxy
gets it too (nginx passes the encoding through: deploy/nginx/medianest.conf).

Starlette's GZipMiddleware leaves alone answers that already have a Content-Encoding
(Socket.IO's long-polling compresses its own), partial answers, and the media types
below: already compressed, or streamed to a player.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    GZipMiddleware,
    GZipResponder,
    IdentityResponder,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.core.envelope import META_TIMESTAMP, envelope_time
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
# What a whole body is made of: what it shares with the last ones sent, compressed once
# and kept (a kept answer, core/response_cache.py, sends the same body until its tables
# change), and what it says only once (an envelope's `meta.timestamp`, to the microsecond,
# then its end), sent after it as it is. Compressing a 15 kB list took ~60-100 µs a
# request; bounded by bytes held (docs/performance.md).
KEPT_COMPRESSED_MAX_BYTES = 4 * 1024 * 1024
KEPT_COMPRESSED_MAX_BODY = 256 * 1024
# Partial content, and answers that have none (a 304 is what a browser's poll of an
# unchanged answer gets): Starlette's responder sends them as they come.
_NOTHING_TO_COMPRESS = frozenset({204, 206, 304})
# deflate reaches back at most its window less this (zlib's MIN_LOOKAHEAD).
_DEFLATE_LOOKAHEAD = 262
# A gzip member's header (RFC 1952, 2.3): deflate, no flags, no time, no extra, OS unknown.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def _sized_deflate(level: int, length: int) -> zlib._Compress:
    """A raw deflate compressor for `length` bytes whose window and hash table are no
    larger than they need: every earlier byte stays in reach, so it compresses as well,
    and 1.4 kB take 10 µs instead of 28 with zlib's full 32 kB window and 64 kB hash
    table, set up (and cleared) for every body (docs/performance.md)."""
    window_bits = min(zlib.MAX_WBITS, max(9, (length + _DEFLATE_LOOKAHEAD).bit_length()))
    memory_level = min(zlib.DEF_MEM_LEVEL, max(1, window_bits - 6))
    return zlib.compressobj(level, zlib.DEFLATED, -window_bits, memory_level)


@dataclass(frozen=True, slots=True)
class _Deflated:
    blocks: bytes  # raw deflate ending on a byte boundary (a sync flush), no final block
    crc: int  # CRC-32 of what it compresses


def _weight(shared: bytes, deflated: _Deflated) -> int:
    return len(shared) + len(deflated.blocks)


class CompressedBodies:
    """Whole bodies as gzip, their shared part compressed lately kept by its bytes, least
    recently used out first."""

    def __init__(self, level: int, max_bytes: int = KEPT_COMPRESSED_MAX_BYTES) -> None:
        self.level = level
        self._entries: RecentlyUsed[bytes, _Deflated] = RecentlyUsed(max_bytes, weigh=_weight)

    def __len__(self) -> int:
        return len(self._entries)

    def gzip(self, body: bytes) -> bytes:
        """`body` as one gzip member (RFC 1952): the part it shares with the last bodies,
        deflated once, then what only this body says in a final stored block."""
        time = envelope_time(body)
        if time is None:
            shared, own = body, b""
        else:
            split = time.start + len(META_TIMESTAMP)
            shared, own = body[:split], body[split:]
        deflated = self._entries.get(shared)
        if deflated is None:
            compressor = _sized_deflate(self.level, len(shared))
            blocks = compressor.compress(shared) + compressor.flush(zlib.Z_SYNC_FLUSH)
            deflated = _Deflated(blocks, zlib.crc32(shared))
            if len(shared) <= KEPT_COMPRESSED_MAX_BODY:
                self._entries.put(shared, deflated)
        # What only this body says (an envelope's time and what follows it: `envelope_time`
        # searches the last 256 bytes) fits in one stored block: 65,535 bytes at most
        # (RFC 1951, 3.2.4: LEN is two bytes).
        stored = struct.pack("<BHH", 1, len(own), len(own) ^ 0xFFFF)  # BFINAL, stored
        trailer = struct.pack("<II", zlib.crc32(own, deflated.crc), len(body) & 0xFFFFFFFF)
        return b"".join((_GZIP_HEADER, deflated.blocks, stored, own, trailer))


class _Start(enum.Enum):
    """What an answer's start decides."""

    SEND = "sent as it comes"
    HOLD = "held for a whole body to compress"
    RESPOND = "Starlette's responder decides"


class _Gzip(GZipMiddleware):
    """Starlette's middleware, with what most answers need decided when they start.

    Starlette's responder held every start until the body came and read its headers
    through a `Headers` object (on a small kept answer that was a sixteenth of its CPU,
    docs/performance.md). Here an answer that declares a length under the minimum, is
    already encoded, partial, has no content (a 304) or is of an excluded type is sent as
    it comes; so is one that declares its length to a client that does not accept gzip
    (an API client, a script), with the Vary header the responder would have added. To a
    client that accepts gzip, one that declares its length is held until its body: a
    whole body is compressed (`bodies`: its shared part once) and sent with the headers
    Starlette's responder sets. Anything else (a body in parts, one over Starlette's
    worker-thread size, a HEAD's empty one, no length declared: no answer MediaNest
    makes whole) goes through Starlette's responder as it is, made without its
    `__init__` normalizing the excluded types again. What
    reaches the client is Starlette's answer (tests/core/test_compression.py compares)."""

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        super().__init__(app, **options)
        self.bodies = CompressedBodies(self.compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accepts_gzip = False
        for name, value in scope["headers"]:  # a plain loop: no generator per request
            if name == _ACCEPT_ENCODING and b"gzip" in value:
                accepts_gzip = True
                break
        passing = False
        held: Message | None = None
        responder: IdentityResponder | None = None

        async def send_compressed_if_worth_it(message: Message) -> None:
            nonlocal passing, held, responder
            if passing:
                await send(message)
            elif responder is not None:
                await responder.send_with_compression(message)
            elif held is not None:
                start, held = held, None
                if self._whole_body_to_compress(message):
                    passing = True
                    _compress_whole(start, message, self.bodies.gzip(message["body"]))
                    await send(start)
                    await send(message)
                    return
                responder = self._responder(accepts_gzip, send)
                await responder.send_with_compression(start)
                await responder.send_with_compression(message)
            elif message["type"] != "http.response.start":
                responder = self._responder(accepts_gzip, send)
                await responder.send_with_compression(message)
            else:
                decision = self._decided_at_start(message, accepts_gzip)
                if decision is _Start.SEND:
                    passing = True
                    await send(message)
                elif decision is _Start.HOLD:
                    held = message
                else:
                    responder = self._responder(accepts_gzip, send)
                    await responder.send_with_compression(message)

        await self.app(scope, receive, send_compressed_if_worth_it)

    def _decided_at_start(self, start: Message, accepts_gzip: bool) -> _Start:
        """An answer that is partial or has no content (204, 304), is already encoded or
        declares a length under the minimum is sent untouched. One that declares its
        length: of an excluded type, sent untouched; else held for its body to compress
        (a client that accepts gzip) or sent with `Vary: Accept-Encoding` added (one that
        does not: all Starlette's identity responder adds). No length: the responder."""
        if start["status"] in _NOTHING_TO_COMPRESS:
            return _Start.SEND
        length: int | None = None
        content_type: bytes | None = None
        for name, value in start.get("headers", ()):
            if name == b"content-encoding":
                return _Start.SEND
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"content-type" and content_type is None:
                content_type = value
        if length is None:
            return _Start.RESPOND
        if length < self.minimum_size or self._excluded(content_type or b""):
            return _Start.SEND
        if accepts_gzip:
            return _Start.HOLD
        _vary_on_accept_encoding(start)
        return _Start.SEND

    def _whole_body_to_compress(self, message: Message) -> bool:
        """A held answer's body that came whole, large enough to compress (a HEAD's
        is empty), small enough to compress on the event loop."""
        if message["type"] != "http.response.body" or message.get("more_body", False):
            return False
        return self.minimum_size <= len(message.get("body", b"")) < self.thread_minimum_size

    def _excluded(self, content_type: bytes) -> bool:
        """Starlette's test of a media type against the excluded ones."""
        media_type = content_type.decode("latin-1").partition(";")[0].strip().lower()
        media_types = {media_type, media_type.partition("/")[0] + "/*"}
        if media_type.startswith("application/grpc+"):
            media_types.add("application/grpc")
        return not media_types.isdisjoint(self.exclude_content_types)

    def _responder(self, accepts_gzip: bool, send: Send) -> IdentityResponder:
        responder: IdentityResponder
        if accepts_gzip:
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=(),
            )
        else:
            responder = IdentityResponder(self.app, self.minimum_size, exclude_content_types=())
        responder.exclude_content_types = self.exclude_content_types
        responder.send = send
        return responder


def _compress_whole(start: Message, message: Message, packed: bytes) -> None:
    """The headers and body Starlette's gzip responder sends for a whole body, set with
    its own `MutableHeaders` in the same order, on the messages in place."""
    headers = start.get("headers")
    if type(headers) is not list:
        headers = start["headers"] = list(headers or ())
    mutable = MutableHeaders(raw=headers)
    mutable.add_vary_header("Accept-Encoding")
    mutable["Content-Encoding"] = "gzip"
    if start.get("trailers", False):
        del mutable["Content-Length"]
    else:
        mutable["Content-Length"] = str(len(packed))
    message["body"] = packed


def _vary_on_accept_encoding(start: Message) -> None:
    """Add Accept-Encoding to the answer's Vary with Starlette's own `add_vary_header`
    (what its identity responder adds), on the message's header list in place."""
    headers = start.get("headers")
    if type(headers) is not list:
        headers = start["headers"] = list(headers or ())
    MutableHeaders(raw=headers).add_vary_header("Accept-Encoding")


def compressed(app: ASGIApp) -> ASGIApp:
    return _Gzip(
        app,
        minimum_size=MINIMUM_SIZE,
        compresslevel=COMPRESS_LEVEL,
        exclude_content_types=EXCLUDED_CONTENT_TYPES,
    )
