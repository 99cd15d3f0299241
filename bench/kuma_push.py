"""Uptime Kuma live: the delay from a Kuma heartbeat to a browser's `service:status`.

On loopback, bounded: the Uptime Kuma simulator (its Socket.IO API, as Kuma 2.x) runs
in this process; `medianest serve` (embedded default, SQLite, health-check interval 5
minutes, so no poll helps) runs in a subprocess, configured through the admin API with
the live source. For each client count, that many Socket.IO clients (browsers) connect
with the admin's session; the monitor "Overseerr" is flipped down and up `flips` times,
each flip stamped with `time.monotonic()` just before the simulator records and emits
its heartbeat; each client records when the `service:status` showing the new status
arrived. Same host, same monotonic clock: arrival minus stamp is the whole path (Kuma's
emit, MediaNest's link, record, push, the client's decoding).

    python -m bench.kuma_push [clients,...] [flips]      # default: 1,1000 and 10
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
from bench.processes import medianest_server
from medianest_simulators import UptimeKumaSimulator

DEFAULT_CLIENTS = (1, 1000)
DEFAULT_FLIPS = 10
CONNECT_CONCURRENCY = 50
CONNECT_BUDGET_SECONDS = 180.0
FLIP_WAIT_SECONDS = 10.0
LIVE_WAIT_SECONDS = 30.0
MONITOR = "Overseerr"


class Browsers:
    """Socket.IO clients noting when each monitor state first reached them."""

    def __init__(self, url: str, cookie: str, count: int) -> None:
        self.url, self.cookie, self.count = url, cookie, count
        self.clients: list[socketio.AsyncClient] = []
        # (client index, monitor status) -> monotonic arrival times, in order
        self.arrivals: dict[str, list[tuple[int, float]]] = {}
        self.live_seen = 0

    def _make(self, index: int) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)

        async def on_status(data: dict[str, Any]) -> None:
            if data.get("service") != "uptime_kuma" or data.get("source") != "live":
                return
            arrived = time.monotonic()
            self.live_seen += 1
            for monitor in data.get("monitors") or []:
                if monitor.get("name") == MONITOR:
                    self.arrivals.setdefault(monitor["status"], []).append((index, arrived))

        client.on("service:status", on_status)
        return client

    async def connect_all(self) -> float:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        started = time.perf_counter()

        async def one(index: int) -> None:
            client = self._make(index)
            async with gate:
                await client.connect(
                    self.url,
                    headers={"Cookie": self.cookie},
                    transports=["websocket"],
                    wait_timeout=30,
                )
            self.clients.append(client)

        async with asyncio.timeout(CONNECT_BUDGET_SECONDS):
            await asyncio.gather(*(one(n) for n in range(self.count)))
        return time.perf_counter() - started

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)


def configure_live_source(url: str, cookie: str, kuma_url: str) -> None:
    csrf = dict(part.split("=", 1) for part in cookie.split("; "))["csrftoken"]
    with httpx.Client(base_url=url, timeout=30, headers={"Cookie": cookie}) as http:
        saved = http.put(
            "/api/admin/services/uptime_kuma",
            json={
                "url": kuma_url,
                "enabled": True,
                "password": "admin123",
                "config": {"source": "socket", "username": "admin"},
            },
            headers={"X-CSRF-Token": csrf},
        )
        saved.raise_for_status()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def measure(
    url: str, cookie: str, kuma: UptimeKumaSimulator, clients: int, flips: int
) -> dict[str, Any]:
    browsers = Browsers(url, cookie, clients)
    try:
        connect_seconds = await browsers.connect_all()
        deadline = time.monotonic() + LIVE_WAIT_SECONDS
        while browsers.live_seen < len(browsers.clients):  # each got the live state
            if time.monotonic() > deadline:
                raise TimeoutError("the live source did not reach every client")
            await asyncio.sleep(0.05)
        samples: list[float] = []
        last_client: list[float] = []
        delivered = 0
        for flip in range(flips):
            status = "down" if flip % 2 == 0 else "up"
            browsers.arrivals.pop(status, None)
            stamped = time.monotonic()
            await asyncio.to_thread(kuma.set_monitor, MONITOR, status == "up")
            wait_until = time.monotonic() + FLIP_WAIT_SECONDS
            while len(browsers.arrivals.get(status, ())) < len(browsers.clients):
                if time.monotonic() > wait_until:
                    break
                await asyncio.sleep(0.002)
            # The first arrival per client: a later refresh of the same state is no news.
            first: dict[int, float] = {}
            for index, arrived in browsers.arrivals.get(status, []):
                first.setdefault(index, arrived)
            delays = [arrived - stamped for arrived in first.values()]
            delivered += len(delays)
            samples += delays
            if delays:
                last_client.append(max(delays))
            await asyncio.sleep(0.3)
        samples.sort()
        last_client.sort()
        return {
            "clients": len(browsers.clients),
            "connect_seconds": round(connect_seconds, 2),
            "flips": flips,
            "deliveries": delivered,
            "deliveries_expected": flips * len(browsers.clients),
            "p50_ms": _ms(_percentile(samples, 0.50)),
            "p99_ms": _ms(_percentile(samples, 0.99)),
            "max_ms": _ms(samples[-1]),
            "mean_ms": _ms(statistics.fmean(samples)),
            "last_client_p50_ms": _ms(_percentile(last_client, 0.50)),
            "last_client_max_ms": _ms(last_client[-1]),
        }
    finally:
        await browsers.close()


def run(clients: tuple[int, ...] = DEFAULT_CLIENTS, flips: int = DEFAULT_FLIPS) -> dict[str, Any]:
    """Each client count against one served MediaNest; returns the figures as a dict."""
    with tempfile.TemporaryDirectory(prefix="medianest-bench-kuma-") as tmp:
        root = Path(tmp)
        backend = backends.embedded(root / "data")
        env = {
            **backend.env,
            "MEDIANEST_LOG_LEVEL": "WARNING",
            "MEDIANEST_RUN_WORKER_IN_PROCESS": "false",
            "MEDIANEST_HEALTH_CHECK_INTERVAL_SECONDS": "300",
        }
        kuma = UptimeKumaSimulator().start()
        server = medianest_server("medianest-kuma", env, root / "medianest.log")
        try:
            server.start("/api/health", timeout=240)
            _user_id, cookie = backends.sign_in(server.url)
            configure_live_source(server.url, cookie, kuma.url)
            result: dict[str, Any] = {
                "backend": "sqlite (no Redis)",
                "health_check_interval_seconds": 300,
                "runs": [],
            }
            for count in clients:
                figures = asyncio.run(measure(server.url, cookie, kuma, count, flips))
                result["runs"].append(figures)
            result["kuma_socket_logins"] = kuma.socket_logins
            result["kuma_metrics_requests"] = kuma.request_count("/metrics")
            return result
        finally:
            server.stop()
            kuma.stop()


def main(argv: list[str]) -> None:
    counts = tuple(int(n) for n in argv[0].split(",")) if argv else DEFAULT_CLIENTS
    flips = int(argv[1]) if len(argv) > 1 else DEFAULT_FLIPS
    print(json.dumps(run(counts, flips), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
