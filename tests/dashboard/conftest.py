"""Dashboard fixtures: simulators (started once, reset per test), apps served by uvicorn
with the simulators configured, signed-in session cookies and Socket.IO clients."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
from tests.factories.users import create_user
from tests.support.servers import ServedApp
from tests.support.socket_listener import Listener

from medianest.app import MediaNestApp, build_context, close_context, create_app
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import User
from medianest.auth.sessions import store as session_store
from medianest.context import AppContext
from medianest.core.realtime import Realtime
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator, PlexSimulator, UptimeKumaSimulator
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_API_KEY
from medianest_simulators.plextv_models import OWNER_TOKEN
from medianest_simulators.uptime_kuma import API_KEY as KUMA_API_KEY

# Generous: a loaded CI machine must not turn a healthy simulator offline.
CHECK_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def sim_settings(
    make_settings: Callable[..., Settings],
    plex: PlexSimulator,
    overseerr: OverseerrSimulator,
    kuma: UptimeKumaSimulator,
) -> Settings:
    """Settings pointing at the simulators, with a fast monitor."""
    return make_settings(
        plex_url=plex.url,
        plex_token=OWNER_TOKEN,
        overseerr_url=overseerr.url,
        overseerr_api_key=OVERSEERR_API_KEY,
        uptime_kuma_url=kuma.url,
        uptime_kuma_api_key=KUMA_API_KEY,
        health_check_interval_seconds=0.25,
        health_check_timeout_seconds=CHECK_TIMEOUT_SECONDS,
        http_retry_attempts=1,
        breaker_min_volume=1000,  # every check reaches the simulator (no open breaker)
    )


@dataclass
class Storage:
    """The app context without a server or background parts: for factories and assertions."""

    ctx: AppContext


@pytest.fixture
async def storage(sim_settings: Settings) -> AsyncIterator[Storage]:
    ctx = await build_context(sim_settings, Realtime(None), run_migrations=False)
    yield Storage(ctx)
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


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Settings], Coroutine[Any, Any, LoopServedApp]]]:
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


async def session_cookie(storage: Storage, user: User) -> str:
    """A Cookie header value carrying a fresh session for `user`."""
    async with session_scope(storage.ctx.session_factory) as session:
        issued = await session_store.create_session(
            session, user=user, settings=storage.ctx.settings, ip="127.0.0.1", user_agent="pytest"
        )
    return f"{SESSION_COOKIE}={issued.token}"


@pytest.fixture
async def alice(storage: Storage) -> User:
    return await create_user(storage, "alice", plex_id="1002")  # type: ignore[arg-type]


@pytest.fixture
async def bob(storage: Storage) -> User:
    return await create_user(storage, "bob", plex_id="1003")  # type: ignore[arg-type]


@pytest.fixture
async def listeners() -> AsyncIterator[Callable[[], Listener]]:
    made: list[Listener] = []

    def make() -> Listener:
        listener = Listener()
        made.append(listener)
        return listener

    yield make
    for listener in made:
        await listener.close()
