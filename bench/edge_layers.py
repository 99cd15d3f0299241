"""What gzip and ETag/304 (core/compression.py, core/conditional.py) cost per answer,
in-process: a small answer (sent as it is), a 40 kB page (gzipped, tagged) — a new
body each time, and the same body again (a kept answer: compressed once) — and its
revalidation (304), each through both layers against the same app without them (the
baseline, measured in the same run, best of seven rounds).

    python -m bench.edge_layers [answers per round]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.core.compression import compressed
from medianest.core.conditional import ConditionalGetMiddleware, body_etag

SMALL = b'{"success":true,"data":[' + b'{"service":"plex","status":"up"},' * 20 + b"{}]}"
PAGE = b"<!DOCTYPE html><html><body>" + b"<tr><td>Video</td><td>done</td></tr>\n" * 1100
ROUNDS = 7


def answering(body: bytes, kind: bytes, *, new_each_time: bool = False) -> ASGIApp:
    """Answers `body`; `new_each_time`: with a number appended, different every answer."""
    answered = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal answered
        answered += 1
        sent = body + b"<!-- %d -->" % answered if new_each_time else body
        length = str(len(sent)).encode()
        headers = [(b"content-type", kind), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": sent})

    return app


async def per_answer_us(app: ASGIApp, headers: list[tuple[bytes, bytes]], answers: int) -> float:
    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        return None

    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(answers):
            scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
            await app(scope, receive, send)
        best = min(best, (time.perf_counter() - started) / answers * 1e6)
    return best


async def main(answers: int) -> dict[str, dict[str, float]]:
    fetch = [(b"accept-encoding", b"gzip, deflate, br"), (b"accept", b"*/*")]
    cases = {
        "small JSON (727 B)": (SMALL, b"application/json", fetch, False),
        "page (40 kB), a new body each time": (PAGE, b"text/html", fetch, True),
        "page (40 kB), the same body again": (PAGE, b"text/html", fetch, False),
        "page revalidated (304)": (
            PAGE,
            b"text/html",
            [*fetch, (b"if-none-match", body_etag(PAGE))],
            False,
        ),
    }
    results = {}
    for name, (body, kind, headers, new_each_time) in cases.items():
        app = answering(body, kind, new_each_time=new_each_time)
        bare = await per_answer_us(app, headers, answers)
        layered = await per_answer_us(compressed(ConditionalGetMiddleware(app)), headers, answers)
        results[name] = {"bare_us": round(bare, 1), "with_layers_us": round(layered, 1)}
    return results


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(json.dumps(asyncio.run(main(count)), indent=2))
