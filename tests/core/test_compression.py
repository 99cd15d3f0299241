"""Text answers over 1 kB are gzipped by the app itself (so `medianest serve` without a
proxy sends fewer bytes); small answers, encoded answers and Socket.IO stay as they were."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

from medianest.app import MediaNestApp
from medianest.core.compression import (
    COMPRESS_LEVEL,
    EXCLUDED_CONTENT_TYPES,
    MINIMUM_SIZE,
    CompressedBodies,
    compressed,
)
from medianest.core.envelope import envelope_json

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def compressors_made(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The arguments of every zlib compressor made while the test runs."""
    made: list[tuple[Any, ...]] = []
    real_compressobj = zlib.compressobj

    def recording_compressobj(*args: Any) -> Any:
        made.append(args)
        return real_compressobj(*args)

    monkeypatch.setattr(zlib, "compressobj", recording_compressobj)
    return made


@dataclass
class Raw:
    status_code: int
    headers: httpx.Headers
    content: bytes  # as sent on the wire, not decoded


async def raw_get(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Raw:
    async with client.stream("GET", path, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return Raw(response.status_code, response.headers, raw)


async def test_json_html_and_static_text_over_1_kb_are_gzipped_and_decode_to_the_plain_answer(
    alice_client: httpx.AsyncClient,
) -> None:
    for path in (
        "/api/openapi.json",
        "/dashboard",
        "/youtube",
        "/static/app.js",
        "/static/app.css",
    ):
        packed = await raw_get(alice_client, path, GZIP)
        plain = await raw_get(alice_client, path, IDENTITY)
        assert packed.status_code == plain.status_code == 200, path
        assert packed.headers["content-encoding"] == "gzip", path
        assert "accept-encoding" in packed.headers["vary"].lower(), path
        assert "content-encoding" not in plain.headers, path
        assert int(packed.headers["content-length"]) == len(packed.content), path
        assert len(packed.content) < len(plain.content) / 2, path
        unpacked = gzip.decompress(packed.content)
        if path.startswith("/static/") or path == "/api/openapi.json":
            assert unpacked == plain.content, path  # the same bytes either way
        else:  # a page carries a per-request correlation id: compare its shape
            assert unpacked.startswith(b"<!DOCTYPE html>") or unpacked.startswith(b"<!doctype"), (
                path
            )
    spec = await alice_client.get("/api/openapi.json", headers=GZIP)
    assert spec.json()["info"]["title"] == "MediaNest"  # httpx decodes it like a browser


async def test_answers_under_1_kb_are_sent_as_they_are(alice_client: httpx.AsyncClient) -> None:
    session = await raw_get(alice_client, "/api/auth/session", GZIP)
    assert session.status_code == 200
    assert len(session.content) < 1000
    assert "content-encoding" not in session.headers
    assert json.loads(session.content)["success"] is True


async def test_the_polled_dashboard_status_still_answers_in_plain_json(
    alice_client: httpx.AsyncClient,
) -> None:
    for _ in range(3):  # the first reads the session from the database, later ones not
        status = await raw_get(alice_client, "/api/dashboard/status", GZIP)
        assert status.status_code == 200
        body = (
            gzip.decompress(status.content)
            if "content-encoding" in status.headers
            else status.content
        )
        assert json.loads(body)["success"] is True


async def test_socket_io_long_polling_handshake_works_with_gzip_accepted(
    client: httpx.AsyncClient,
) -> None:
    opened = await client.get(
        "/socket.io/", params={"EIO": "4", "transport": "polling"}, headers=GZIP
    )
    assert opened.status_code == 200
    assert opened.text.startswith("0{")
    assert json.loads(opened.text[1:])["sid"]


async def test_a_body_over_the_limit_is_still_refused_with_the_413_envelope(
    app: MediaNestApp, alice_client: httpx.AsyncClient
) -> None:
    limit = app.ctx.settings.max_request_body_bytes
    refused = await alice_client.post(
        "/api/media/requests",
        content=b"x" * (limit + 1),
        headers={**GZIP, "Content-Type": "application/json"},
    )
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_an_answer_that_is_already_encoded_is_passed_through_untouched() -> None:
    packed = gzip.compress(b"{}" * 2000)

    async def already_encoded(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-encoding", b"gzip"),
            (b"content-length", str(len(packed)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": packed})

    transport = httpx.ASGITransport(app=compressed(already_encoded))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await raw_get(client, "/", GZIP)
    assert answer.content == packed  # compressed once, not twice
    assert gzip.decompress(answer.content) == b"{}" * 2000


async def test_a_body_sent_again_is_not_compressed_again_and_a_streamed_one_always_is(
    compressors_made: list[tuple[Any, ...]],
) -> None:
    pages = {"/a": b"<p>first page</p>" * 200, "/b": b"<p>second page</p>" * 200}

    async def answering(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        if scope["path"] == "/stream":  # two parts, no length: zlib's state spans them
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": pages["/a"], "more_body": True})
            await send({"type": "http.response.body", "body": pages["/b"]})
            return
        body = bytes(bytearray(pages[scope["path"]]))  # equal bytes, a new object each time
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    transport = httpx.ASGITransport(app=compressed(answering))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = [await raw_get(client, "/a", GZIP) for _ in range(3)]
        other = await raw_get(client, "/b", GZIP)
        streamed = [await raw_get(client, "/stream", GZIP) for _ in range(2)]
    assert {answer.content for answer in first} == {first[0].content}
    assert gzip.decompress(first[0].content) == pages["/a"]
    assert gzip.decompress(other.content) == pages["/b"]
    for answer in streamed:
        assert gzip.decompress(answer.content) == pages["/a"] + pages["/b"]
    assert len(compressors_made) == 1 + 1 + 2  # /a once, /b once, each stream


def _answer(status: int, headers: list[tuple[bytes, bytes]], *bodies: bytes) -> Any:
    """An ASGI app sending `headers` and then `bodies` (more_body on all but the last)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        for index, body in enumerate(bodies):
            more = index < len(bodies) - 1
            await send({"type": "http.response.body", "body": body, "more_body": more})

    return app


def _sized(kind: bytes, body: bytes, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *extra]


BIG = b'{"data": "' + b"x" * 3000 + b'"}'
SMALL = b'{"data": 1}'
HUGE = b'{"data": "' + b"y" * 140_000 + b'"}'  # Starlette compresses it in a worker thread
ANSWERS = {
    "big JSON": (200, _sized(b"application/json", BIG), BIG),
    "big JSON that varies already": (
        200,
        _sized(b"application/json", BIG, (b"vary", b"Cookie")),
        BIG,
    ),
    "big JSON with two Vary headers": (
        200,
        _sized(b"application/json", BIG, (b"vary", b"Cookie"), (b"vary", b"HX-Request")),
        BIG,
    ),
    "a page with a charset": (200, _sized(b"text/html; charset=utf-8", BIG), BIG),
    "a PNG": (200, _sized(b"image/png", BIG), BIG),
    "gRPC": (200, _sized(b"application/grpc+proto", BIG), BIG),
    "small JSON": (200, _sized(b"application/json", SMALL), SMALL),
    "already encoded": (
        200,
        _sized(b"application/json", BIG, (b"content-encoding", b"br")),
        BIG,
    ),
    "over the worker-thread size": (200, _sized(b"application/json", HUGE), HUGE),
    "partial": (206, _sized(b"application/json", BIG), BIG),
    "not modified": (304, [(b"etag", b'W/"1"'), (b"vary", b"Cookie")], b""),
    "no content": (204, [(b"x-ratelimit-limit", b"100")], b""),
    "sized, sent in parts": (200, _sized(b"application/json", BIG), BIG[:10], BIG[10:]),
    "streamed, no length": (200, [(b"content-type", b"text/plain")], BIG[:10], BIG[10:]),
}


async def _sent(
    app: Any, accept_encoding: bytes | None, method: str = "GET"
) -> list[dict[str, Any]]:
    headers = [(b"host", b"t")]
    if accept_encoding is not None:
        headers.append((b"accept-encoding", accept_encoding))
    scope = {"type": "http", "method": method, "path": "/", "headers": headers}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append({**message, "headers": list(message.get("headers", ()))})

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("name", list(ANSWERS))
@pytest.mark.parametrize("accept_encoding", [None, b"identity", b"br, deflate"])
async def test_a_client_that_does_not_accept_gzip_gets_what_starlettes_middleware_sends(
    name: str, accept_encoding: bytes | None
) -> None:
    """Answers that declare their length are decided when they start (no responder holds
    them); the messages are the same as Starlette's own middleware sends, Vary included."""
    status, headers, *bodies = ANSWERS[name]
    ours = await _sent(compressed(_answer(status, headers, *bodies)), accept_encoding)
    starlettes = GZipMiddleware(
        _answer(status, headers, *bodies),
        minimum_size=MINIMUM_SIZE,
        compresslevel=COMPRESS_LEVEL,
        exclude_content_types=EXCLUDED_CONTENT_TYPES,
    )
    expected = await _sent(starlettes, accept_encoding)
    assert ours == expected
    if name in ("big JSON", "big JSON that varies already", "a page with a charset"):
        assert dict(ours[0]["headers"])[b"vary"].endswith(b"Accept-Encoding")


async def test_a_head_request_varies_as_its_get_does() -> None:
    """A HEAD's answer declares the GET's length with an empty body: it gets the GET's
    Vary (Starlette's responder, deciding by the body it sees, left it out)."""
    head = _answer(200, _sized(b"application/json", BIG), b"")
    sent = await _sent(compressed(head), None, method="HEAD")
    assert dict(sent[0]["headers"])[b"vary"] == b"Accept-Encoding"
    assert sent[1]["body"] == b""


def _full_window_gzip(body: bytes) -> bytes:
    """What Starlette's responder makes of a whole body: zlib's full window and tables."""
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def _bodies_of_every_size() -> list[bytes]:
    rows = [
        {"id": n, "title": f"Film {n * 7919 % 1000}", "status": ("pending", "available")[n % 2]}
        for n in range(3000)
    ]
    json_rows = json.dumps(rows).encode()
    page = b"".join(
        b"<li class='row'>Item %d: %s</li>" % (n, b"ab" * (n % 13)) for n in range(3000)
    )
    noise = bytes((n * 2654435761 >> 13) & 0xFF for n in range(200_000))
    return [
        source[:size]
        for source in (json_rows, page, noise)
        for size in (1000, 1024, 1500, 1786, 1787, 2048, 4000, 8192, 30_000, 32_768, 100_000)
    ]


def _inflated_byte_by_byte(packed: bytes) -> bytes:
    """As a client reading from a socket decodes it: the gzip wrapper checked (CRC-32
    and length), one byte at a time."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = b"".join(decoder.decompress(packed[at : at + 1]) for at in range(len(packed)))
    assert decoder.eof and not decoder.unused_data
    return out + decoder.flush()


@pytest.mark.parametrize("body", _bodies_of_every_size(), ids=lambda body: str(len(body)))
def test_a_body_compressed_with_a_window_sized_to_it_loses_nothing(body: bytes) -> None:
    """Every earlier byte stays in reach of the sized window (262 bytes of lookahead
    included), so the answer is as small as with zlib's full window, but for the blocks
    that end it (a flush and an empty stored block, ~10 bytes)."""
    packed = CompressedBodies(COMPRESS_LEVEL).gzip(body)
    assert gzip.decompress(packed) == body
    assert len(packed) <= len(_full_window_gzip(body)) * 1.005 + 12


ENVELOPED = {
    "empty envelope": b"[]",
    "short envelope": b'"' + b"x" * 150 + b'"',  # shorter than the end searched, twice over
    "envelope": json.dumps([{"title": f"Film {n}"} for n in range(500)]).encode(),
    # The marker in the data too: the envelope's own (the last) is the one split at.
    "marker twice": b'{"x":{"y":1,"meta":{"timestamp":"2020-01-01T00:00:00Z"}}}' * 40,
}
NOT_ENVELOPED = {
    # The marker far from the end (not an envelope's): compressed whole.
    "marker far from the end": b'{"a":1,"meta":{"timestamp":"' + b"x" * 70_000 + b'"}}',
    "page": b"<p>no envelope</p>" * 100,
}


@pytest.mark.parametrize("name", [*ENVELOPED, *NOT_ENVELOPED])
def test_what_a_client_decodes_is_the_body_crc_and_length_checked(name: str) -> None:
    """An envelope sent again at another time reuses what its first time compressed."""
    bodies = CompressedBodies(COMPRESS_LEVEL)
    made = (lambda: envelope_json(ENVELOPED[name])) if name in ENVELOPED else None
    sent = [made() for _ in range(2)] if made else [NOT_ENVELOPED[name]] * 2
    for body in sent:
        packed = bodies.gzip(body)
        assert gzip.decompress(packed) == body
        assert _inflated_byte_by_byte(packed) == body
    assert len(bodies) == 1
    if made:
        assert sent[0] != sent[1]  # (each its own time)


async def test_a_whole_body_is_compressed_with_a_window_sized_to_it(
    compressors_made: list[tuple[Any, ...]],
) -> None:
    body = json.dumps([{"id": n, "title": f"Film {n}"} for n in range(50)]).encode()
    assert 1024 < len(body) + 262 < 2048
    app = compressed(_answer(200, _sized(b"application/json", body), body))
    sent = await _sent(app, b"gzip, deflate, br, zstd")
    headers = dict(sent[0]["headers"])
    # A 2 kB window (11 bits) and a hash table of 2^(5 + 7) entries, not 32 kB and 2^15.
    assert compressors_made == [(COMPRESS_LEVEL, zlib.DEFLATED, -11, 5)]
    assert gzip.decompress(sent[1]["body"]) == body
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"content-length"] == str(len(sent[1]["body"])).encode()


@pytest.mark.parametrize("name", list(ANSWERS))
async def test_a_client_that_accepts_gzip_gets_starlettes_answer_in_fewer_steps(
    name: str,
) -> None:
    """The same messages as Starlette's own middleware sends to a client accepting gzip,
    Content-Length aside, with a body that decodes to the same bytes."""
    status, headers, *bodies = ANSWERS[name]
    ours = await _sent(compressed(_answer(status, headers, *bodies)), b"gzip")
    starlettes = GZipMiddleware(
        _answer(status, headers, *bodies),
        minimum_size=MINIMUM_SIZE,
        compresslevel=COMPRESS_LEVEL,
        exclude_content_types=EXCLUDED_CONTENT_TYPES,
    )
    expected = await _sent(starlettes, b"gzip")
    assert len(ours) == len(expected)

    def comparable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        shown = []
        encoded = any(
            name == b"content-encoding" and value == b"gzip"
            for name, value in messages[0]["headers"]
        )
        for message in messages:
            message = dict(message)
            message["headers"] = [h for h in message["headers"] if h[0] != b"content-length"]
            if "body" in message and encoded and message["type"] == "http.response.body":
                message["body"] = b""  # compared decoded below
            shown.append(message)
        return shown

    assert comparable(ours) == comparable(expected)
    ours_body = b"".join(message.get("body", b"") for message in ours[1:])
    expected_body = b"".join(message.get("body", b"") for message in expected[1:])
    ours_headers = dict(ours[0]["headers"])
    if ours_headers.get(b"content-encoding") == b"gzip":
        assert gzip.decompress(ours_body) == gzip.decompress(expected_body)
        if b"content-length" in ours_headers:
            assert int(ours_headers[b"content-length"]) == len(ours_body)
    else:
        assert ours_body == expected_body
        assert ours == expected


async def test_an_envelope_is_compressed_once_whatever_time_it_says(
    compressors_made: list[tuple[Any, ...]],
) -> None:
    """An envelope says when it was sent (to the microsecond): what comes before the time
    is compressed once, the time and the envelope's end are sent as they are."""
    data = json.dumps([{"id": n, "title": f"Film {n}"} for n in range(60)]).encode()
    answers = [envelope_json(data) for _ in range(3)]
    answers.append(answers[0].replace(b'"Film 1"', b'"Film one"'))  # changed: again
    assert len(set(answers)) == len(answers)  # (each its own time)
    app = compressed(_answer(200, [(b"content-type", b"application/json")], b""))
    got = []
    for answer in answers:
        app.app = _answer(200, _sized(b"application/json", answer), answer)  # type: ignore[attr-defined]
        got.append(gzip.decompress((await _sent(app, b"gzip"))[1]["body"]))
    assert got == answers
    assert len(compressors_made) == 2


async def test_a_head_request_from_a_client_accepting_gzip_gets_what_starlette_sends() -> None:
    """Its body is empty, so nothing is compressed; Starlette adds no Vary either."""
    head = _answer(200, _sized(b"application/json", BIG), b"")
    starlettes = GZipMiddleware(
        _answer(200, _sized(b"application/json", BIG), b""),
        minimum_size=MINIMUM_SIZE,
        compresslevel=COMPRESS_LEVEL,
        exclude_content_types=EXCLUDED_CONTENT_TYPES,
    )
    ours = await _sent(compressed(head), b"gzip", method="HEAD")
    assert ours == await _sent(starlettes, b"gzip", method="HEAD")
    assert dict(ours[0]["headers"])[b"content-length"] == str(len(BIG)).encode()
