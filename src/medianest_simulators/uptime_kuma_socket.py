"""Uptime Kuma 2.x's Socket.IO API for the simulator: the events and payloads of
server/server.js (`login`, `loginByToken`), server/client.js (the lists sent after a
login) and server/model/monitor.js (`heartbeat`, `avgPing`, `uptime`), as a real Kuma
2.5.3 sent them (docs/uptime-kuma-real.md).

As in Kuma: a new socket first gets `info` without the version, then `loginRequired`
once its handlers are attached (with `disable_auth`, Kuma's "Disable Auth", it sends
afterLogin's lists and `autoLogin` instead); `login` answers
`{ok, token}`, `{tokenRequired: true}` for a 2FA account, or `{ok: false, msg}`, and only
after afterLogin has sent its lists; logins share one limit of 20 a minute
(server/rate-limiter.js); the token stops working when the password changes. With
`kuma3=True` the socket answers no login at all, as Kuma 3's cookie sessions do.

With `kuma_line = "1.23"` it is Kuma 1.23.x (tag 1.23.17): no `loginRequired`
(server/server.js:1621-1627), the sign-in answered before afterLogin sends anything (its
afterLogin is not awaited, server.js:311,365), English refusals (server.js:325,335,407,417), a
monitor change sent as the whole `monitorList` (server.js:907,926,971) where 2.x sends
`updateMonitorIntoList` / `deleteMonitorFromList` (uptime-kuma-server.js:234-249).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import socketio

if TYPE_CHECKING:
    from medianest_simulators.uptime_kuma import Monitor

USER_ID = 1
KUMA_VERSION = "2.5.3"  # the release the shapes were checked against
KUMA_1_VERSION = "1.23.17"  # the last of the 1.23 line
LOGINS_PER_MINUTE = 20
TOO_FREQUENT = "Too frequently, try again later."
NO_ANSWER_SECONDS = 120.0


@dataclass
class SocketAccount:
    """The one Kuma account (Kuma has no second user or roles)."""

    username: str = "admin"
    password: str = "admin123"
    twofa_code: str | None = None  # set: the account has 2FA, this is the current code


class LoginLimiter:
    """Kuma's loginRateLimiter: the `limiter` package's RateLimiter, 20 a minute with
    fireImmediately. Its minute starts at the first login after the last minute ended,
    and a refused login takes no token: a client retrying while refused is let in again
    when that minute is over. In memory: a Kuma restart starts it afresh."""

    def __init__(self) -> None:
        self.started = float("-inf")
        self.taken = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self.started >= 60:
            self.started, self.taken = now, 0
        if self.taken >= LOGINS_PER_MINUTE:
            return False
        self.taken += 1
        return True


async def _never_answer() -> None:
    """Kuma 3 has no socket login handler: the client's ack never comes (python-socketio
    acks every handled event, so the handler outlasts any client's wait instead)."""
    await asyncio.sleep(NO_ANSWER_SECONDS)


