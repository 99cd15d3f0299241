"""Answer helpers of the Plex simulator: MediaContainer bodies, paging and Plex-style errors."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from medianest.simulators.base import JSONDict
from medianest.simulators.plex_library import sort_key


def container(items: list[JSONDict] | None = None, key: str = "Metadata", **extra: Any) -> JSONDict:
    """`{"MediaContainer": {size, ..., key: items}}`."""
    body: JSONDict = {"size": len(items or []), **extra}
    if items is not None:
        body[key] = items
    return {"MediaContainer": body}


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
    return JSONResponse(
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
