"""The bell over Socket.IO against served apps: a new notification reaches the user's open
tabs with the unread count, and marking read on one instance re-draws the bell of a tab
connected to another instance (Redis fan-out; run with --backend=postgres)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from medianest.app import build_context, close_context, create_app
from medianest.auth.models import User
from medianest.core.realtime import Realtime
from medianest.db.engine import session_scope
from medianest.notifications import service
from medianest.settings import Settings
from tests.dashboard.conftest import LoopServedApp, Storage, session_cookie
from tests.factories.users import create_user
from tests.support.http import http_client
from tests.support.socket_listener import Listener

Serve = Callable[[Settings], Coroutine[Any, Any, LoopServedApp]]


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    ctx = await build_context(settings, Realtime(None), run_migrations=False)
    yield Storage(ctx)
    await close_context(ctx)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    served: list[LoopServedApp] = []

    async def start(settings: Settings) -> LoopServedApp:
        server = LoopServedApp(create_app(settings, run_migrations=False))
        await asyncio.to_thread(server.start)
        served.append(server)
        return server

    yield start
    for server in served:
        await asyncio.to_thread(server.stop)


@pytest.fixture
async def listeners() -> AsyncIterator[Callable[[], Listener]]:
    made: list[Listener] = []

    def make() -> Listener:
        made.append(Listener())
        return made[-1]

    yield make
    for listener in made:
        await listener.close()


@pytest.fixture
async def carol(storage: Storage) -> User:
    return await create_user(storage, "carol", plex_id="1009")  # type: ignore[arg-type]


async def test_a_new_notification_reaches_the_open_tab_with_the_unread_count(
    serve: Serve,
    settings: Settings,
    storage: Storage,
    carol: User,
    listeners: Callable[[], Listener],
) -> None:
    server = await serve(settings)
    tab = await listeners().connect(server.url, await session_cookie(storage, carol))
    async with session_scope(storage.ctx.session_factory) as session:
        await service.notify(session, user_ids=[carol.id], event="download.finished", title="Ready")
    (event,) = await tab.wait_for("notification:new", 1, timeout=5)
    assert event["unread"] == 1 and event["notification"]["title"] == "Ready"


async def test_marking_read_on_one_instance_updates_a_tab_on_another(
    serve: Serve,
    settings: Settings,
    storage: Storage,
    carol: User,
    listeners: Callable[[], Listener],
    redis_url: str | None,
) -> None:
    if redis_url is None:
        pytest.skip("instances share Socket.IO rooms through Redis (--backend=postgres)")
    first, second = await serve(settings), await serve(settings)
    cookie = await session_cookie(storage, carol)
    phone = await listeners().connect(second.url, cookie)
    async with session_scope(storage.ctx.session_factory) as session:
        for title in ("one", "two"):
            await service.notify(
                session, user_ids=[carol.id], event="download.finished", title=title
            )
    await phone.wait_for("notification:new", 2, timeout=10)
    async with http_client(base_url=first.url) as laptop:
        laptop.headers["Cookie"] = cookie + "; csrftoken=t"
        laptop.headers["X-CSRF-Token"] = "t"
        answer = await laptop.post("/api/notifications/read", json={"all": True})
        assert answer.status_code == 200, answer.text
    (event,) = await phone.wait_for("notification:read", 1, timeout=5)
    assert event == {"unread": 0}
    # Each notification reached the phone once, though two instances run workers.
    assert len(phone.received("notification:new")) == 2
