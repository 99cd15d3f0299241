"""Real-time push and dashboard throughput, on loopback with the embedded default (SQLite):

1. the time a `service:status` push takes to reach 1,000 connected Socket.IO clients
   (p50/p99 over every client and push, plus the time until the last client had it);
2. `GET /api/dashboard/status` throughput (wrk) against the bare Starlette endpoint,
   both served by uvicorn in one process, measured in the same run.

The server runs in its own process (this module with `--serve`): the MediaNest app plus
one bench-only route, `POST /__bench/emit`, that stamps `time.monotonic()` and emits.
The clients share the host's monotonic clock, so receive minus stamp is the push time.

    python -m bench.socket_push [clients] [pushes]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import socketio

from bench import backends
from bench.load import run_load, tool_name
from bench.processes import Server, bare_server

DEFAULT_CLIENTS = 1000
DEFAULT_PUSHES = 20
CONNECT_CONCURRENCY = 50
CONNECT_BUDGET_SECONDS = 180.0
PUSH_WAIT_SECONDS = 10.0
LOAD_SECONDS = 5.0
LOAD_CONNECTIONS = 50
EMIT_PATH = "/__bench/emit"


# --- the server process -------------------------------------------------------------------
def serve(port: int) -> None:
    """Run MediaNest (migrated, as `medianest serve` would) plus the emit trigger."""
    import uvicorn

    from medianest.app import create_app
    from medianest.db import migrate
    from medianest.settings import load_settings

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url)
    app = create_app(settings, run_migrations=False)
    sequence = iter(range(1, 10**9))

    async def with_trigger(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == EMIT_PATH:
            payload = {
                "service": "bench",
                "status": "online",
                "seq": next(sequence),
                "sentAt": time.monotonic(),
            }
            await app.realtime.emit_status(payload)
            body = json.dumps(payload).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    uvicorn.run(
        with_trigger,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        lifespan="on",
    )


# --- the clients --------------------------------------------------------------------------
class PushClients:
    """Many Socket.IO clients recording when each bench push arrived."""

    def __init__(self, url: str, cookie: str, count: int) -> None:
        self.url = url
        self.cookie = cookie
        self.count = count
        self.clients: list[socketio.AsyncClient] = []
        self.received: dict[int, list[float]] = {}
        self.sent_at: dict[int, float] = {}

    def _make(self) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)

        async def on_status(data: dict[str, Any]) -> None:
            if data.get("service") == "bench":
                seq = int(data["seq"])
                self.received.setdefault(seq, []).append(time.monotonic())
                self.sent_at[seq] = float(data["sentAt"])

        client.on("service:status", on_status)
        return client

    async def connect_all(self) -> float:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        started = time.perf_counter()

        async def one() -> None:
            client = self._make()
            async with gate:
                await client.connect(
                    self.url,
                    headers={"Cookie": self.cookie},
                    transports=["websocket"],
                    wait_timeout=30,
                )
            self.clients.append(client)

        async with asyncio.timeout(CONNECT_BUDGET_SECONDS):
            await asyncio.gather(*(one() for _ in range(self.count)))
        return time.perf_counter() - started

    async def push(self, http: httpx.AsyncClient) -> tuple[int, int]:
        """Trigger one push; wait until every client has it (bounded). Returns (seq, got)."""
        response = await http.post(EMIT_PATH)
        response.raise_for_status()
        seq = int(response.json()["seq"])
        deadline = time.monotonic() + PUSH_WAIT_SECONDS
        while len(self.received.get(seq, ())) < len(self.clients):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.005)
        return seq, len(self.received.get(seq, ()))

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def measure_pushes(url: str, cookie: str, clients: int, pushes: int) -> dict[str, Any]:
    crowd = PushClients(url, cookie, clients)
    try:
        connect_seconds = await crowd.connect_all()
        await asyncio.sleep(1.0)  # let the initial status pushes settle
        delivered: list[int] = []
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            await crowd.push(http)  # warm-up, not counted
            seqs = []
            for _ in range(pushes):
                seq, got = await crowd.push(http)
                seqs.append(seq)
                delivered.append(got)
                await asyncio.sleep(0.2)
        samples = sorted(
            arrival - crowd.sent_at[seq] for seq in seqs for arrival in crowd.received.get(seq, [])
        )
        last_client = sorted(
            max(crowd.received[seq]) - crowd.sent_at[seq] for seq in seqs if seq in crowd.received
        )
        return {
            "clients": len(crowd.clients),
            "connect_seconds": round(connect_seconds, 2),
            "pushes": pushes,
            "deliveries": sum(delivered),
            "deliveries_expected": pushes * len(crowd.clients),
            "p50_ms": _ms(_percentile(samples, 0.50)),
            "p99_ms": _ms(_percentile(samples, 0.99)),
            "max_ms": _ms(samples[-1]),
            "mean_ms": _ms(statistics.fmean(samples)),
            "last_client_p50_ms": _ms(_percentile(last_client, 0.50)),
            "last_client_max_ms": _ms(last_client[-1]),
        }
    finally:
        await crowd.close()


def measure_throughput(url: str, cookie: str, bare_url: str) -> dict[str, Any]:
    if tool_name() is None:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    headers = {"Cookie": cookie}
    dashboard = run_load(
        url + "/api/dashboard/status",
        connections=LOAD_CONNECTIONS,
        seconds=LOAD_SECONDS,
        headers=headers,
    )
    bare = run_load(
        bare_url + "/bare", connections=LOAD_CONNECTIONS, seconds=LOAD_SECONDS, headers={}
    )
    return {
        "connections": LOAD_CONNECTIONS,
        "seconds": LOAD_SECONDS,
        "dashboard_rps": round(dashboard.requests_per_second, 1),
        "dashboard_p50_ms": dashboard.p50_ms,
        "dashboard_p99_ms": dashboard.p99_ms,
        "dashboard_errors": dashboard.errors,
        "bare_rps": round(bare.requests_per_second, 1),
        "bare_p50_ms": bare.p50_ms,
        "bare_p99_ms": bare.p99_ms,
        "ratio": round(dashboard.requests_per_second / bare.requests_per_second, 3),
    }


def run(clients: int = DEFAULT_CLIENTS, pushes: int = DEFAULT_PUSHES) -> dict[str, Any]:
    """Both measurements on the embedded default; returns the figures as a dict."""
    with tempfile.TemporaryDirectory(prefix="medianest-bench-socket-") as tmp:
        root = Path(tmp)
        backend = backends.embedded(root / "data")
        env = {
            **backend.env,
            "MEDIANEST_LOG_LEVEL": "WARNING",
            "MEDIANEST_RUN_WORKER_IN_PROCESS": "false",
        }
        command = [sys.executable, "-m", "bench.socket_push", "--serve", "{port}"]
        app_server = Server("medianest-socket", command, env, root / "medianest.log")
        bare = bare_server(root / "bare.log")
        try:
            app_server.start("/api/health", timeout=240)
            bare.start("/bare", timeout=240)
            _user_id, cookie = backends.sign_in(app_server.url)
            result: dict[str, Any] = {"backend": "sqlite (no Redis)"}
            result["push"] = asyncio.run(measure_pushes(app_server.url, cookie, clients, pushes))
            result["throughput"] = measure_throughput(app_server.url, cookie, bare.url)
            return result
        finally:
            app_server.stop()
            bare.stop()


def main(argv: list[str]) -> None:
    if argv[:1] == ["--serve"]:
        serve(int(argv[1]))
        return
    clients = int(argv[0]) if argv else DEFAULT_CLIENTS
    pushes = int(argv[1]) if len(argv) > 1 else DEFAULT_PUSHES
    print(json.dumps(run(clients, pushes), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
