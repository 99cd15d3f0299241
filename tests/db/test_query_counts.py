"""No N+1: every list endpoint and page runs as many SQL statements for 100 rows as for
10 (counted on the app's engine with SQLAlchemy's `before_cursor_execute`)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.media.models import MediaRequest
from medianest.notifications.models import Notification
from medianest.settings import Settings
from medianest.youtube.models import YoutubeDownload, YoutubeSubscription
from tests.factories.users import create_user

HTMX = {"HX-Request": "true"}
# (path, headers): the lists the pages poll or page through, and the pages themselves.
LISTS: list[tuple[str, dict[str, str]]] = [
    ("/api/youtube/downloads?pageSize=100", {}),
    ("/api/youtube/downloads?pageSize=100&all=true", {}),
    ("/api/media/requests?pageSize=100", {}),
    ("/api/media/requests?pageSize=100&all=true", {}),
    ("/api/admin/users?pageSize=100", {}),
    ("/api/youtube/subscriptions", {}),
    ("/api/notifications?limit=100", {}),
    ("/youtube", {}),
    ("/youtube?all=true", {}),
    ("/youtube/downloads", HTMX),
    ("/media", {}),
    ("/media/requests", HTMX),
    ("/admin", {}),
    ("/admin/users", HTMX),
    ("/youtube/subscriptions", {}),
    ("/youtube/subscriptions/list", HTMX),
    ("/notifications", {}),
    ("/notifications/list", HTMX),
]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # The endpoints' own queries are counted: a kept answer (core/response_cache.py)
    # would run none.
    return make_settings(response_cache_seconds=0)


@dataclass
class Counted:
    statements: int
    sql: list[str]
    body_bytes: int


_counting: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "counting", default=None
)


@contextmanager
def statements_of_this_task(app: MediaNestApp) -> Iterator[list[str]]:
    """The statements run on behalf of requests made in this block (the ASGI transport
    runs the app in the test's task); background loops on the same engine don't count."""

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen = _counting.get()
        if seen is not None:
            seen.append(statement)

    engine = app.ctx.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    seen: list[str] = []
    token = _counting.set(seen)
    try:
        yield seen
    finally:
        _counting.reset(token)
        event.remove(engine, "before_cursor_execute", count)


async def add_rows(
    app: MediaNestApp, admin: User, others: list[User], start: int, end: int
) -> None:
    """Rows `start`..`end`: half the downloads and requests are the admin's, half are
    other users' (the `all=true` views name their owners); subscriptions and
    notifications are the admin's, and half the downloads come from a subscription."""
    async with session_scope(app.ctx.session_factory) as session:
        subscriptions = [
            YoutubeSubscription(user_id=admin.id, url=f"https://www.youtube.com/@channel{i}")
            for i in range(start, end)
        ]
        session.add_all(subscriptions)
        await session.flush()
        for i, subscription in zip(range(start, end), subscriptions, strict=True):
            owner = admin if i % 2 == 0 else others[i % len(others)]
            session.add(
                YoutubeDownload(
                    user_id=owner.id,
                    url=f"https://youtu.be/video{i:06d}",
                    title=f"Video {i}",
                    subscription_id=subscription.id if i % 4 < 2 else None,
                )
            )
            session.add(
                MediaRequest(user_id=owner.id, title=f"Film {i}", media_type="movie", tmdb_id=i)
            )
            session.add(Notification(user_id=admin.id, event="request.available", title=f"N {i}"))


async def count_each(app: MediaNestApp, client: httpx.AsyncClient) -> dict[str, Counted]:
    counts: dict[str, Counted] = {}
    for path, headers in LISTS:
        warm = await client.get(path, headers=headers)  # caches filled, as for a polling page
        assert warm.status_code == 200, (path, warm.text[:300])
        with statements_of_this_task(app) as seen:
            answer = await client.get(path, headers=headers)
        assert answer.status_code == 200, path
        counts[path] = Counted(len(seen), seen, len(answer.content))
    return counts


async def test_every_list_endpoint_and_page_runs_as_many_statements_for_100_rows_as_for_10(
    app: MediaNestApp, admin: User, admin_client: httpx.AsyncClient
) -> None:
    others = [await create_user(app, f"user{i:03d}") for i in range(10)]
    await add_rows(app, admin, others, 0, 10)
    at_10 = await count_each(app, admin_client)
    others += [await create_user(app, f"user{i:03d}") for i in range(10, 100)]
    await add_rows(app, admin, others, 10, 100)
    at_100 = await count_each(app, admin_client)

    shown_more = {path for path in at_10 if at_100[path].body_bytes > at_10[path].body_bytes}
    assert shown_more == {path for path, _ in LISTS}  # each answer lists the new rows
    assert all(c.statements > 0 for c in at_10.values()), at_10  # the counter sees them
    grew = {
        path: (at_10[path].statements, at_100[path].statements, at_100[path].sql)
        for path in at_10
        if at_100[path].statements != at_10[path].statements
    }
    assert not grew, grew
