"""Socket.IO server: rooms per user and for status updates, Redis fan-out when configured.

Who may connect is decided by an authenticator the auth package installs; the
server picks the rooms from the session, never from what the client sends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from medianest.core.logging import get_logger

log = get_logger(__name__)

STATUS_ROOM = "status-updates"
# Every server and external emitter must share the Redis channel to reach each other's clients.
SOCKETIO_CHANNEL = "medianest-socketio"

# Given the ASGI environ and the client's auth payload, return the user id or None.
Authenticator = Callable[[dict[str, Any], Any], Awaitable[str | None]]
# Called after a socket joined its rooms, to send it the current state at once.
OnConnect = Callable[[str, str], Awaitable[None]]


def user_room(user_id: Any) -> str:
    return f"user:{user_id}"


class Realtime:
    def __init__(self, redis_url: str | None = None) -> None:
        manager = (
            socketio.AsyncRedisManager(redis_url, channel=SOCKETIO_CHANNEL) if redis_url else None
        )
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=manager,
            cors_allowed_origins=[],  # same origin only
            logger=False,
            engineio_logger=False,
        )
        self.authenticator: Authenticator | None = None
        self.on_connect_hooks: list[OnConnect] = []
        self.connected = 0
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("subscribe:status", self._subscribe_status)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        user_id = await self.authenticator(environ, auth) if self.authenticator else None
        if user_id is None:
            log.info("socket_refused", reason="unauthenticated")
            raise socketio.exceptions.ConnectionRefusedError("unauthenticated")
        await self.sio.save_session(sid, {"user_id": user_id})
        await self.sio.enter_room(sid, user_room(user_id))
        await self.sio.enter_room(sid, STATUS_ROOM)
        self.connected += 1
        for hook in self.on_connect_hooks:
            await hook(sid, user_id)
        return True

    async def _disconnect(self, sid: str, *_args: Any) -> None:
        self.connected = max(0, self.connected - 1)

    async def _subscribe_status(self, sid: str, *_args: Any) -> dict[str, bool]:
        await self.sio.enter_room(sid, STATUS_ROOM)
        for hook in self.on_connect_hooks:
            session = await self.sio.get_session(sid)
            await hook(sid, session["user_id"])
        return {"ok": True}

    async def emit_to_user(self, user_id: Any, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, room=user_room(user_id))

    async def emit_status(self, data: dict[str, Any]) -> None:
        await self.sio.emit("service:status", data, room=STATUS_ROOM)

    async def emit_to_sid(self, sid: str, event: str, data: Any) -> None:
        await self.sio.emit(event, data, to=sid)


class ExternalEmitter:
    """Emit to clients of every app instance from a process without a Socket.IO server
    (a separate worker), through the same Redis channel the servers listen on."""

    def __init__(self, redis_url: str) -> None:
        self.manager = socketio.AsyncRedisManager(
            redis_url, channel=SOCKETIO_CHANNEL, write_only=True
        )

    async def emit_to_user(self, user_id: Any, event: str, data: dict[str, Any]) -> None:
        await self.manager.emit(event, data, namespace="/", room=user_room(user_id))

    async def emit_status(self, data: dict[str, Any]) -> None:
        await self.manager.emit("service:status", data, namespace="/", room=STATUS_ROOM)

    async def aclose(self) -> None:
        if self.manager.redis is not None:
            await self.manager.redis.aclose()


def external_emitter(redis_url: str) -> ExternalEmitter:
    """A write-only emitter for worker processes (needs Redis: without it there is no bus)."""
    return ExternalEmitter(redis_url)
