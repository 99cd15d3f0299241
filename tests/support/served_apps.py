"""Apps served by uvicorn in a thread whose event loop the test can reach, the storage
beside them (the app context without a server, for factories and assertions), signed-in
session cookies and Socket.IO listeners: what the dashboard, notification and Redis
fault tests share. A directory takes the fixtures by importing them into its conftest
and gives its own `storage` (`storage_of` its settings)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest

from medianest.app import MediaNestApp, build_context, close_context, create_app
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import User
from medianest.auth.sessions import store as session_store
from medianest.context import AppContext
from medianest.core.realtime import Realtime
from medianest.db.engine import session_scope
from medianest.settings import Settings
from tests.factories.users import create_user
from tests.support.servers import ServedApp
from tests.support.socket_listener import Listener


@dataclass
class Storage:
    """The app context without a server or background parts: for factories and assertions."""

    ctx: AppContext


@contextlib.asynccontextmanager
async def storage_of(settings: Settings) -> AsyncIterator[Storage]:
    """The storage of `settings`' database (no Redis fan-out, no migrations)."""
    ctx = await build_context(settings, Realtime(None), run_migrations=False)
    try:
        yield Storage(ctx)
    finally:
        await close_context(ctx)


class LoopServedApp(ServedApp):
    """A served app whose event loop the test can reach (to emit on the server's side)."""

    def __init__(self, app: MediaNestApp) -> None:
        super().__init__(app)
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.run(self._serve_here())  # asyncio.run cancels what is left at the end

    async def _serve_here(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve(self.sockets)

    async def call(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """Run a coroutine on the server's loop and wait for it from the test's loop."""
        assert self.loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), self.loop))


Serve = Callable[[Settings], Coroutine[Any, Any, LoopServedApp]]


async def session_cookie(storage: Storage, user: User) -> str:
    """A Cookie header value carrying a fresh session for `user`."""
    async with session_scope(storage.ctx.session_factory) as session:
        issued = await session_store.create_session(
            session, user=user, settings=storage.ctx.settings, ip="127.0.0.1", user_agent="pytest"
        )
    return f"{SESSION_COOKIE}={issued.token}"


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve apps on loopback ports; all are stopped after the test."""
    served: list[LoopServedApp] = []

    async def start(settings: Settings) -> LoopServedApp:
        server = LoopServedApp(create_app(settings, run_migrations=False))
        await asyncio.to_thread(server.start)
        served.append(server)
        return server

    yield start
    for server in served:
        if server.thread.is_alive():
            await asyncio.to_thread(server.stop)


@pytest.fixture
async def listeners() -> AsyncIterator[Callable[[], Listener]]:
    """Make Socket.IO listeners (browser tabs); all are closed after the test."""
    made: list[Listener] = []

    def make() -> Listener:
        listener = Listener()
        made.append(listener)
        return listener

    yield make
    for listener in made:
        await listener.close()


@pytest.fixture
async def alice(storage: Storage) -> User:
    return await create_user(storage, "alice", plex_id="1002")  # type: ignore[arg-type]


@pytest.fixture
async def bob(storage: Storage) -> User:
    return await create_user(storage, "bob", plex_id="1003")  # type: ignore[arg-type]


@pytest.fixture
async def carol(storage: Storage) -> User:
    return await create_user(storage, "carol", plex_id="1009")  # type: ignore[arg-type]
