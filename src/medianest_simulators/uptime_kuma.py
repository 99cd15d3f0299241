"""A loopback Uptime Kuma: the Prometheus `/metrics` endpoint (API-key Basic auth), the
public status page API and the Socket.IO API of Kuma's web UI (uptime_kuma_socket.py),
over monitors that tests can switch up and down (each switch is a pushed heartbeat)."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Self

import socketio
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import JSONDict, Simulator, ok, read_json, web_page
from medianest_simulators.uptime_kuma_beats import KumaBeats
from medianest_simulators.uptime_kuma_changes import KumaMonitorChanges
from medianest_simulators.uptime_kuma_socket import KumaSocketServer, LoginLimiter, SocketAccount

API_KEY = "uk1_simkumasecret0001"
STATUS_PAGE_SLUG = "medianest"
DOWN, UP, PENDING, MAINTENANCE = 0, 1, 2, 3
AuthMode = Literal["apikey", "basic", "none"]
METRIC_HELP = {
    "monitor_cert_days_remaining": "The number of days remaining until the certificate expires",
    "monitor_cert_is_valid": "Is the certificate still valid? (1 = Yes, 0= No)",
    "monitor_response_time": "Monitor Response Time (ms)",
    "monitor_status": "Monitor Status (1 = UP, 0= DOWN, 2= PENDING, 3= MAINTENANCE)",
    "monitor_uptime_ratio": "Uptime ratio of the monitor over a window (0..1)",
    "monitor_response_time_seconds": "Average response time over a window (seconds)",
}


@dataclass
class Monitor:
    id: int
    name: str
    type: str
    url: str | None
    hostname: str | None = None
    port: int | None = None
    status: int = UP
    ping: int | None = 20
    cert_days: int | None = None
    beats: list[JSONDict] = field(default_factory=list)
    active: bool = True  # false while paused
    interval: float = 60.0  # seconds between checks (Kuma's default; uptime_kuma_beats.py)
    usual_ping: int | None = None  # the steady beats' ping varies around it

    def __post_init__(self) -> None:
        self.usual_ping = self.ping

    def labels(self, version: int) -> dict[str, str]:
        labels = {
            "monitor_name": self.name,
            "monitor_type": self.type,
            "monitor_url": self.url or "null",
            "monitor_hostname": self.hostname or "null",
            "monitor_port": str(self.port) if self.port is not None else "null",
        }
        return labels | ({"monitor_id": str(self.id)} if version >= 2 else {})

    def uptime(self) -> float:
        return (
            sum(1 for b in self.beats if b["status"] == UP) / len(self.beats) if self.beats else 1.0
        )

    def beat(self, at: float) -> None:
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        msg = "" if self.status == UP else "connect ECONNREFUSED"
        ping = self.ping if self.status == UP else None
        self.beats = [
            *self.beats,
            {"status": self.status, "time": stamp, "msg": msg, "ping": ping},
        ][-100:]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value:g}"


class UptimeKumaSimulator(KumaBeats, KumaMonitorChanges, Simulator):
    """Uptime Kuma 2.x by default (`version=1` drops monitor_id and the window metrics)."""

    name = "uptime_kuma"

    def __init__(self, *, port: int = 0, api_key: str = API_KEY, version: int = 2) -> None:
        self.api_key = api_key
        self.default_version = version
        self.version = version
        self.auth_mode: AuthMode = "apikey"
        self.basic_credentials = ("admin", "admin123")
        self.rate_limit_per_minute: int | None = None
        self.monitors: dict[str, Monitor] = {}
        self._hits: deque[float] = deque()
        self.account = SocketAccount()
        self.kuma3 = False
        self.disable_auth = False  # Kuma's "Disable Auth": every socket signed in at once
        self.after_login_seconds = 0.0  # afterLogin's database time (a big Kuma: seconds)
        self.socket_connects = self.socket_logins = self.socket_token_logins = 0
        self.login_limiter = LoginLimiter()  # Kuma keeps it in memory: a restart resets it
        # Sockets signed in now, and the most at once: a MediaNest cluster holds one.
        self.signed_in_sids: set[str] = set()
        self.peak_signed_in = 0
        self._socket_secret = secrets.token_bytes(16)
        self.socket: KumaSocketServer | None = None
        super().__init__(port=port)

    def reset_state(self) -> None:
        self.version = self.default_version
        self.auth_mode = "apikey"
        self.rate_limit_per_minute = None
        self._hits = deque()
        self.account = SocketAccount()
        self.kuma3 = False
        self.disable_auth = False  # Kuma's "Disable Auth": every socket signed in at once
        self.after_login_seconds = 0.0
        self.socket_connects = self.socket_logins = self.socket_token_logins = 0
        self.login_limiter = LoginLimiter()
        self.signed_in_sids = set()
        self.peak_signed_in = 0
        self.monitors = {}
        self.reset_changes()
        self.reset_beats()
        self.add_monitor("Plex", "http", "http://plex.local:32400/identity", ping=12)
        self.add_monitor("Overseerr", "http", "http://overseerr.local:5055/api/v1/status", ping=34)
        self.add_monitor("Website", "http", "https://medianest.example.org/", ping=56, cert_days=42)

    # --- control (in-process) -----------------------------------------------------------
    def add_monitor(
        self,
        name: str,
        type_: str = "http",
        url: str | None = None,
        *,
        hostname: str | None = None,
        port: int | None = None,
        ping: int = 20,
        cert_days: int | None = None,
    ) -> Monitor:
        with self.lock:
            monitor = Monitor(
                self.next_monitor_id(), name, type_, url, hostname, port, UP, ping, cert_days
            )
            now = time.time()
            for n in range(10, 0, -1):
                monitor.beat(now - n * 60)
            self.monitors[name] = monitor
        self._send_change(monitor)  # Kuma's `add` lists it before its checks start
        return monitor

    def set_monitor(
        self,
        name: str,
        up: bool | None = None,
        ping_ms: int | None = None,
        *,
        status: int | None = None,
    ) -> None:
        """Set a monitor UP/DOWN (or any status 0-3) and its ping; records a heartbeat."""
        with self.lock:
            monitor = self.monitors[name]
            if status is not None:
                monitor.status = status
            elif up is not None:
                monitor.status = UP if up else DOWN
            if ping_ms is not None:
                monitor.ping = monitor.usual_ping = ping_ms
            monitor.beat(time.time())
            beat = monitor.beats[-1]
        socket = self.socket
        if socket is not None:
            self.submit(lambda: socket.push_heartbeat(monitor, beat))

    def set_account(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        twofa_code: str | None = None,
        twofa: bool | None = None,
    ) -> None:
        """Change Kuma's account (a new password revokes issued tokens) or its 2FA."""
        with self.lock:
            if username is not None:
                self.account.username = username
            if password is not None:
                self.account.password = password
            if twofa is not None or twofa_code is not None:
                self.account.twofa_code = (twofa_code or "123456") if twofa is not False else None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Serve HTTP and a fresh Socket.IO server (its state belongs to one serving loop)."""
        if not self.running:
            self.socket = KumaSocketServer(self, secret=self._socket_secret)
            self.server.app = socketio.ASGIApp(self.socket.sio, other_asgi_app=self.app)
        return super().start()

    def stop(self) -> None:
        super().stop()
        self.socket = None

    def restart(self) -> None:
        """Stop and start again on the same port, dropping every socket (a Kuma restart)."""
        port = self.server.port
        self.stop()
        self.server.requested_port = port
        self.start()

    def set_auth(
        self, mode: AuthMode, *, username: str = "admin", password: str = "admin123"
    ) -> None:
        """`apikey` (password = API key), `basic` (username/password) or `none`."""
        with self.lock:
            self.auth_mode, self.basic_credentials = mode, (username, password)

    # --- HTTP API -----------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/dashboard", lambda request: web_page("Uptime Kuma"), methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
            Route("/api/status-page/heartbeat/{slug}", self._heartbeats, methods=["GET"]),
            Route("/api/status-page/{slug}", self._status_page, methods=["GET"]),
        ]

    def _authorized(self, request: Request) -> bool:
        if self.auth_mode == "none":
            return True
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if scheme.lower() != "basic":
            return False
        if self.auth_mode == "apikey":
            return password == self.api_key
        return (username, password) == self.basic_credentials

    def _rate_limited(self) -> bool:
        if self.rate_limit_per_minute is None:
            return False
        now = time.monotonic()
        while self._hits and now - self._hits[0] > 60:
            self._hits.popleft()
        self._hits.append(now)
        return len(self._hits) > self.rate_limit_per_minute

    async def _metrics(self, request: Request) -> Response:
        with self.lock:
            if self._rate_limited():
                return PlainTextResponse("Too many requests", status_code=429)
            if not self._authorized(request):
                return PlainTextResponse(
                    "Unauthorized",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="metrics"'},
                )
            return PlainTextResponse(
                self.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8"
            )

    def exposition(self) -> str:
        """The metrics in the Prometheus text format."""
        samples: dict[str, list[str]] = {name: [] for name in METRIC_HELP}
        for m in self.monitors.values():
            labels = m.labels(self.version)
            if m.url and m.url.startswith("https://") and m.cert_days is not None:
                samples["monitor_cert_days_remaining"].append(
                    _sample("monitor_cert_days_remaining", labels, m.cert_days)
                )
                samples["monitor_cert_is_valid"].append(
                    _sample("monitor_cert_is_valid", labels, 1 if m.cert_days > 0 else 0)
                )
            ping = m.ping if m.status == UP and m.ping is not None else -1
            samples["monitor_response_time"].append(_sample("monitor_response_time", labels, ping))
            samples["monitor_status"].append(_sample("monitor_status", labels, m.status))
            if self.version >= 2:
                for window in ("1d", "30d", "365d"):
                    windowed = labels | {"window": window}
                    samples["monitor_uptime_ratio"].append(
                        _sample("monitor_uptime_ratio", windowed, round(m.uptime(), 4))
                    )
                    samples["monitor_response_time_seconds"].append(
                        _sample("monitor_response_time_seconds", windowed, max(ping, 0) / 1000)
                    )
        lines: list[str] = []
        for name, rows in samples.items():
            if rows or self.version >= 2 or not name.endswith(("_ratio", "_seconds")):
                lines += [f"# HELP {name} {METRIC_HELP[name]}", f"# TYPE {name} gauge", *rows]
        return "\n".join(lines) + "\n"

    def _page_config(self, slug: str) -> JSONDict:
        return {
            "slug": slug,
            "title": "MediaNest Services",
            "description": "Simulated",
            "icon": "/icon.svg",
            "theme": "auto",
            "published": True,
            "showTags": False,
            "customCSS": "",
            "footerText": None,
            "showPoweredBy": True,
            "googleAnalyticsId": None,
        }

    async def _status_page(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        if slug != STATUS_PAGE_SLUG:
            return JSONResponse({"status": "fail", "msg": "Status Page Not Found"}, status_code=404)
        with self.lock:
            monitor_list = [
                {"id": m.id, "name": m.name, "sendUrl": 0, "type": m.type}
                | ({"url": m.url} if m.url else {})
                for m in self.monitors.values()
            ]
        return JSONResponse(
            {
                "config": self._page_config(slug),
                "incident": None,
                "incidents": [],
                "publicGroupList": [
                    {"id": 1, "name": "Services", "weight": 1, "monitorList": monitor_list}
                ],
                "maintenanceList": [],
            }
        )

    async def _heartbeats(self, request: Request) -> Response:
        if request.path_params["slug"] != STATUS_PAGE_SLUG:
            return JSONResponse({"status": "fail", "msg": "Status Page Not Found"}, status_code=404)
        with self.lock:
            beats = {str(m.id): list(m.beats) for m in self.monitors.values()}
            uptime = {f"{m.id}_24": round(m.uptime(), 4) for m in self.monitors.values()}
        return JSONResponse({"heartbeatList": beats, "uptimeList": uptime})

    # --- control (HTTP) ------------------------------------------------------------------
    def control_routes(self) -> list[BaseRoute]:
        return [
            Route("/__sim/monitors/{name}", self._http_monitor, methods=["POST"]),
            Route("/__sim/config", self._http_config, methods=["POST"]),
            Route("/__sim/socket", self._http_socket, methods=["GET", "POST"]),
            Route("/__sim/beats", self._http_beats, methods=["POST"]),
        ]

    async def _http_monitor(self, request: Request) -> Response:
        body = await read_json(request)
        name = request.path_params["name"]
        if name not in self.monitors:
            self.add_monitor(name, str(body.get("type") or "http"), body.get("url"))
        raw = body.get("status")
        status = {"up": UP, "down": DOWN, "pending": PENDING, "maintenance": MAINTENANCE}.get(
            str(raw).lower(), raw if isinstance(raw, int) else None
        )
        ping = body.get("ping")
        self.set_monitor(name, status=status, ping_ms=int(ping) if ping is not None else None)
        return ok()

    async def _http_config(self, request: Request) -> Response:
        body = await read_json(request)
        with self.lock:
            if body.get("authMode") in ("apikey", "basic", "none"):
                self.auth_mode = body["authMode"]
            if body.get("version") in (1, 2):
                self.version = int(body["version"])
            if "rateLimitPerMinute" in body:
                limit = body["rateLimitPerMinute"]
                self.rate_limit_per_minute = int(limit) if limit is not None else None
        return ok({"authMode": self.auth_mode, "version": self.version})
