"""Run an ASGI app on a loopback socket in a background thread, with fault injection.

Shared by every simulator: `SimulatorServer` (uvicorn on 127.0.0.1), `FaultState`
(slow/hang/error/malformed/unauthorized answers) and `RequestLog` (what was received).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, Self, cast, get_args

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FaultMode = Literal["slow", "hang", "error", "malformed", "unauthorized", "unavailable"]
FAULT_MODES: tuple[str, ...] = get_args(FaultMode)
CONTROL_PREFIX = "/__sim/"
# Headers worth keeping in the request log (lower case); everything else is dropped.
LOGGED_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "range",
    "user-agent",
    "x-api-key",
    "x-api-user",
    "x-plex-client-identifier",
    "x-plex-container-size",
    "x-plex-container-start",
    "x-plex-product",
    "x-plex-token",
)
HANG_LIMIT_SECONDS = 3600.0
MALFORMED_BODY = b'{"not json'


class FaultState:
    """The fault a simulator currently injects; safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mode: FaultMode | None = None
        self.delay = 0.0
        self.path_prefix: str | None = None
        self.remaining: int | None = None

    def set(
        self,
        mode: str | None,
        *,
        delay: float = 0.0,
        path_prefix: str | None = None,
        times: int | None = None,
    ) -> None:
        """Inject `mode` under `path_prefix` (everywhere when None), `times` times or forever."""
        if mode is not None and mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {FAULT_MODES}")
        with self._lock:
            self.mode = cast(FaultMode | None, mode)
            self.delay = float(delay)
            self.path_prefix = path_prefix or None
            self.remaining = times

    def clear(self) -> None:
        """Answer normally again."""
        self.set(None)

    def take(self, path: str) -> tuple[FaultMode, float] | None:
        """The fault to apply to a request for `path`, consuming one use of a counted fault."""
        with self._lock:
            if self.mode is None or path.startswith(CONTROL_PREFIX):
                return None
            if self.path_prefix is not None and not path.startswith(self.path_prefix):
                return None
            fault = (self.mode, self.delay)
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.mode, self.delay, self.path_prefix, self.remaining = None, 0.0, None, None
            return fault

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self.mode,
                "delay": self.delay,
                "pathPrefix": self.path_prefix,
                "times": self.remaining,
            }


@dataclass
class RecordedRequest:
    """One request a simulator received (control calls under /__sim/ are not recorded)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    at: float = field(default_factory=time.time)
    status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "at": self.at,
            "status": self.status,
        }


class RequestLog:
    """Thread-safe log of received requests, so tests can count retries and calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def add(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self, path: str | None = None, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only those for exactly `path` and/or `method`."""
        with self._lock:
            found = list(self._entries)
        if path is not None:
            found = [e for e in found if e.path == path]
        if method is not None:
            found = [e for e in found if e.method == method.upper()]
        return found

    def count(self, path: str | None = None, method: str | None = None) -> int:
        return len(self.entries(path, method))


async def _sleep_unless(stopping: threading.Event, seconds: float) -> bool:
    """Sleep `seconds` in short steps; False when the server began stopping meanwhile."""
    deadline = time.monotonic() + seconds
    while not stopping.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.05))
    return False


class FaultMiddleware:
    """ASGI middleware that records each request and applies the current `FaultState`."""

    def __init__(
        self, app: ASGIApp, *, fault: FaultState, log: RequestLog, stopping: threading.Event
    ) -> None:
        self.app = app
        self.fault = fault
        self.log = log
        self.stopping = stopping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        entry: RecordedRequest | None = None
        if not path.startswith(CONTROL_PREFIX):
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            entry = RecordedRequest(
                method=scope["method"],
                path=path,
                query=scope["query_string"].decode("latin-1"),
                headers={k: headers[k] for k in LOGGED_HEADERS if k in headers},
            )
            self.log.add(entry)

        async def recording_send(message: Message) -> None:
            if entry is not None and message["type"] == "http.response.start":
                entry.status = int(message["status"])
            await send(message)

        fault = self.fault.take(path)
        if fault is None:
            await self.app(scope, receive, recording_send)
            return
        mode, delay = fault
        if mode == "slow":
            if await _sleep_unless(self.stopping, delay):
                await self.app(scope, receive, recording_send)
            else:
                await _respond(recording_send, 503, b"stopping", "text/plain")
        elif mode == "hang":
            await _sleep_unless(self.stopping, delay if delay > 0 else HANG_LIMIT_SECONDS)
            await _respond(recording_send, 503, b"stopping", "text/plain")
        elif mode == "error":
            await _respond(recording_send, 500, b'{"message":"Internal Server Error"}')
        elif mode == "malformed":
            await _respond(recording_send, 200, MALFORMED_BODY)
        elif mode == "unavailable":
            # 503; with a delay, `Retry-After: <delay>` (seconds) as a rate-limited proxy sends.
            extra = [(b"retry-after", f"{delay:g}".encode())] if delay > 0 else []
            await _respond(recording_send, 503, b'{"message":"Service Unavailable"}', extra=extra)
        else:
            await _respond(
                recording_send,
                401,
                b"<html><head><title>Unauthorized</title></head>"
                b"<body><h1>401 Unauthorized</h1></body></html>",
                "text/html",
            )


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Running:
    """`with` and `async with` for anything that starts and stops (servers, simulators,
    the suite): started on entry, stopped on exit; the async forms in a thread."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


class SimulatorServer(Running):
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port unless given) in a thread."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stopping: threading.Event | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.stopping = stopping if stopping is not None else threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serve_task: asyncio.Task[Any] | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("simulator server is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:40123."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop serving requests (None when stopped)."""
        return self._loop

    def start(self, timeout: float = 10.0) -> Self:
        """Start serving and block until the port accepts connections."""
        if self.running:
            return self
        self.stopping.clear()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        sock.listen(128)
        sock.setblocking(False)
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=5,
        )
        self._server = uvicorn.Server(config)
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name=f"sim-{self._port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"simulator server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("simulator server did not start in time")
            time.sleep(0.002)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._serve_task = asyncio.current_task()
            with contextlib.suppress(asyncio.CancelledError):
                await server.serve(sockets=[sock])

        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported by start(); the thread must not die noisily
            self._error = exc
        finally:
            self._loop = None
            sock.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; in-flight slow or hanging requests are released at once."""
        self.stopping.set()
        server, thread, loop = self._server, self._thread, self._loop
        if server is not None:
            server.should_exit = True
            server.force_exit = True
        if loop is not None and not loop.is_closed():
            # Cancelling skips uvicorn's polling and grace sleeps; open connections are
            # dropped, which is what a test wants from a stopped service.
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self._server = None

    async def _shutdown(self) -> None:
        """Stop faster than uvicorn's polling: stop listening, let in-flight answers (released
        by `stopping`) finish for up to a second, then cancel the serving task."""
        server, task = self._server, self._serve_task
        if server is None or task is None:
            return
        for listener in server.servers:
            listener.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        if server.server_state.tasks:
            await asyncio.wait(set(server.server_state.tasks), timeout=1.0)
        task.cancel()

    def submit(self, make: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run a coroutine on the serving loop (fire and forget); False when not running."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(make(), loop)
            return True
        return False
