"""Serve an ASGI app with uvicorn on a free loopback port in a background thread; wait
for a served process to answer its health check; list what a real `serve` loaded."""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from medianest.cli import SERVED_OPTIONS
from tests.support.http import sync_http_client

T = TypeVar("T")

# free_port() takes ports from here up to the ephemeral range (see there).
FREE_PORTS_FROM = 20000


def serve_then(report: str) -> str:
    """A script that runs the real `serve` command through the console script's entry;
    a thread waits for the first 200 on /api/health, runs `report` (which writes what it
    found to the open file `handle`) and stops the server the way Ctrl-C does.
    Arguments: the port, the output file."""
    return textwrap.dedent(
        """
        import http.client, json, os, signal, sys, threading, time

        port, out = sys.argv[1], sys.argv[2]

        def watch():
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=1)
                    conn.request("GET", "/api/health")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            with open(out, "w") as handle:
        {report}
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=watch, daemon=True).start()
        sys.argv = ["medianest", "serve", "--port", port]
        from medianest.__main__ import main
        main()
        """
    ).replace("{report}", textwrap.indent(textwrap.dedent(report).strip(), " " * 8))


# The names of the modules loaded by the first 200 (not the blocked ones), in the order
# they were imported (tests/cli/test_serve_imports.py, bench/memory_floor.py).
SERVE_AND_LIST_MODULES = serve_then(
    "json.dump([n for n, m in list(sys.modules.items()) if m is not None], handle)"
)


def loopback_socket() -> socket.socket:
    """A socket bound to a port of 127.0.0.1 the system picked."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A port free now, for a server that must bind it itself (another process) or for a
    URL nothing is to answer at. Taken below the kernel's ephemeral range: a port the
    system picks for `bind(("127.0.0.1", 0))` (every simulator and listener here) or for an
    outgoing connection is never one of these, so another test running meanwhile cannot be
    handed this port before its server binds it, and answer in its place."""
    low, _ = _ephemeral_ports()
    if low <= FREE_PORTS_FROM + 1000:
        with loopback_socket() as sock:  # an unusual range: the system's pick, as before
            return int(sock.getsockname()[1])
    for _ in range(200):
        port = random.randrange(FREE_PORTS_FROM, low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {FREE_PORTS_FROM}-{low}")


def wait_for_health(
    url: str,
    *,
    process: subprocess.Popen[Any] | None = None,
    timeout: float = 90.0,
    interval: float = 0.2,
) -> bool:
    """True once `url`/api/health answers 200; False when `process` exits or `timeout`
    passes first. One client for every try: `httpx.get` builds a client and its TLS
    context each time (~25 ms of CPU), paid a hundred times by a slow start under load."""
    deadline = time.monotonic() + timeout
    with sync_http_client(base_url=url, timeout=2) as http:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                return False
            try:
                if http.get("/api/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(interval)
    return False


class ServedApp:
    """`with ServedApp(app)` from plain code; `async with` from a test's event loop, which
    starts and stops it in a thread: an in-process app on the same SQLite file keeps
    running on that loop, and a loop blocked mid-transaction holds the write lock the
    served app needs (its stop then waited out every timeout, 10 s a test)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        # What uvicorn listens on: bound here unless a port is asked for (None: uvicorn
        # binds `port` itself). A port found free and bound only later was taken meanwhile
        # by another test process (a CI run failed with "address already in use").
        self.sockets: list[socket.socket] | None = None
        if port is None:
            bound = loopback_socket()
            port = int(bound.getsockname()[1])
            self.sockets = [bound]
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
            **SERVED_OPTIONS,  # as `medianest serve` (its asyncio loop: uvloop in a
            # non-main thread has crashed the test process)
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        """`uvicorn.Server.run`, keeping the loop the app runs on (for `call`)."""

        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=self.sockets)

        with asyncio.Runner(loop_factory=self.server.config.get_loop_factory()) as runner:
            runner.run(serve())

    def call(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60.0) -> T:
        """Run a coroutine on the served app's own loop (its engine, its Redis and its
        sockets belong to that loop), as one of its background loops would, and wait."""
        assert self.loop is not None, "the app is not being served"
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout)

    def start(self, timeout: float = 20.0) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the app failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not start in time")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        for bound in self.sockets or ():
            bound.close()  # (already closed by uvicorn unless it failed to start)

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> ServedApp:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)
