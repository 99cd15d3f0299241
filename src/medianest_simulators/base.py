"""The common shape of every simulator: a Starlette app, its /__sim/ control API and a server.

A subclass sets its configuration, then calls `super().__init__()`, which seeds the state
with `reset_state()`; it provides `routes()` (the service's API), `control_routes()` (extra
/__sim/ endpoints), `reset_state()` and, if the service has any, `middleware()`; this base
adds fault injection, the request log, the shared control endpoints and start/stop as a
(sync or async) context manager.
"""

from __future__ import annotations

import functools
import json
import ssl
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Self

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.hold import HoldMiddleware, RequestHold
from medianest_simulators.server import (
    FaultMiddleware,
    FaultState,
    RecordedRequest,
    RequestLog,
    Running,
    SimulatorServer,
)

JSONDict = dict[str, Any]


async def read_json(request: Request) -> JSONDict:
    """The request body as a JSON object; {} when empty or not an object."""
    body = await request.body()
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS settings, built once: a webhook delivery's client loaded the CA
    bundle again each time (~25 ms of CPU), and a contract test sends hundreds."""
    return httpx.create_ssl_context()


def web_page(service: str, detail: str = "") -> Response:
    """A stand-in for a service's own web page: the demo's "Open <service>" links land
    somewhere that says where they are, as the real service's page would."""
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{service} (simulated)</title>"
        f"<h1>{service}</h1><p>This is the simulated {service} of the MediaNest demo: a real "
        f"installation shows {service}'s own page here.</p><p>{detail}</p></html>"
    )
    return HTMLResponse(body)


def ok(data: Any = None, status: int = 200) -> JSONResponse:
    """A JSON answer for control endpoints."""
    return JSONResponse({"ok": True} if data is None else data, status_code=status)


class Simulator(Running):
    """Base class: owns the app, the fault state, the request log and the server."""

    name = "simulator"

    def __init__(self, *, port: int = 0) -> None:
        self.fault = FaultState()
        self.log = RequestLog()
        self.held = RequestHold()
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        with self.lock:
            self.reset_state()
        self.app = Starlette(
            routes=[*self._base_control_routes(), *self.control_routes(), *self.routes()],
            middleware=[
                Middleware(
                    FaultMiddleware, fault=self.fault, log=self.log, stopping=self._stopping
                ),
                Middleware(HoldMiddleware, hold=self.held, stopping=self._stopping),
                *self.middleware(),
            ],
        )
        self.server = SimulatorServer(self.app, port=port, stopping=self._stopping)

    # --- to override -------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        """The simulated service's own API."""
        return []

    def control_routes(self) -> list[BaseRoute]:
        """Simulator-specific endpoints under /__sim/."""
        return []

    def middleware(self) -> list[Middleware]:
        """The service's own middleware, inside the request log, faults and holds."""
        return []

    def reset_state(self) -> None:
        """Restore the seeded data (called by reset())."""

    # --- lifecycle ---------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.url

    @property
    def running(self) -> bool:
        return self.server.running

    def start(self) -> Self:
        """Start serving; returns once the port accepts connections."""
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    # --- control (in-process) ------------------------------------------------------
    def set_fault(
        self,
        mode: str | None,
        *,
        delay: float = 0.0,
        path_prefix: str | None = None,
        times: int | None = None,
    ) -> None:
        """Inject a fault: slow|hang|error|malformed|unauthorized|unavailable (None clears it)."""
        self.fault.set(mode, delay=delay, path_prefix=path_prefix, times=times)

    def clear_fault(self) -> None:
        self.fault.clear()

    def hold_requests(
        self, path_prefix: str, method: str | None = None, *, times: int | None = None
    ) -> None:
        """Leave matching requests (the next `times` of them) unanswered until
        `release_requests()` (or `release_requests(path_prefix)`)."""
        self.held.hold(path_prefix, method, times)

    def release_requests(self, path_prefix: str | None = None) -> None:
        """Answer the held requests: all, or those held for `path_prefix` only."""
        self.held.release(path_prefix)

    def reset(self) -> None:
        """Clear faults and the request log and restore the seeded data."""
        self.fault.clear()
        self.held.release()
        self.log.clear()
        with self.lock:
            self.reset_state()

    def requests(self, path: str | None = None, method: str | None = None) -> list[RecordedRequest]:
        """Requests received so far (optionally for exactly `path` / `method`)."""
        return self.log.entries(path, method)

    def request_count(self, path: str | None = None, method: str | None = None) -> int:
        return self.log.count(path, method)

    def submit(self, make: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run a coroutine on the simulator's serving loop, fire and forget."""
        return self.server.submit(make)

    # --- control (HTTP) ------------------------------------------------------------
    def _base_control_routes(self) -> list[BaseRoute]:
        return [
            Route("/__sim/fault", self._http_fault, methods=["GET", "POST", "DELETE"]),
            Route("/__sim/reset", self._http_reset, methods=["POST"]),
            Route("/__sim/requests", self._http_requests, methods=["GET", "DELETE"]),
        ]

    async def _http_fault(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.fault.clear()
        elif request.method == "POST":
            body = await read_json(request)
            times = body.get("times")
            try:
                self.fault.set(
                    body.get("mode"),
                    delay=float(body.get("delay") or 0.0),
                    path_prefix=body.get("pathPrefix"),
                    times=int(times) if times is not None else None,
                )
            except (TypeError, ValueError) as exc:
                return JSONResponse({"message": str(exc)}, status_code=400)
        return ok(self.fault.as_dict())

    async def _http_reset(self, request: Request) -> Response:
        self.reset()
        return ok()

    async def _http_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.log.clear()
            return ok()
        entries = self.log.entries(
            request.query_params.get("path"), request.query_params.get("method")
        )
        return ok({"count": len(entries), "requests": [e.as_dict() for e in entries]})
