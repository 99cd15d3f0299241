"""Instructions per request, counted by valgrind's callgrind: what the dashboard status
costs MediaNest's code and its frameworks, against bare Starlette and bare FastAPI, in
a figure that does not move with the machine's load (the wall-clock benchmarks' ratios
move by a third from one minute to the next on a shared machine).

    python -m bench.request_instructions [requests per variant, default 1000]

Each variant runs in its own process under `valgrind --tool=callgrind`, with counting
off (`--instr-atstart=no`) until the app has started, signed in and answered 300
unmeasured requests; then `callgrind_control` turns it on, the process makes the
requests, in-process (the ASGI app called with a GET's scope, as uvicorn calls it, no
socket), and ends at once. Instructions counted / requests made is the figure. The
variants: bare Starlette (bench/bare_app.py), bare FastAPI answering the same JSON
(bench/bare_fastapi.py), bare FastAPI answering a prebuilt `Response` (a route's floor in
FastAPI: no serialization), and `GET /api/dashboard/status` signed in, on the embedded
default (SQLite, no Redis), through MediaNest's whole ASGI app and through its FastAPI
app alone (the layers ahead of FastAPI left out), logging as `medianest serve` logs
(JSON lines at INFO, to /dev/null here).

Not counted in-process: uvicorn's own work per request (parsing, the socket, the event
loop's turns), which is not the same for every app: it writes and checks every header
byte by byte. `--served` counts it too: bare Starlette, bare FastAPI and `medianest serve`
(embedded default, logging at WARNING as `bench.whole_app` serves it) each run under
callgrind as the benchmark serves them; one keep-alive connection sends the requests.
Counting is on for the requests, dumped, left on for as long again with no request and
dumped again: what the server's background tasks did meanwhile (timers run on the
clock, and the clock runs ~50 times slower under valgrind) is the second dump, taken off
the first. Served counts predict `bench.whole_app`'s ratios (docs/performance.md).

    python -m bench.request_instructions --served [requests per variant]

Needs valgrind (Debian package `valgrind`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import backends
from bench.backends import BOOTSTRAP_PASSWORD
from bench.processes import bare_server, medianest_server

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 300
STATUS = "/api/dashboard/status"
Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _scope(path: str, cookie: str) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }


async def _request(app: Asgi, scope: dict[str, Any]) -> int:
    """One GET through `app`; its status."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app({**scope, "headers": list(scope["headers"]), "state": {}}, receive, send)
    return status


async def _medianest_status(whole: bool, count: int, ready: Path, go: Path) -> None:
    import httpx

    from medianest.app import create_app
    from medianest.core.logging import configure_logging
    from medianest.settings import Settings

    configure_logging(level="INFO", fmt="json")
    app = create_app(Settings(), housekeeping=False)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            cookie = (await backends.sign_in_with(client))[1]
        await _measured(app if whole else app.fastapi, _scope(STATUS, cookie), count, ready, go)


async def _measured(app: Asgi, scope: dict[str, Any], count: int, ready: Path, go: Path) -> None:
    for _ in range(WARM_UP):
        status = await _request(app, scope)
        if status != 200:
            raise SystemExit(f"the warm-up answered {status}")
    ready.write_text(str(os.getpid()))
    while not go.exists():
        await asyncio.sleep(0.05)
    for _ in range(count):
        await _request(app, scope)
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown in the count


def _bare_fastapi_response() -> Asgi:
    from fastapi import FastAPI, Response

    from bench.bare_app import PAYLOAD

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    body = json.dumps(PAYLOAD).encode()

    @app.get("/bare")
    async def status() -> Response:
        return Response(body, media_type="application/json")

    return app


def _child(variant: str, count: int, ready: Path, go: Path) -> None:
    """Runs under callgrind: one variant's requests."""
    if variant in ("medianest", "medianest-fastapi"):
        asyncio.run(_medianest_status(variant == "medianest", count, ready, go))
        return
    if variant == "starlette":
        from bench.bare_app import app as bare_starlette

        app: Asgi = bare_starlette
    elif variant == "fastapi":
        from bench.bare_fastapi import app as bare_fastapi

        app = bare_fastapi
    else:
        app = _bare_fastapi_response()
    asyncio.run(_measured(app, _scope("/bare", ""), count, ready, go))


VARIANTS = {
    "starlette": "bare Starlette",
    "fastapi": "bare FastAPI (a dict, serialized)",
    "fastapi-response": "bare FastAPI (a prebuilt Response)",
    "medianest-fastapi": f"MediaNest {STATUS}, its FastAPI app alone",
    "medianest": f"MediaNest {STATUS}, the whole app",
}


def count_instructions(variant: str, count: int) -> int:
    """Instructions per request of `variant`, counted in a process of its own."""
    work = Path(tempfile.mkdtemp(prefix="mn-instructions-"))
    ready, go = work / "ready", work / "go"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "MEDIANEST_DATA_DIR": str(work / "data"),
        "MEDIANEST_ADMIN_PASSWORD": BOOTSTRAP_PASSWORD,
        # Raised for the count, never disabled (as in every benchmark).
        "MEDIANEST_RATE_LIMIT_API_PER_MINUTE": str(10**9),
        "MEDIANEST_PLEX_TV_URL": "http://127.0.0.1:9",
        "MEDIANEST_PLEX_APP_URL": "http://127.0.0.1:9",
    }
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={work / 'callgrind.out'}",
        sys.executable,
        "-m",
        "bench.request_instructions",
        "--child",
        variant,
        str(count),
        str(ready),
        str(go),
    ]
    log = work / "valgrind.log"
    try:
        with log.open("w") as output:
            child = subprocess.Popen(command, env=env, stdout=output, stderr=output, cwd=ROOT)
            while not ready.exists():
                if child.poll() is not None:
                    raise RuntimeError(
                        f"{variant} ended before counting: {log.read_text()[-2000:]}"
                    )
                time.sleep(0.2)
            pid = ready.read_text()
            subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
            go.touch()
            child.wait(timeout=1800)
        found = re.search(r"Collected : (\d+)", log.read_text())
        if found is None:
            raise RuntimeError(f"no count from callgrind for {variant}")
        return int(found.group(1)) // count
    finally:
        shutil.rmtree(work, ignore_errors=True)


