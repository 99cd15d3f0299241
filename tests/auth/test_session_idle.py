"""A session ends after `session_idle_minutes` without a request, however short the
limit: a session in use is touched (its last-seen time written) before it counts as
idle. Time passes here by moving the row's last-seen time back, as the clock would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from medianest.app import MediaNestApp
from medianest.auth.models import AuthSession
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from tests.factories.users import create_user, signed_in_client


async def _last_seen_ago(app: MediaNestApp, seconds: float) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            update(AuthSession).values(last_seen_at=utcnow() - timedelta(seconds=seconds))
        )


async def _last_seen(app: MediaNestApp) -> Any:
    async with session_scope(app.ctx.session_factory) as session:
        return (await session.execute(select(AuthSession.last_seen_at))).scalar_one()


async def test_a_session_used_every_40_seconds_outlives_a_one_minute_idle_limit(
    app_factory: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    # No session cache: each request reads the row as the clock has left it.
    app = await app_factory(make_settings(session_idle_minutes=1, session_cache_seconds=0))
    user = await create_user(app, "carol")
    async with await signed_in_client(app, user) as browser:
        for _ in range(3):
            await _last_seen_ago(app, 40)  # 40 s since the last request
            before = utcnow()
            assert (await browser.get("/api/auth/session")).status_code == 200
            # Touched: the next request counts its 40 s from now. With the touch once a
            # minute, a 40 s old touch was kept and the second round found 80 s: idle.
            assert (await _last_seen(app)) >= before - timedelta(seconds=1)


async def test_a_session_left_for_more_than_its_idle_limit_ends(
    app_factory: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    app = await app_factory(make_settings(session_idle_minutes=1, session_cache_seconds=0))
    user = await create_user(app, "carol")
    async with await signed_in_client(app, user) as browser:
        assert (await browser.get("/api/auth/session")).status_code == 200
        await _last_seen_ago(app, 61)
        assert (await browser.get("/api/auth/session")).status_code == 401
