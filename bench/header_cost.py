"""What MediaNest's response headers cost by themselves: one bare Starlette endpoint answering
a pre-encoded JSON body, served as `medianest serve` serves (uvicorn, asyncio's loop, one
process), with Starlette's own two headers, with the 11 more that a kept
`/api/dashboard/status` answer carries (rate limit, caching, security, correlation id), and
with those and a body of the dashboard status's size; bench/bare_app.py's endpoint (the
benchmark's bare Starlette baseline) beside them. Each round measures the four one after
the other at the same concurrency.

    python -m bench.header_cost [seconds per cell (4)] [rounds (3)] [connections (50)]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.bare_app import PAYLOAD
from bench.bare_app import status as bare_status
from bench.load import run_load
from bench.processes import bare_server

BODY = json.dumps(PAYLOAD, separators=(",", ":")).encode()
DASHBOARD_SIZED_BODY = b"x" * 761  # a kept dashboard status answer's body, 2026-12-05
# The headers a kept dashboard status answer carries besides content-length and
# content-type (values of the same length as MediaNest's: core/middleware.py,
# core/ratelimit.py, core/conditional.py).
MEDIANEST_HEADERS = {
    "x-ratelimit-limit": "100",
    "x-ratelimit-remaining": "99",
    "x-ratelimit-reset": "60",
    "vary": "Cookie, Authorization",
    "etag": 'W/"0123456789abcdef0123"',
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data: https://image.tmdb.org; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self' ws: wss:; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "x-correlation-id": "0123456789abcdef0123456789abcdef",
}


async def plain(_request: Request) -> Response:
    return Response(BODY, media_type="application/json")


async def with_headers(_request: Request) -> Response:
    return Response(BODY, media_type="application/json", headers=MEDIANEST_HEADERS)


async def with_headers_and_body(_request: Request) -> Response:
    return Response(DASHBOARD_SIZED_BODY, media_type="application/json", headers=MEDIANEST_HEADERS)


app = Starlette(
    routes=[
        Route("/plain", plain),
        Route("/headers", with_headers),
        Route("/headers-and-body", with_headers_and_body),
        Route("/bare", bare_status),
    ]
)
CELLS = ("/plain", "/headers", "/headers-and-body", "/bare")


def main(argv: list[str]) -> None:
    seconds = float(argv[0]) if argv else 4.0
    rounds = int(argv[1]) if len(argv) > 1 else 3
    connections = int(argv[2]) if len(argv) > 2 else 50
    with tempfile.TemporaryDirectory() as tmp:
        server = bare_server(Path(tmp) / "server.log", app="bench.header_cost:app").start("/plain")
        try:
            rows = []
            for _ in range(rounds):
                rates = {
                    cell: run_load(
                        server.url + cell, connections=connections, seconds=seconds, headers={}
                    ).requests_per_second
                    for cell in CELLS
                }
                rows.append(
                    {
                        **{cell: round(rate) for cell, rate in rates.items()},
                        "headers_over_plain": round(rates["/headers"] / rates["/plain"], 3),
                        "headers_and_body_over_plain": round(
                            rates["/headers-and-body"] / rates["/plain"], 3
                        ),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