SERVED_VARIANTS = {
    "starlette": "bare Starlette, served",
    "fastapi": "bare FastAPI (a dict, serialized), served",
    "medianest": f"MediaNest {STATUS}, `medianest serve`",
}


def _get(connection: socket.socket, path: str, cookie: str) -> int:
    """One keep-alive GET (as wrk sends it); its status, once the whole answer is read."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: wrk\r\nAccept: */*\r\n"
    if cookie:
        request += f"Cookie: {cookie}\r\n"
    connection.sendall(request.encode() + b"\r\n")
    received = b""
    while b"\r\n\r\n" not in received:
        received += _received(connection)
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    if length is None:
        raise RuntimeError(f"an answer without a length: {head!r}")
    while len(body) < int(length.group(1)):
        body += _received(connection)
    return int(head.split(b" ", 2)[1])


def _received(connection: socket.socket) -> bytes:
    """What the server sent next; an error, not an endless wait, if it closed."""
    data = connection.recv(65536)
    if not data:
        raise RuntimeError("the server closed the connection mid-answer")
    return data


def _dumped_instructions(dump: Path) -> int:
    found = re.search(r"^summary: (\d+)", dump.read_text(errors="replace"), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no summary in {dump}")
    return int(found.group(1))


def count_served(variant: str, count: int) -> tuple[int, int]:
    """(instructions per request of `variant` served, uvicorn included, its background
    work taken off; that background work's share, per request, that was taken off)."""
    work = Path(tempfile.mkdtemp(prefix="mn-served-instructions-"))
    out = work / "callgrind.out"
    prefix = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    log = work / "server.log"
    if variant == "medianest":
        backend = backends.embedded(work)
        env = {**backend.env, "MEDIANEST_LOG_LEVEL": "WARNING"}
        server = medianest_server("medianest", env, log, prefix=prefix)
        ready, path = "/api/health", STATUS
    else:
        app = "bench.bare_app:app" if variant == "starlette" else "bench.bare_fastapi:app"
        server = bare_server(log, app=app, prefix=prefix)
        ready = path = "/bare"
    try:
        server.start(ready, timeout=600)
        assert server.process is not None
        pid = str(server.process.pid)
        cookie = backends.sign_in(server.url)[1] if variant == "medianest" else ""
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            for _ in range(WARM_UP):
                if (status := _get(connection, path, cookie)) != 200:
                    raise SystemExit(f"the warm-up answered {status}")
            control = ["callgrind_control"]
            subprocess.run([*control, "-i", "on", pid], check=True, capture_output=True)
            started = time.perf_counter()
            for _ in range(count):
                _get(connection, path, cookie)
            subprocess.run([*control, "-d", pid], check=True, capture_output=True)
            time.sleep(time.perf_counter() - started)
            subprocess.run([*control, "-d", pid], check=True, capture_output=True)
            subprocess.run([*control, "-i", "off", pid], check=True, capture_output=True)
        requests, idle = (_dumped_instructions(Path(f"{out}.{n}")) for n in (1, 2))
        return (requests - idle) // count, idle // count
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _write_results(name: str, results: dict[str, Any]) -> None:
    folder = ROOT / "bench" / "results"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps(results, indent=2))


def _served(count: int) -> None:
    counted = {variant: count_served(variant, count) for variant in SERVED_VARIANTS}
    starlette = counted["starlette"][0]
    print(f"instructions per request served ({count} requests per variant, callgrind)\n")
    print("| variant | instructions | background taken off | bare Starlette ÷ this |")
    print("|---|---|---|---|")
    for variant, label in SERVED_VARIANTS.items():
        figure, background = counted[variant]
        print(f"| {label} | {figure:,} | {background:,} | {starlette / figure:.3f} |")
    _write_results(
        "request_instructions_served.json",
        {
            "requests_per_variant": count,
            "instructions": {variant: figure for variant, (figure, _) in counted.items()},
            "background_taken_off": {variant: bg for variant, (_, bg) in counted.items()},
        },
    )


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--child":
        _child(argv[1], int(argv[2]), Path(argv[3]), Path(argv[4]))
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    if argv and argv[0] == "--served":
        _served(int(argv[1]) if len(argv) > 1 else 2000)
        return
    count = int(argv[0]) if argv else 1000
    counted = {variant: count_instructions(variant, count) for variant in VARIANTS}
    starlette, fastapi = counted["starlette"], counted["fastapi"]
    print(f"instructions per request ({count} requests per variant, callgrind)\n")
    print("| variant | instructions | ÷ bare Starlette | ÷ bare FastAPI |")
    print("|---|---|---|---|")
    for variant, label in VARIANTS.items():
        figure = counted[variant]
        print(f"| {label} | {figure:,} | {figure / starlette:.2f} | {figure / fastapi:.2f} |")
    _write_results(
        "request_instructions.json", {"requests_per_variant": count, "instructions": counted}
    )


if __name__ == "__main__":
    main(sys.argv[1:])
