"""What gzip and ETag/304 (core/compression.py, core/conditional.py) cost per answer,
in-process: a small answer (sent as it is), a 40 kB page (gzipped, tagged) — a new
body each time, and the same body again (a kept answer: compressed once) — and its
revalidation (304), a 12 kB list in its envelope (the same rows, the envelope's time
new each answer, as a kept answer is sent), each through both layers against the same app without them (the
baseline, measured in the same run, best of seven rounds).

    python -m bench.edge_layers [answers per round]
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.core.compression import compressed
from medianest.core.conditional import ConditionalGetMiddleware, body_etag
from medianest.core.envelope import envelope_json

SMALL = b'{"success":true,"data":[' + b'{"service":"plex","status":"up"},' * 20 + b"{}]}"
PAGE = b"<!DOCTYPE html><html><body>" + b"<tr><td>Video</td><td>done</td></tr>\n" * 1100
# 100 rows as a list answer has them: ids, a title, a state, a time (made the same way
# each run: a fixed seed).
_ROWS = random.Random(25)
LIST = json.dumps(
    [
        {
            "id": str(uuid.UUID(int=_ROWS.getrandbits(128))),
            "title": f"Film {_ROWS.randrange(100_000)}",
            "status": _ROWS.choice(["pending", "available", "failed"]),
            "userId": str(uuid.UUID(int=_ROWS.getrandbits(128))),
            "createdAt": f"2026-11-{_ROWS.randrange(10, 29)}T{_ROWS.randrange(10, 24)}:00:00Z",
        }
        for _ in range(100)
    ]
).encode()
ROUNDS = 7


def answering(body: bytes, kind: bytes, sent_as: str = "same") -> ASGIApp:
    """Answers `body`: the `same` each time, `new` (a number appended, different every
    answer) or `enveloped` (in the envelope, which says when it was sent)."""
    answered = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal answered
        answered += 1
        if sent_as == "enveloped":
            sent = envelope_json(body)
        else:
            sent = body + b"<!-- %d -->" % answered if sent_as == "new" else body
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
        "small JSON (727 B)": (SMALL, b"application/json", fetch, "same"),
        "list (12 kB) in its envelope, its time new": (
            LIST,
            b"application/json",
            fetch,
            "enveloped",
        ),
        "page (40 kB), a new body each time": (PAGE, b"text/html", fetch, "new"),
        "page (40 kB), the same body again": (PAGE, b"text/html", fetch, "same"),
        "page revalidated (304)": (
            PAGE,
            b"text/html",
            [*fetch, (b"if-none-match", body_etag(PAGE))],
            "same",
        ),
    }
    results = {}
    for name, (body, kind, headers, sent_as) in cases.items():
        app = answering(body, kind, sent_as)
        bare = await per_answer_us(app, headers, answers)
        layered = await per_answer_us(compressed(ConditionalGetMiddleware(app)), headers, answers)
        results[name] = {"bare_us": round(bare, 1), "with_layers_us": round(layered, 1)}
    return results


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(json.dumps(asyncio.run(main(count)), indent=2))
