"""What Kuma's Socket.IO events carry, read into monitors: `monitorList`, heartbeats.

Kuma's payloads are loosely typed (ids as strings or numbers, missing fields), so
every value is checked before it is kept; `KumaEvents` takes them for
`uptime_kuma_live.KumaLiveLink`, which it tells of each change (and `close_socket` ends
the link's client).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import engineio.base_client
import socketio

from medianest.integrations.uptime_kuma import STATUS_BY_CODE, MonitorStatus

# python-engineio's last POST on a closing long-polling client (its request timeout is 5 s).
WRITE_LOOP_END_SECONDS = 6.0
# Beats of monitors no list names (yet, or any more) kept aside, at most this many ids.
MAX_UNLISTED = 1000


async def close_socket(sio: socketio.AsyncClient) -> None:
    """Disconnect `sio`, its aiohttp sessions closed even if cancelled meanwhile: a cancel
    inside disconnect() (a task cancelled again while it stops) left the session open and
    the client in engineio's list of connected ones for the process's life. On
    long-polling, a server's close resets the client without waiting for its write loop,
    which then posts its last packets on a new session: waited for, and closed too."""
    try:
        with contextlib.suppress(Exception):
            await sio.disconnect()
    finally:
        eio = sio.eio
        with contextlib.suppress(ValueError):
            engineio.base_client.connected_clients.remove(eio)
        await _close_sessions(sio)
        writer = eio.write_loop_task
        if writer is not None and not writer.done():
            await asyncio.wait({writer}, timeout=WRITE_LOOP_END_SECONDS)
            await _close_sessions(sio)


async def _close_sessions(sio: socketio.AsyncClient) -> None:
    for session in (sio.eio.http, *getattr(sio, "sessions", ())):
        if session is not None and not session.closed:
            await session.close()


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


_KUMA_MESSAGES = {  # Kuma 2.x's i18n keys, and 1.23's English (1.23.17 server.js:325,335,417)
    "authIncorrectCreds": "Uptime Kuma refused the username or password.",
    "authInvalidToken": "Uptime Kuma refused the sign-in token.",
    "authUserInactiveOrDeleted": "The Uptime Kuma account is inactive or deleted.",
}
_KUMA_MESSAGES |= {
    "Incorrect username or password.": _KUMA_MESSAGES["authIncorrectCreds"],
    "Invalid token.": _KUMA_MESSAGES["authInvalidToken"],
    "The user is inactive or deleted.": _KUMA_MESSAGES["authUserInactiveOrDeleted"],
}


def refusal_text(msg: str) -> str:
    """Kuma's refusal of a sign-in, as the admin reads it."""
    return _KUMA_MESSAGES.get(msg, f"Uptime Kuma refused the sign-in: {msg or 'no reason'}.")


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
    data: dict[Any, Any],
    current: dict[int, LiveMonitor],
    unlisted: dict[int, LiveMonitor],
    *,
    replace: bool,
) -> dict[int, LiveMonitor]:
    """The monitors after a `monitorList` (`replace`) or `updateMonitorIntoList` payload;
    a monitor it names takes its beats heard before from `unlisted`."""
    known = {} if replace else dict(current)
    for raw in data.values():
        if not isinstance(raw, dict) or as_monitor_id(raw.get("id")) is None:
            continue
        monitor_id = as_monitor_id(raw.get("id"))
        assert monitor_id is not None
        before = current.get(monitor_id) or unlisted.pop(monitor_id, None)
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
    if monitor is None:
        monitor = monitors[monitor_id] = LiveMonitor(monitor_id, f"Monitor {monitor_id}")
    status = beat.get("status")
    monitor.status_code = status if isinstance(status, int) else monitor.status_code
    ping = beat.get("ping")
    monitor.ping = float(ping) if isinstance(ping, int | float) else None
    monitor.msg = beat.get("msg") if isinstance(beat.get("msg"), str) else None
    monitor.beat_time = beat.get("time") if isinstance(beat.get("time"), str) else None


def _utc(stamp: Any) -> datetime:
    """A beat time; Kuma's carry no zone and are UTC (model/monitor.js:455)."""
    moment = datetime.fromisoformat(str(stamp))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _older(stamp: Any, than: str | None) -> bool:
    """Kuma's beat times ("2026-08-22 14:04:20.123", UTC): `stamp` is before `than`
    (one with a zone, "...Z", compared as the moment it is, not a TypeError)."""
    if than is None:
        return False
    try:
        return _utc(stamp) < _utc(than)
    except ValueError:
        return False  # a shape not known: take the history as before


