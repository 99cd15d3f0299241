"""Socket.IO server: rooms per user, for administrators and for status updates, Redis
fan-out when configured.

Who may connect is decided by an authenticator the auth package installs; the
server picks the rooms from the session, never from what the client sends. A page of
another site may not open a socket (Origin check), and a socket lives no longer than
the session or token that let it in (`recheck`, driven by the auth package).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import socketio

from medianest.core.logging import get_logger
from medianest.core.loops import call_on, cancel_until_done
from medianest.core.pubsub import STOP_WAIT_SECONDS, channel
from medianest.core.redis_guard import RedisGuard
from medianest.core.socketio_redis import RedisManager

log = get_logger(__name__)

STATUS_ROOM = "status-updates"
# Administrators' sockets: they see and stop every user's downloads, so they follow them live.
ADMINS_ROOM = "admins"
# Every server and external emitter of a deployment share this channel (core/pubsub.py).
SOCKETIO_CHANNEL = "socketio"


@dataclass(frozen=True)
class SocketPrincipal:
    """Who a socket was let in as, and by which credential: the hash of a session token
    or of a personal API token. Kept so the socket can be re-checked when either ends."""

    user_id: str
    credential: str
    # The role when the socket came in; a socket whose user's role changed is re-let in.
    is_admin: bool = False


# Given the ASGI environ and the client's auth payload, who it is, or None.
Authenticator = Callable[[dict[str, Any], Any], Awaitable[SocketPrincipal | None]]
# Given principals, those still allowed (session or token alive, user active).
Revalidator = Callable[[list[SocketPrincipal]], Awaitable[set[SocketPrincipal]]]
# Called after a socket joined its rooms, to send it the current state at once.
OnConnect = Callable[[str, str], Awaitable[None]]


def user_room(user_id: Any) -> str:
    return f"user:{user_id}"


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class Realtime:
    def __init__(self, redis_url: str | None = None, *, public_url: str | None = None) -> None:
        manager = (
            RedisManager(redis_url, channel=channel(redis_url, SOCKETIO_CHANNEL))
            if redis_url
            else None
        )
        self.public_origin = _origin_of(public_url) if public_url else None
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=manager,
            cors_allowed_origins=self._origin_allowed,
            logger=False,
            engineio_logger=False,
        )
        self.authenticator: Authenticator | None = None
        self.revalidator: Revalidator | None = None
        self.on_connect_hooks: list[OnConnect] = []
        # This instance's open sockets: sid -> who. Their count is the connected gauge.
        self.sockets: dict[str, SocketPrincipal] = {}
        self._recheck: set[str] = set()
        self._recheck_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the one the sockets live on
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("subscribe:status", self._subscribe_status)

    def share_redis_guard(self, guard: RedisGuard) -> None:
        """Skip Redis for fan-out when the cache and the limits found it away, and the
        other way round: one hung call, not one per part (core/redis_guard.py)."""
        manager = self.sio.manager
        if isinstance(manager, RedisManager):
            manager.guard = guard

    @property
    def connected(self) -> int:
        return len(self.sockets)

    def _origin_allowed(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """A browser's page may open a socket only from this site: its Origin is the
        public URL's, or the host it asked for (same origin). Without an Origin header
        (scripts, not browsers) engine.io does not ask."""
        if not origin:
            return True
        origin = origin.lower()
        if self.public_origin is not None and origin == self.public_origin:
            return True
        host = str(environ.get("HTTP_HOST", "")).lower()
        if not host:
            return False
        asked = urlsplit(origin)
        # A proxy that forwards `Host: $host` drops the port the browser used.
        return asked.netloc == host or (":" not in host and asked.hostname == host)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if sid in self.sockets:
            return True  # a "connect" event sent by the client itself: nothing to do
        principal = await self.authenticator(environ, auth) if self.authenticator else None
        if principal is None:
            log.info("socket_refused", reason="unauthenticated")
            raise socketio.exceptions.ConnectionRefusedError("unauthenticated")
        await self.sio.save_session(sid, {"user_id": principal.user_id})
        await self.sio.enter_room(sid, user_room(principal.user_id))
        await self.sio.enter_room(sid, STATUS_ROOM)
        if principal.is_admin:
            await self.sio.enter_room(sid, ADMINS_ROOM)
        self.sockets[sid] = principal
        self._loop = asyncio.get_running_loop()
        for hook in self.on_connect_hooks:
            await hook(sid, principal.user_id)
        return True

    async def _disconnect(self, sid: str, *_args: Any) -> None:
        if self.sio.manager.is_connected(sid, "/"):
            return  # a "disconnect" event sent by a connected client: not a disconnect
        self.sockets.pop(sid, None)

    def recheck(self, targets: set[str]) -> None:
        """Sessions, tokens or users changed (user ids, credential hashes, or "*" for
        any): re-check the sockets they let in, soon, and disconnect those no longer
        allowed (signed out, password changed, user disabled, token revoked).

        Callable from any thread: the work is handed to the loop the sockets live on."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no socket was ever opened here
        call_on(loop, self._queue_recheck, targets)

    def _queue_recheck(self, targets: set[str]) -> None:
        every = "*" in targets
        affected = {
            sid
            for sid, who in self.sockets.items()
            if every or who.user_id in targets or who.credential in targets
        }
        if not affected or self.revalidator is None:
            return
        self._recheck |= affected
        if self._recheck_task is None or self._recheck_task.done():
            self._recheck_task = asyncio.get_running_loop().create_task(
                self._run_recheck(), name="socket-recheck"
            )

    async def _run_recheck(self) -> None:
        while self._recheck and self.revalidator is not None:
            sids, self._recheck = self._recheck, set()
            principals = {sid: self.sockets[sid] for sid in sids if sid in self.sockets}
            try:
                allowed = await self.revalidator(list(set(principals.values())))
            except Exception as exc:  # a failed check (database down) is retried next change
                log.warning("socket_recheck_failed", error=type(exc).__name__)
                self._recheck |= sids
                return
            for sid, principal in principals.items():
                if principal not in allowed:
                    log.info("socket_disconnected", reason="credential_ended")
                    self.sockets.pop(sid, None)
                    await self.sio.disconnect(sid)

    async def _subscribe_status(self, sid: str, *_args: Any) -> dict[str, bool]:
        if sid not in self.sockets:
            return {"ok": False}
        await self.sio.enter_room(sid, STATUS_ROOM)
        for hook in self.on_connect_hooks:
            session = await self.sio.get_session(sid)
            await hook(sid, session["user_id"])
        return {"ok": True}

    async def emit_to_user(self, user_id: Any, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, room=user_room(user_id))

    async def emit_to_user_and_admins(self, user_id: Any, event: str, data: dict[str, Any]) -> None:
        """The owner and every administrator (a socket in both rooms gets it once)."""
        await self.sio.emit(event, data, room=[user_room(user_id), ADMINS_ROOM])

    async def emit_status(self, data: dict[str, Any]) -> None:
        await self.sio.emit("service:status", data, room=STATUS_ROOM)

    async def stop(self) -> None:
        """At the app's shutdown: engine.io's background task, and the Redis listener that
        python-socketio starts with the first socket and never stops itself. That listener
        retries on any error, and redis-py can turn a cancellation in the middle of a read
        into one: left to the event loop's close, it kept the process from ending."""
        await self.sio.shutdown()
        manager = self.sio.manager
        listener = getattr(manager, "thread", None)
        if isinstance(listener, asyncio.Task) and not await cancel_until_done(
            listener, within=STOP_WAIT_SECONDS
        ):
            log.warning("socketio_listener_still_stopping")
        await _close_redis_of(manager)

    async def emit_to_sid(self, sid: str, event: str, data: Any) -> None:
        await self.sio.emit(event, data, to=sid)


