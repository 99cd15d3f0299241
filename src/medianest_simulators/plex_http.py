"""Answer helpers of the Plex simulator: MediaContainer bodies, paging and Plex-style errors.

Handlers build every answer as the JSON form of a MediaContainer; `answer()` is the one
place that renders it, as XML (what Plex Media Server sends by default) or as JSON (when
the request's Accept asks for application/json), so both carry the same data."""

from __future__ import annotations

import struct
import zlib
from typing import Any
from xml.etree import ElementTree

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from medianest_simulators.base import JSONDict


def container(items: list[JSONDict] | None = None, key: str = "Metadata", **extra: Any) -> JSONDict:
    """`{"MediaContainer": {size, ..., key: items}}`."""
    body: JSONDict = {"size": len(items or []), **extra}
    if items is not None:
        body[key] = items
    return {"MediaContainer": body}


# In XML, Plex names a `Metadata` entry's element after its kind; other lists keep their key.
XML_TAG_BY_TYPE = {
    "movie": "Video",
    "episode": "Video",
    "clip": "Video",
    "show": "Directory",
    "season": "Directory",
    "collection": "Directory",
    "playlist": "Playlist",
    "artist": "Directory",
    "album": "Directory",
    "track": "Track",
}
XML_CONTENT_TYPE = "text/xml;charset=utf-8"


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "").lower()


def without_accept(request: Request) -> Request:
    """The request as it arrives through a proxy that drops the Accept header."""
    scope = dict(request.scope)
    scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"accept"]
    return Request(scope, request.receive)


def answer(
    request: Request,
    body: JSONDict,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`body` (`{"MediaContainer": {...}}`) as JSON or XML, as the request asked."""
    if wants_json(request):
        return JSONResponse(body, status_code=status, headers=headers)
    return Response(
        media_container_xml(body), status_code=status, headers=headers, media_type=XML_CONTENT_TYPE
    )


def media_container_xml(body: JSONDict) -> str:
    """The XML form: scalars become attributes (booleans 1/0), lists of objects child
    elements named after their key (`Metadata` entries after their type)."""
    root = _element("MediaContainer", body["MediaContainer"])
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode"
    )


def _element(tag: str, data: JSONDict) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    for name, value in data.items():
        if isinstance(value, list):
            for child in value:
                child_tag = _metadata_tag(child) if name == "Metadata" else name
                element.append(_element(child_tag, child))
        elif isinstance(value, dict):
            element.append(_element(name, value))
        elif isinstance(value, bool):
            element.set(name, "1" if value else "0")
        elif value is not None:
            element.set(name, str(value))
    return element


def _metadata_tag(entry: JSONDict) -> str:
    """A photo album and a photo are both `type="photo"`: the album lists children
    (`Directory`, plexapi photo.py Photoalbum), the photo is a `Photo`."""
    if "type" not in entry:  # a show's "All episodes" entry (plex_browse.all_episodes)
        return "Directory"
    if entry.get("type") == "photo":
        return "Directory" if str(entry.get("key", "")).endswith("/children") else "Photo"
    return XML_TAG_BY_TYPE.get(str(entry.get("type")), "Video")


def not_found() -> Response:
    return HTMLResponse(
        "<html><head><title>Not Found</title></head><body><h1>404 Not Found</h1></body></html>",
        status_code=404,
    )


def bad_request(message: str = "Bad Request") -> Response:
    return HTMLResponse(f"<html><body><h1>400 {message}</h1></body></html>", status_code=400)


def unauthorized() -> Response:
    """What Plex answers to a bad token (or a shared user trying an owner-only call)."""
    return HTMLResponse(
        "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1>"
        "</body></html>",
        status_code=401,
    )


def paged(request: Request, rows: list[JSONDict], **extra: Any) -> Response:
    """One page of `rows`; X-Plex-Container-Start/Size are read from the query or headers."""

    def param(name: str) -> int | None:
        raw = request.query_params.get(name) or request.headers.get(name)
        return int(raw) if raw and raw.lstrip("-").isdigit() else None

    start = max(param("X-Plex-Container-Start") or 0, 0)
    size = param("X-Plex-Container-Size")
    page = rows[start:] if size is None else rows[start : start + max(size, 0)]
    body = container(page, totalSize=len(rows), offset=start, **extra)
    return answer(
        request,
        body,
        headers={
            "X-Plex-Container-Total-Size": str(len(rows)),
            "X-Plex-Container-Start": str(start),
        },
    )


def sorted_rows(request: Request, rows: list[JSONDict]) -> list[JSONDict]:
    """Apply `sort=<field>[:asc|:desc]`."""
    sort = request.query_params.get("sort")
    if sort:
        field_name, _, direction = sort.partition(":")
        rows = sorted(rows, key=sort_key(field_name), reverse=direction == "desc")
    return rows


def tiny_png(seed: int, width: int = 2, height: int = 3) -> bytes:
    """A real (tiny) PNG whose colour depends on `seed`."""
    r, g, b = (seed * 67) % 256, (seed * 131) % 256, (seed * 199) % 256
    row = b"\x00" + bytes((r, g, b)) * width
    raw = row * height

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def sort_key(field_name: str) -> Any:
    """A key function for `sort=<field>` on item JSON."""

    def key(data: JSONDict) -> Any:
        value = data.get(field_name)
        if field_name in ("titleSort", "title"):
            return str(data.get("titleSort") or data.get("title") or "").lower()
        return (value is None, value if value is not None else 0)

    return key