class KumaEvents:
    """Kuma's pushed events applied to `monitors`; `changed` is called after each change."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self.monitors: dict[int, LiveMonitor] = {}
        # Beats of ids no list names: one before the list that names it (afterLogin joins
        # the room before it lists), or the beat of a check still running when its monitor
        # was deleted (stop() clears the timer only: model/monitor.js:1211, :1059). Shown
        # only once a list names the monitor; before, a deleted one stayed as "Monitor 7".
        self.unlisted: dict[int, LiveMonitor] = {}
        self.version: str | None = None
        # Counts the changes a reader shows (the list, a monitor's status): a steady beat
        # that changes neither leaves it, so a reader compares one number, not the list.
        self.revision = 0
        self._changed = changed
        self.first_info, self.versioned, self.listed = (asyncio.Event() for _ in range(3))
        self.prompted, self.auto_login = asyncio.Event(), asyncio.Event()
        self.histories = asyncio.Event()  # every listed monitor's history is in
        self._histories: set[int] = set()
        # This connection's live beats: Kuma sends a history after the beats it has not
        # stored yet (Monitor.beat emits, then stores; afterLogin reads the history between).
        self._live_beats: dict[int, str] = {}

    def listen(self, sio: socketio.AsyncClient) -> None:
        """Take the events of a new connection (Kuma sends its histories again)."""
        self._live_beats = {}
        # This connection's first `info`, the one with Kuma's version (sent after the
        # login) and its whole list: Kuma 1.23 sends them after answering the login.
        self.first_info, self.versioned, self.listed = (asyncio.Event() for _ in range(3))
        self.histories, self._histories = asyncio.Event(), set()
        # Kuma 2.x's `loginRequired`, or `autoLogin` ("Disable Auth"): `prompted`.
        self.prompted, self.auto_login = asyncio.Event(), asyncio.Event()
        sio.on("loginRequired", lambda *_: self.prompted.set())
        sio.on("autoLogin", self._auto_login)
        sio.on("info", self.info)
        sio.on("monitorList", lambda data=None, *_: self.monitor_list(data, replace=True))
        sio.on(
            "updateMonitorIntoList", lambda data=None, *_: self.monitor_list(data, replace=False)
        )
        sio.on("deleteMonitorFromList", self.delete_monitor)
        sio.on("heartbeatList", self.heartbeat_list)
        sio.on("heartbeat", self.heartbeat)
        sio.on("uptime", self.uptime)

    def _auto_login(self, *_: Any) -> None:
        self.auto_login.set()
        self.prompted.set()

    def info(self, data: Any = None, *_: Any) -> None:
        self.first_info.set()
        if isinstance(data, dict) and isinstance(data.get("version"), str):
            self.version = data["version"]
            self.versioned.set()

    def monitor_list(self, data: Any, *, replace: bool) -> None:
        if not isinstance(data, dict):
            return
        self.monitors = merged_monitor_list(data, self.monitors, self.unlisted, replace=replace)
        self.revision += 1
        if replace:
            self.listed.set()
        self._histories_in()
        self._changed()

    def delete_monitor(self, monitor_id: Any = None, *_: Any) -> None:
        found = as_monitor_id(monitor_id)
        if found is None:
            return
        self.unlisted.pop(found, None)
        if self.monitors.pop(found, None) is not None:
            self.revision += 1
            self._changed()

    def _histories_in(self) -> None:
        if self.listed.is_set() and self._histories.issuperset(self.monitors):
            self.histories.set()

    def _beat_on(self, monitor_id: int, beat: dict[str, Any]) -> None:
        """Record a beat on its listed monitor, or aside while no list names it."""
        if monitor_id in self.monitors:
            before = self.monitors[monitor_id].status_code
            apply_beat(self.monitors, monitor_id, beat)
            if self.monitors[monitor_id].status_code != before:
                self.revision += 1
            return
        if monitor_id not in self.unlisted and len(self.unlisted) >= MAX_UNLISTED:
            self.unlisted.pop(next(iter(self.unlisted)))  # the oldest: a hostile Kuma's ids
        apply_beat(self.unlisted, monitor_id, beat)

    def heartbeat_list(self, monitor_id: Any = None, rows: Any = None, *_: Any) -> None:
        # Raw `heartbeat` table rows (snake_case), oldest first: the last is the current one
        # unless a live beat on this connection is newer.
        found = as_monitor_id(monitor_id)
        if found is None or not isinstance(rows, list):
            return
        self._histories.add(found)
        self._histories_in()
        if not rows:  # a monitor not checked yet
            return
        last = rows[-1]
        if isinstance(last, dict) and not _older(last.get("time"), self._live_beats.get(found)):
            self._beat_on(found, last)
            self._changed()

    def heartbeat(self, beat: Any = None, *_: Any) -> None:
        if not isinstance(beat, dict):
            return
        found = as_monitor_id(beat.get("monitorID"))
        if found is not None:
            self._beat_on(found, beat)
            if isinstance(beat.get("time"), str):
                self._live_beats[found] = beat["time"]
            self._changed()

    def uptime(self, monitor_id: Any = None, period: Any = None, ratio: Any = None) -> None:
        found = as_monitor_id(monitor_id)
        if found in self.monitors and str(period) == "24" and isinstance(ratio, int | float):
            self.monitors[found].uptime_24h = float(ratio)