class ExternalEmitter:
    """Emit to clients of every app instance from a process without a Socket.IO server
    (a separate worker), through the same Redis channel the servers listen on."""

    def __init__(self, redis_url: str) -> None:
        self.manager = RedisManager(
            redis_url, channel=channel(redis_url, SOCKETIO_CHANNEL), write_only=True
        )

    async def emit_to_user(self, user_id: Any, event: str, data: dict[str, Any]) -> None:
        await self.manager.emit(event, data, namespace="/", room=user_room(user_id))

    async def emit_to_user_and_admins(self, user_id: Any, event: str, data: dict[str, Any]) -> None:
        await self.manager.emit(event, data, namespace="/", room=[user_room(user_id), ADMINS_ROOM])

    async def emit_status(self, data: dict[str, Any]) -> None:
        await self.manager.emit("service:status", data, namespace="/", room=STATUS_ROOM)

    async def aclose(self) -> None:
        await _close_redis_of(self.manager)


async def _close_redis_of(manager: Any) -> None:
    """A python-socketio manager's Redis client (the in-memory manager has none)."""
    if isinstance(manager, RedisManager):
        await manager.aclose()


def external_emitter(redis_url: str) -> ExternalEmitter:
    """A write-only emitter for worker processes (needs Redis: without it there is no bus)."""
    return ExternalEmitter(redis_url)
