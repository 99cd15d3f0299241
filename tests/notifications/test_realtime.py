"""The bell over Socket.IO against served apps: a new notification reaches the user's open
tabs with the unread count, and marking read on one instance re-draws the bell of a tab
connected to another instance (Redis fan-out; run with --backend=postgres)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.notifications import service
from medianest.settings import Settings
from tests.support.http import http_client
from tests.support.served_apps import Serve, Storage, session_cookie
from tests.support.socket_listener import Listener


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
