"""What Kuma's Socket.IO events carry, read into monitors: `monitorList`, heartbeats.

Kuma's payloads are loosely typed (ids as strings or numbers, missing fields), so
every value is checked before it is kept; `KumaEvents` takes them for
`uptime_kuma_live.KumaLiveLink`, which it tells of each change (and `close_socket` ends
the link's client).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import engineio.base_client
import socketio

from medianest.integrations.uptime_kuma import STATUS_BY_CODE, MonitorStatus


async def close_socket(sio: socketio.AsyncClient) -> None:
    """Disconnect `sio`, its aiohttp session closed even if cancelled meanwhile: a cancel
    inside disconnect() (a task cancelled again while it stops) left the session open and
    the client in engineio's list of connected ones for the process's life."""
    try:
        with contextlib.suppress(Exception):
            await sio.disconnect()
    finally:
        eio = sio.eio
        with contextlib.suppress(ValueError):
            engineio.base_client.connected_clients.remove(eio)
        if eio.http is not None and not eio.http.closed:
            await eio.http.close()


@dataclass
class LiveMonitor:
    """What the link knows of one monitor."""

    id: int
    name: str
    type: str | None = None
    active: bool = True
    status_code: int | None = None
    ping: float | None = None
    msg: str | None = None
    beat_time: str | None = None
    uptime_24h: float | None = None

    @property
    def status(self) -> MonitorStatus:
        if self.status_code is None:
            return "pending"
        return STATUS_BY_CODE.get(self.status_code, "pending")


def as_monitor_id(value: Any) -> int | None:
    """A monitor id from an event, or None when the value is not one."""
    # afterLogin sends ids as strings (a JS for-in key), live heartbeats as numbers.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def merged_monitor_list(
    data: dict[Any, Any], current: dict[int, LiveMonitor], *, replace: bool
) -> dict[int, LiveMonitor]:
    """The monitors after a `monitorList` (`replace`) or `updateMonitorIntoList` payload."""
    known = {} if replace else dict(current)
    for raw in data.values():
        if not isinstance(raw, dict) or as_monitor_id(raw.get("id")) is None:
            continue
        monitor_id = as_monitor_id(raw.get("id"))
        assert monitor_id is not None
        before = current.get(monitor_id)
        monitor = LiveMonitor(
            id=monitor_id,
            name=str(raw.get("name") or f"Monitor {monitor_id}"),
            type=raw.get("type") if isinstance(raw.get("type"), str) else None,
            active=raw.get("active") not in (False, 0),
        )
        if before is not None:  # a list update keeps the heartbeat state
            monitor.status_code, monitor.ping = before.status_code, before.ping
            monitor.msg, monitor.beat_time = before.msg, before.beat_time
            monitor.uptime_24h = before.uptime_24h
        known[monitor_id] = monitor
    return known


def apply_beat(monitors: dict[int, LiveMonitor], monitor_id: int, beat: dict[str, Any]) -> None:
    """Record one heartbeat (a live one or a `heartbeatList` row) on its monitor."""
    monitor = monitors.get(monitor_id)
    if monitor is None:  # a heartbeat before the list names it
        monitor = monitors[monitor_id] = LiveMonitor(monitor_id, f"Monitor {monitor_id}")
    status = beat.get("status")
    monitor.status_code = status if isinstance(status, int) else monitor.status_code
    ping = beat.get("ping")
    monitor.ping = float(ping) if isinstance(ping, int | float) else None
    monitor.msg = beat.get("msg") if isinstance(beat.get("msg"), str) else None
    monitor.beat_time = beat.get("time") if isinstance(beat.get("time"), str) else None


def _older(stamp: Any, than: str | None) -> bool:
    """Kuma's beat times ("2026-08-22 14:04:20.123", UTC): `stamp` is before `than`."""
    if than is None:
        return False
    try:
        return datetime.fromisoformat(str(stamp)) < datetime.fromisoformat(str(than))
    except ValueError:
        return False  # a shape not known: take the history as before


class KumaEvents:
    """Kuma's pushed events applied to `monitors`; `changed` is called after each change."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self.monitors: dict[int, LiveMonitor] = {}
        self._changed = changed
        # This connection's live beats: Kuma sends a history after the beats it has not
        # stored yet (Monitor.beat emits, then stores; afterLogin reads the history between).
        self._live_beats: dict[int, str] = {}

    def listen(self, sio: socketio.AsyncClient) -> None:
        """Take the events of a new connection (Kuma sends its histories again)."""
        self._live_beats = {}
        sio.on("monitorList", lambda data=None, *_: self.monitor_list(data, replace=True))
        sio.on(
            "updateMonitorIntoList", lambda data=None, *_: self.monitor_list(data, replace=False)
        )
        sio.on("deleteMonitorFromList", self.delete_monitor)
        sio.on("heartbeatList", self.heartbeat_list)
        sio.on("heartbeat", self.heartbeat)
        sio.on("uptime", self.uptime)

    def monitor_list(self, data: Any, *, replace: bool) -> None:
        if not isinstance(data, dict):
            return
        self.monitors = merged_monitor_list(data, self.monitors, replace=replace)
        self._changed()

    def delete_monitor(self, monitor_id: Any = None, *_: Any) -> None:
        found = as_monitor_id(monitor_id)
        if found is not None and self.monitors.pop(found, None) is not None:
            self._changed()

    def heartbeat_list(self, monitor_id: Any = None, rows: Any = None, *_: Any) -> None:
        # Raw `heartbeat` table rows (snake_case), oldest first: the last is the current one
        # unless a live beat on this connection is newer.
        found = as_monitor_id(monitor_id)
        if found is None or not isinstance(rows, list) or not rows:
            return
        last = rows[-1]
        if isinstance(last, dict) and not _older(last.get("time"), self._live_beats.get(found)):
            apply_beat(self.monitors, found, last)
            self._changed()

    def heartbeat(self, beat: Any = None, *_: Any) -> None:
        if not isinstance(beat, dict):
            return
        found = as_monitor_id(beat.get("monitorID"))
        if found is not None:
            apply_beat(self.monitors, found, beat)
            if isinstance(beat.get("time"), str):
                self._live_beats[found] = beat["time"]
            self._changed()

    def uptime(self, monitor_id: Any = None, period: Any = None, ratio: Any = None) -> None:
        found = as_monitor_id(monitor_id)
        if found in self.monitors and str(period) == "24" and isinstance(ratio, int | float):
            self.monitors[found].uptime_24h = float(ratio)
