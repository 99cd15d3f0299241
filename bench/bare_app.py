"""The baseline: a bare Starlette app answering one small JSON envelope, no middleware."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PAYLOAD = {
    "success": True,
    "data": [{"service": "plex", "status": "online", "responseTimeMs": 12.5}],
    "meta": {"timestamp": "2024-01-01T00:00:00+00:00", "version": "1.0"},
}


async def status(_request: Request) -> JSONResponse:
    return JSONResponse(PAYLOAD)


app = Starlette(routes=[Route("/bare", status)])
