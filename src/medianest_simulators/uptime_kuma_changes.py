"""The simulator's monitors changed while sockets are signed in (paused, resumed,
renamed, deleted), and its socket switches over HTTP, for `UptimeKumaSimulator`.

Each change is sent as Kuma sends it (`KumaSocketServer.monitor_changed` and
`monitor_deleted`: Kuma 2.x one monitor at a time, 1.23 the whole list). Kuma's ids come
from an autoincrement column: a deleted monitor's id is never given again.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from medianest_simulators.base import JSONDict, ok, read_json

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from medianest_simulators.uptime_kuma import Monitor
    from medianest_simulators.uptime_kuma_socket import KumaSocketServer, SocketAccount

KumaLine = Literal["2", "1.23"]


class KumaMonitorChanges:
    """Mixin: the monitor changes and socket switches of the Kuma simulator."""

    monitors: dict[str, Monitor]
    lock: threading.RLock
    socket: KumaSocketServer | None
    account: SocketAccount
    kuma3: bool
    disable_auth: bool
    socket_connects: int
    socket_logins: int
    socket_token_logins: int
    signed_in_sids: set[str]
    peak_signed_in: int
    submit: Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]
    set_account: Callable[..., None]

    def reset_changes(self) -> None:
        self.kuma_line: KumaLine = "2"  # "1.23": Kuma 1.23.x's socket API
        # Engine.IO's ping interval and timeout: Kuma keeps socket.io's defaults, 25 s and
        # 20 s (uptime-kuma-server.js:147, no ping options); applied at the next start.
        self.ping_seconds: tuple[float, float] = (25.0, 20.0)
        self.deleted_ids: set[int] = set()

    def next_monitor_id(self) -> int:
        return max([0, *self.deleted_ids, *(m.id for m in self.monitors.values())]) + 1

    def pause_monitor(self, name: str, *, paused: bool = True) -> None:
        """pauseMonitor / resumeMonitor: the monitor stays listed with `active` false."""
        with self.lock:
            monitor = self.monitors[name]
            monitor.active = not paused
        self._send_change(monitor)

    def rename_monitor(self, name: str, new_name: str) -> None:
        """editMonitor with a new name."""
        with self.lock:
            monitor = self.monitors.pop(name)
            monitor.name = new_name
            self.monitors[new_name] = monitor
        self._send_change(monitor)

    def delete_monitor(self, name: str, *, check_running: bool = False) -> None:
        """deleteMonitor; `check_running`: a check was under way (Kuma's HTTP check waits
        up to 0.8 x the interval for a target that does not answer): on Kuma 1.23 its
        heartbeat, down, follows the deletion."""
        with self.lock:
            monitor = self.monitors.pop(name)
            self.deleted_ids.add(monitor.id)
            in_flight = None
            if check_running:
                monitor.status, monitor.ping = 0, None
                monitor.beat(time.time())
                in_flight = monitor.beats[-1]
        socket = self.socket
        if socket is not None:
            self.submit(lambda: socket.monitor_deleted(monitor, in_flight))

    def _send_change(self, monitor: Monitor) -> None:
        socket = self.socket
        if socket is not None:
            self.submit(lambda: socket.monitor_changed(monitor))

    async def _http_socket(self, request: Request) -> Response:
        """The socket API's account and switches: {username, password, twofa, kuma3,
        disableAuth, line ("2" or "1.23")}."""
        if request.method == "POST":
            body: JSONDict = await read_json(request)
            self.set_account(
                username=body.get("username"),
                password=body.get("password"),
                twofa=body.get("twofa") if isinstance(body.get("twofa"), bool) else None,
            )
            if isinstance(body.get("kuma3"), bool):
                self.kuma3 = body["kuma3"]
            if isinstance(body.get("disableAuth"), bool):
                self.disable_auth = body["disableAuth"]
            if body.get("line") in ("2", "1.23"):
                self.kuma_line = body["line"]
        with self.lock:
            return ok(
                {
                    "username": self.account.username,
                    "twofa": self.account.twofa_code is not None,
                    "kuma3": self.kuma3,
                    "disableAuth": self.disable_auth,
                    "line": self.kuma_line,
                    "connects": self.socket_connects,
                    "logins": self.socket_logins,
                    "tokenLogins": self.socket_token_logins,
                    "signedIn": len(self.signed_in_sids),
                    "peakSignedIn": self.peak_signed_in,
                }
            )
