"""Kuma's steady heartbeat stream for `UptimeKumaSimulator`: every active monitor checks,
and so beats, every `interval` seconds, whether or not anything changed.

A real Kuma runs one timer per monitor (model/monitor.js `beat()` re-arms `setTimeout(safeBeat,
beatInterval * 1000)`: 1.23.17 monitor.js:1022, 2.x :1077-1081) and each check ends with
`io.to(this.user_id).emit("heartbeat", bean.toJSON())` and `Monitor.sendStats(...)` (avgPing,
uptime 24/720[/1y]) to the account's room (1.23.17 monitor.js:1009-1010, 1189-1197; 2.x
:1059-1060, 1315-1334). An unchanged beat has `important` false (isImportantBeat, 1.23.17
:955-979, 2.x :961-987). Kuma's default interval is 60 s, its minimum 20 s in 1.23
(src/util.ts MIN_INTERVAL_SECOND = 20) and in 2.x's demo mode (monitor.js:433-437; 2.x
allows 1 s otherwise). Paused monitors have no timer (stop() clears it, :1212).

Off by default (tests that count events flip monitors themselves); `start_beating()` with
a short interval (0.05-1 s) makes a test's home as busy as a real one, `add_monitors()`
makes many monitors. The demo beats at Kuma's own 60 s.
"""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from medianest_simulators.base import ok, read_json

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from medianest_simulators.uptime_kuma import Monitor
    from medianest_simulators.uptime_kuma_socket import KumaSocketServer

KUMA_DEFAULT_INTERVAL_SECONDS = 60.0
PING_JITTER = 0.2  # a check's ping varies around the monitor's usual one


class KumaBeats:
    """Mixin: the per-monitor check timers of the Kuma simulator."""

    monitors: dict[str, Monitor]
    lock: threading.RLock
    socket: KumaSocketServer | None
    submit: Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]
    add_monitor: Callable[..., Monitor]
    _beats_stop: threading.Event | None = None
    _beats_thread: threading.Thread | None = None

    def reset_beats(self) -> None:
        self.stop_beating()
        self.beats_sent = 0  # steady beats pushed (not the flips of set_monitor)

    def start_beating(self, interval: float | None = None) -> None:
        """Every active monitor beats every `interval` seconds (each its own, when None),
        the first beats spread over one interval as Kuma's timers drift apart."""
        with self.lock:
            if interval is not None:
                for monitor in self.monitors.values():
                    monitor.interval = interval
            self.stop_beating()
            stop = self._beats_stop = threading.Event()
        thread = threading.Thread(target=self._beat_loop, args=(stop,), daemon=True)
        thread.start()
        self._beats_thread = thread

    def stop_beating(self) -> None:
        stop = self._beats_stop
        self._beats_stop = self._beats_thread = None
        if stop is not None:  # not joined: a reset holds the lock the thread may wait for
            stop.set()

    @property
    def beating(self) -> bool:
        return self._beats_thread is not None

    def add_monitors(self, count: int, *, prefix: str = "Service", interval: float = 60.0) -> None:
        """`count` HTTP monitors more (a big home has 50-200), each checked every `interval`."""
        start = len(self.monitors)
        for n in range(start + 1, start + count + 1):
            monitor = self.add_monitor(
                f"{prefix} {n}", "http", f"http://host{n}.local/", ping=random.randint(5, 80)
            )
            monitor.interval = interval

    def _beat_loop(self, stop: threading.Event) -> None:
        due: dict[int, float] = {}
        while not stop.is_set():
            now = time.monotonic()
            with self.lock:
                active = [m for m in self.monitors.values() if m.active]
                for m in active:  # a new or resumed monitor starts within its interval
                    due.setdefault(m.id, now + random.uniform(0, m.interval))
                beating = [m for m in active if due[m.id] <= now]
                for m in beating:
                    due[m.id] += m.interval
                    if due[m.id] < now:  # fell behind (a loaded machine): no burst to catch up
                        due[m.id] = now + m.interval
            for m in beating:
                self._steady_beat(m, stop)
            upcoming = [due[m.id] for m in active]
            wait = min(upcoming) - time.monotonic() if upcoming else 0.5
            stop.wait(max(0.001, min(wait, 0.5)))

    def _steady_beat(self, monitor: Monitor, stop: threading.Event) -> None:
        with self.lock:
            if (
                stop.is_set()
                or not monitor.active
                or self.monitors.get(monitor.name) is not monitor
            ):
                return  # paused or deleted meanwhile: its timer is cleared
            usual = monitor.usual_ping
            if usual is not None:
                spread = max(1, int(usual * PING_JITTER))
                monitor.ping = max(1, usual + random.randint(-spread, spread))
            monitor.beat(time.time())
            beat = monitor.beats[-1]
            self.beats_sent += 1
        socket = self.socket
        if socket is not None:
            self.submit(lambda: socket.push_heartbeat(monitor, beat))

    async def _http_beats(self, request: Request) -> Response:
        """{"interval": seconds or null (stop), "add": count of monitors to add}."""
        body = await read_json(request)
        if isinstance(body.get("add"), int) and 0 < body["add"] <= 1000:
            self.add_monitors(body["add"], interval=float(body.get("interval") or 60.0))
        if "interval" in body:
            raw = body["interval"]
            if raw is None:
                self.stop_beating()
            elif isinstance(raw, int | float) and raw > 0:
                self.start_beating(float(raw))
        return ok({"beating": self.beating, "beatsSent": self.beats_sent})
