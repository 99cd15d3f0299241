"""Fixtures for subscriptions, private delivery, quotas, the disk guard and the breaker:
the YouTube fixtures (loopback media server, Plex simulator on the test's download
root), a plex.tv simulator that knows alice's and bob's server tokens, and users whose
Plex tokens are the simulator's. Waiting reads the database, not the rate-limited API."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN, BOB_TOKEN
from tests.factories.users import create_user, signed_in_client
from tests.support.http import http_client
from tests.youtube.conftest import (  # noqa: F401  (fixtures shared with the YouTube tests)
    download_root,
    media_host,
    plex,
    youtube_settings,
)


@pytest.fixture
def plextv(_plextv_session: PlexTvSimulator, plex: PlexSimulator) -> PlexTvSimulator:  # noqa: F811
    _plextv_session.reset()
    _plextv_session.set_server_url(plex.url)
    return _plextv_session


@pytest.fixture
def extras_settings(
    youtube_settings: Callable[..., Settings],  # noqa: F811
    plextv: PlexTvSimulator,
) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "plex_tv_url": plextv.url,
            "subscription_poll_seconds": 0.5,
            "youtube_breaker_threshold": 2,
            "youtube_breaker_window_seconds": 60.0,
            "youtube_breaker_backoff_seconds": 30.0,
        }
        values.update(overrides)
        return youtube_settings(**values)

    return factory


@pytest.fixture
def settings(extras_settings: Callable[..., Settings]) -> Settings:
    """API tests: no workers and no scheduler, so nothing runs behind the test's back."""
    return extras_settings()


@pytest.fixture
async def worker_app(
    app_factory: Callable[[Settings], Any], extras_settings: Callable[..., Settings]
) -> MediaNestApp:
    """Workers and the subscription scheduler running in-process (the embedded mode)."""
    started: MediaNestApp = await app_factory(extras_settings(run_worker_in_process=True))
    return started


@pytest.fixture
async def alice(app: MediaNestApp) -> User:
    return await create_user(app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)


@pytest.fixture
async def bob(app: MediaNestApp) -> User:
    return await create_user(app, "bob", plex_id="1003", plex_token=BOB_TOKEN)


async def wait_for(
    app: MediaNestApp,
    condition: Callable[[list[YoutubeDownload]], bool],
    *,
    user_id: uuid.UUID,
    timeout: float = 45.0,
) -> list[YoutubeDownload]:
    """Poll the user's downloads (oldest first) until `condition` holds."""
    deadline = time.monotonic() + timeout
    rows: list[YoutubeDownload] = []
    while time.monotonic() < deadline:
        async with session_scope(app.ctx.session_factory) as session:
            rows = list(
                await session.scalars(
                    select(YoutubeDownload)
                    .where(YoutubeDownload.user_id == user_id)
                    .order_by(YoutubeDownload.created_at)
                )
            )
        if condition(rows):
            return rows
        await asyncio.sleep(0.1)
    seen = [(r.status, r.pause_reason, r.error, r.items) for r in rows]
    raise AssertionError(
        f"downloads never reached the state; last seen: {seen}\n{await what_waits(app)}"
    )


async def what_waits(app: MediaNestApp) -> str:
    """Where this process's tasks stand and, on PostgreSQL, which sessions wait for a lock:
    for a run that timed out (a CI run once saw a job stand still for 55 s between two items)."""
    lines = ["tasks:"]
    for task in asyncio.all_tasks():
        lines.append(f"  {task.get_name()}: {' <- '.join(reversed(_awaits(task)))}")
    if app.ctx.engine.dialect.name == "postgresql":
        async with session_scope(app.ctx.session_factory) as session:
            rows = await session.execute(
                text(
                    "SELECT pid, state, wait_event_type, wait_event, left(query, 160)"
                    " FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
            )
            lines += ["postgresql sessions:", *(f"  {tuple(row)}" for row in rows)]
    return "\n".join(lines)


def _awaits(task: asyncio.Task[Any], limit: int = 12) -> list[str]:
    """Where a task waits, outermost call first. `Task.get_stack` gives a waiting task's
    outermost frame only (a job stuck in its progress loop's stop showed as `_run:127`):
    this follows each coroutine to the one it awaits."""
    if task is asyncio.current_task():
        return [f"{f.f_code.co_name}:{f.f_lineno}" for f in task.get_stack(limit=limit)]
    where: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(where) < limit:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is None:
            break
        where.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return where


def all_finished(count: int) -> Callable[[list[YoutubeDownload]], bool]:
    def check(rows: list[YoutubeDownload]) -> bool:
        return len(rows) >= count and all(
            r.status in ("completed", "failed", "cancelled") for r in rows
        )

    return check


# --- a kid's restricted Plex account, and the admin's content rating for downloads -----
YOUTUBE_CONFIG = "/api/admin/config/youtube"


def restrict_kid(server: PlexSimulator, *ratings: str) -> None:
    """The owner restricts bob (the kid) to `ratings` (python-plexapi myplex.py
    `updateFriend(filterMovies={"contentRating": [...]})`; plex.tv stores the filter with
    the values comma-joined, the comma URL-encoded: plex_restrictions.py). Plex applies it
    to bob's own token."""
    server.restrict("bob", filterMovies="contentRating=" + "%2C".join(ratings))


async def as_plex_user(server: PlexSimulator, path: str, token: str) -> httpx.Response:
    """What a Plex user's own token is answered at `path` (their restrictions applied)."""
    async with http_client(base_url=server.url) as http:
        return await http.get(path, headers={"X-Plex-Token": token, "Accept": "application/json"})


async def plex_rows(server: PlexSimulator, path: str, token: str) -> list[dict[str, Any]]:
    """The rows a Plex user's own token lists at `path`."""
    answer = await as_plex_user(server, path, token)
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["MediaContainer"].get("Metadata", [])
    return rows


async def plex_titles(server: PlexSimulator, path: str, token: str) -> list[str]:
    return sorted(row["title"] for row in await plex_rows(server, path, token))


async def set_content_rating(app: MediaNestApp, admin: User, value: str) -> dict[str, Any]:
    """The admin sets "Content rating given to downloaded videos" ("" clears it): the
    YouTube settings it answers with."""
    async with await signed_in_client(app, admin) as client:
        saved = await client.put(YOUTUBE_CONFIG, json={"contentRating": value})
    assert saved.status_code == 200, saved.text
    data: dict[str, Any] = saved.json()["data"]
    return data