class KumaSocketServer:
    """One Socket.IO server; rebuilt on every start (it belongs to the serving loop)."""

    def __init__(self, owner: Any, *, secret: bytes) -> None:
        self.owner = owner  # the UptimeKumaSimulator: monitors, lock, account, switches
        owner.signed_in_sids = set()  # a restart drops every socket
        owner.login_limiter = LoginLimiter()
        self.secret = secret
        self._tasks: set[asyncio.Task[None]] = set()
        interval, timeout = owner.ping_seconds
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins="*",
            logger=False,
            engineio_logger=False,
            ping_interval=interval,
            ping_timeout=timeout,
        )
        self.sio.on("connect", self._connect)
        self.sio.on("login", self._login)
        self.sio.on("loginByToken", self._login_by_token)
        self.sio.on("logout", self._logout)
        self.sio.on("disconnect", self._disconnect)

    # --- handlers ---------------------------------------------------------------------
    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.owner.socket_connects += 1
        await self.sio.emit("info", self._info(hide_version=True), to=sid)
        if self.owner.kuma3:
            return
        # Kuma's last word on a new socket, once its handlers are attached: 1.23 says
        # nothing unless its "Disable Auth" is on, and sends autoLogin before the lists.
        if self.owner.disable_auth:
            await self._after_login(sid)
            await self.sio.emit("autoLogin", to=sid)
        elif not self.old_line:
            await self.sio.emit("loginRequired", to=sid)

    async def _login(self, sid: str, data: Any = None) -> dict[str, Any] | None:
        if self.owner.kuma3:
            await _never_answer()
            return None
        if not isinstance(data, dict):
            return None
        if not self.owner.login_limiter.allow():
            return {"ok": False, "msg": TOO_FREQUENT}
        self.owner.socket_logins += 1
        account: SocketAccount = self.owner.account
        if data.get("username") != account.username or data.get("password") != account.password:
            return self._refusal("authIncorrectCreds", "Incorrect username or password.")
        if account.twofa_code is not None:
            if not data.get("token"):
                return {"tokenRequired": True}
            if data.get("token") != account.twofa_code:
                return self._refusal("authInvalidToken", "Invalid Token!")
        await self._after_login(sid)
        return {"ok": True, "token": self.token_for(account)}

    async def _login_by_token(self, sid: str, token: Any = None) -> dict[str, Any] | None:
        if self.owner.kuma3:
            await _never_answer()
            return None
        self.owner.socket_token_logins += 1
        if not isinstance(token, str) or not hmac.compare_digest(
            token, self.token_for(self.owner.account)
        ):
            return self._refusal("authInvalidToken", "Invalid token.")
        await self._after_login(sid)
        return {"ok": True}

    async def _logout(self, sid: str, *_: Any) -> None:
        self.owner.signed_in_sids.discard(sid)
        await self.sio.leave_room(sid, str(USER_ID))

    async def _disconnect(self, sid: str, *_: Any) -> None:
        self.owner.signed_in_sids.discard(sid)

    @property
    def old_line(self) -> bool:
        return bool(self.owner.kuma_line == "1.23")

    def _refusal(self, key: str, english: str) -> dict[str, Any]:
        """2.x refuses with an i18n key, 1.23 in English."""
        if self.old_line:
            return {"ok": False, "msg": english}
        return {"ok": False, "msg": key, "msgi18n": True}

    # --- what Kuma sends -------------------------------------------------------------------
    async def _after_login(self, sid: str) -> None:
        """Kuma's afterLogin: join the user's room, then the lists, then per monitor its
        stats and its last 100 heartbeats (Kuma sends those concurrently, interleaved).
        Kuma 1.23 does not await it: the answer goes first, the lists follow."""
        await self.sio.enter_room(sid, str(USER_ID))
        self.owner.signed_in_sids.add(sid)
        self.owner.peak_signed_in = max(self.owner.peak_signed_in, len(self.owner.signed_in_sids))
        if self.old_line:
            task = asyncio.create_task(self._send_lists(sid))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            await self._send_lists(sid)

    async def _send_lists(self, sid: str) -> None:
        if self.old_line:
            await asyncio.sleep(0.1)  # its database reads (per monitor in 1.23): the answer first
        with self.owner.lock:
            monitors: list[Monitor] = list(self.owner.monitors.values())
            monitor_list = {str(m.id): self.monitor_json(m) for m in monitors}
            beat_lists = [(m.id, self.heartbeat_rows(m)) for m in monitors]
        await self.sio.emit("monitorList", monitor_list, to=sid)
        delay = self.owner.after_login_seconds
        await self.sio.emit("monitorTypeList", {}, to=sid)
        await self.sio.emit("maintenanceList", {}, to=sid)
        await self.sio.emit("info", self._info(hide_version=False), to=sid)
        for event, payload in (
            ("notificationList", []),
            ("proxyList", []),
            ("dockerHostList", []),
            ("apiKeyList", []),
            ("remoteBrowserList", []),
            ("statusPageList", {}),
        ):
            await self.sio.emit(event, payload, to=sid)
        # Kuma reads each history and then sends it; a beat in between reaches the room
        # first, as Monitor.beat emits a heartbeat before it stores it (model/monitor.js).
        if delay > 0:
            await asyncio.sleep(delay)
        if self.old_line:  # 1.23's afterLogin: `await sleep(500)`, then reads (server.js:1725)
            await asyncio.sleep(0.5)
            with self.owner.lock:
                ids = {m.id for m in monitors}
                monitors = [m for m in self.owner.monitors.values() if m.id in ids]
                beat_lists = [(m.id, self.heartbeat_rows(m)) for m in monitors]
        # afterLogin loops `for (monitorID in monitorList)`: here the ids are strings.
        for m, (monitor_id, rows) in zip(monitors, beat_lists, strict=True):
            await self._send_stats(m, to=sid, as_key=True)
            await self.sio.emit("heartbeatList", (str(monitor_id), rows, False), to=sid)

    async def push_heartbeat(self, monitor: Monitor, beat: dict[str, Any]) -> None:
        """Monitor.beat's `io.to(user_id).emit("heartbeat", bean.toJSON())` and sendStats."""
        await self.sio.emit("heartbeat", self.heartbeat_json(monitor, beat), room=str(USER_ID))
        await self._send_stats(monitor, room=str(USER_ID))

    async def monitor_changed(self, monitor: Monitor) -> None:
        """An added, edited, paused or resumed monitor: 2.x sends it alone as
        `updateMonitorIntoList` {id: toJSON} (server.js:793,978,1093,1112), 1.23 the whole
        `monitorList` again (1.23 server.js:670,813,907,926); to every socket signed in."""
        if self.old_line:
            await self._send_whole_list()
        else:
            payload = {str(monitor.id): self.monitor_json(monitor)}
            await self.sio.emit("updateMonitorIntoList", payload, room=str(USER_ID))

    async def monitor_deleted(self, monitor: Monitor, in_flight: dict[str, Any] | None) -> None:
        """deleteMonitor: the monitor's stop() clears its timer but not a check already
        running (model/monitor.js:1211-1213), then the row goes and 2.x sends
        `deleteMonitorFromList` id (server.js:1208), 1.23 the whole `monitorList` (1.23
        server.js:971). The running check ends later: 1.23's Monitor.beat emits its
        heartbeat and stats before storing it (1.23 monitor.js:1009-1012), `in_flight`;
        2.x first stores the uptime stats (monitor.js:1053-1054), which the deleted
        monitor's foreign key refuses, so no beat leaves (a real 2.5.3 sent none)."""
        if self.old_line:
            await self._send_whole_list()
            if in_flight is not None:
                await self.push_heartbeat(monitor, in_flight)
        else:
            await self.sio.emit("deleteMonitorFromList", monitor.id, room=str(USER_ID))

    async def _send_whole_list(self) -> None:
        with self.owner.lock:
            listed = {str(m.id): self.monitor_json(m) for m in self.owner.monitors.values()}
        await self.sio.emit("monitorList", listed, room=str(USER_ID))

    async def _send_stats(
        self,
        monitor: Monitor,
        *,
        to: str | None = None,
        room: str | None = None,
        as_key: bool = False,
    ) -> None:
        target: dict[str, Any] = {"to": to} if to else {"room": room}
        monitor_id: int | str = str(monitor.id) if as_key else monitor.id
        ping = monitor.ping if monitor.status == 1 else None
        await self.sio.emit("avgPing", (monitor_id, ping), **target)
        ratio = round(monitor.uptime(), 4)
        for period in (24, 720) if self.old_line else (24, 720, "1y"):
            await self.sio.emit("uptime", (monitor_id, period, ratio), **target)

    def _info(self, *, hide_version: bool) -> dict[str, Any]:
        info: dict[str, Any] = {
            "primaryBaseURL": None,
            "serverTimezone": "UTC",
            "serverTimezoneOffset": "+00:00",
        }
        if not hide_version:
            info |= {
                "version": KUMA_1_VERSION if self.old_line else KUMA_VERSION,
                "latestVersion": None,  # Kuma's update check, offline here
                "isContainer": False,
                "dbType": "sqlite",
                "runtime": {"platform": "linux", "arch": "x64"},
            }
        return info

    @staticmethod
    def monitor_json(m: Monitor) -> dict[str, Any]:
        """The fields of Monitor.toJSON that a reader uses (the rest is monitor settings)."""
        return {
            "id": m.id,
            "name": m.name,
            "description": None,
            "path": [m.name],
            "pathName": m.name,
            "parent": None,
            "childrenIDs": [],
            "url": m.url or "https://",
            "method": "GET",
            "hostname": m.hostname,
            "port": m.port,
            "maxretries": 0,
            "weight": 2000,
            "active": m.active,
            "forceInactive": False,
            "type": m.type,
            "interval": int(m.interval) if m.interval.is_integer() else m.interval,
            "retryInterval": 60,
            "tags": [],
            "maintenance": m.status == 3,
        }

    @staticmethod
    def heartbeat_rows(m: Monitor) -> list[dict[str, Any]]:
        """sendHeartbeatList's rows: raw `heartbeat` table rows (snake_case), oldest first."""
        return [
            {
                "id": m.id * 100_000 + n,
                "important": 1 if n == 0 or beat["status"] != m.beats[n - 1]["status"] else 0,
                "monitor_id": m.id,
                "status": beat["status"],
                "msg": beat["msg"],
                "time": beat["time"],
                "ping": beat["ping"],
                "duration": 0,
                "down_count": 0,
                "end_time": beat["time"],
                "retries": 0,
                "response": None,
            }
            for n, beat in enumerate(m.beats)
        ]

    @staticmethod
    def heartbeat_json(m: Monitor, beat: dict[str, Any]) -> dict[str, Any]:
        """Heartbeat.toJSON as it reaches a socket: camelCase monitorID, `important` a
        boolean, and the bean's unset fields absent, not null (JSON drops `undefined`):
        no `ping` on a beat that got no answer, no `duration` nor `response` at all."""
        previous = m.beats[-2]["status"] if len(m.beats) > 1 else None
        payload: dict[str, Any] = {
            "monitorID": m.id,
            "status": beat["status"],
            "time": beat["time"],
            "msg": beat["msg"],
        }
        if beat["ping"] is not None:
            payload["ping"] = beat["ping"]
        return payload | {
            "important": previous is None or previous != beat["status"],
            "retries": 0,
        }

    def token_for(self, account: SocketAccount) -> str:
        """A stand-in for Kuma's JWT: bound to the password, so changing it revokes it."""
        digest = hmac.new(
            self.secret, f"{account.username}:{account.password}".encode(), hashlib.sha256
        ).hexdigest()
        return f"simjwt.{account.username}.{digest}"
