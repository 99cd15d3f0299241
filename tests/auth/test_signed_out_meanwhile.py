"""A request still running while its sign-in ends — a second tab or an htmx poll while
the browser signs out or an admin disables the user, a script while its user is
deleted — finishes normally or as signed out, never with a 500: its "last seen" or
"last used" write finds no row and is no error, and the ended session stays ended."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from medianest.app import MediaNestApp
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import ApiToken, AuthSession, Role, User
from medianest.core.tokens import hash_token
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest_simulators import PlexSimulator
from tests.factories.users import create_user, signed_in_client, token_client

SLOW_PLEX_SECONDS = 1.5
# A route answered from Plex each time: the request is under way while Plex answers.
SLOW_ROUTE = "/api/plex/playlists"


async def _last_seen_two_minutes_ago(app: MediaNestApp) -> None:
    """The next read of each session writes its last-seen time again (this bulk write
    also empties the session cache, so that read happens)."""
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=2))
        )


async def _ended_while_loading(
    plex: PlexSimulator, client: httpx.AsyncClient, end: Callable[[], Awaitable[None]]
) -> httpx.Response:
    """`client`'s request of the slow route, with `end` run while it waits on Plex (its
    sign-in read, and any last-seen write due, by then)."""
    plex.log.clear()
    plex.set_fault("slow", delay=SLOW_PLEX_SECONDS)
    loading = asyncio.create_task(client.get(SLOW_ROUTE))
    try:
        for _ in range(200):
            if plex.requests() or loading.done():
                break
            await asyncio.sleep(0.02)
        assert not loading.done(), "the request did not wait on Plex"
        await end()
        return await loading
    finally:
        plex.clear_fault()


async def _session_row(app: MediaNestApp, token: str) -> AuthSession | None:
    async with session_scope(app.ctx.session_factory) as session:
        return await session.scalar(select(AuthSession).where(AuthSession.id == hash_token(token)))


@pytest.mark.parametrize("ending", ["signed out in another tab", "disabled by an admin"])
async def test_a_tab_loading_while_its_session_ends_is_not_a_500_and_the_session_stays_ended(
    plex_app: MediaNestApp, plex: PlexSimulator, ending: str
) -> None:
    owner = await create_user(plex_app, "owner", role=Role.ADMIN)
    other_admin = await create_user(plex_app, "other-admin", role=Role.ADMIN)
    async with (
        await signed_in_client(plex_app, owner) as browser,
        await signed_in_client(plex_app, other_admin) as admin,
    ):
        token = str(browser.cookies.get(SESSION_COOKIE))
        assert (await browser.get("/api/auth/session")).status_code == 200

        async def end() -> None:
            if ending == "signed out in another tab":
                ended = await browser.post("/api/auth/logout")
            else:
                ended = await admin.put(f"/api/admin/users/{owner.id}", json={"status": "disabled"})
            assert ended.status_code == 200, ended.text

        await _last_seen_two_minutes_ago(plex_app)
        answer = await _ended_while_loading(plex, browser, end)
        # Before: writing the ended session's last-seen time failed the commit, a 500.
        assert answer.status_code in (200, 401), answer.text
        assert await _session_row(plex_app, token) is None
        browser.cookies.set(SESSION_COOKIE, token)
        assert (await browser.get("/api/auth/session")).status_code == 401


async def test_a_script_calling_while_its_user_is_deleted_is_not_a_500(
    plex_app: MediaNestApp, plex: PlexSimulator
) -> None:
    robot: User = await create_user(plex_app, "robot", role=Role.ADMIN)
    other_admin = await create_user(plex_app, "other-admin", role=Role.ADMIN)
    async with (
        await token_client(plex_app, robot) as script,
        await signed_in_client(plex_app, other_admin) as admin,
    ):
        assert (await script.get("/api/auth/session")).status_code == 200

        async def end() -> None:
            deleted = await admin.delete(f"/api/admin/users/{robot.id}")
            assert deleted.status_code == 204, deleted.text

        answer = await _ended_while_loading(plex, script, end)
        # Before: writing the deleted token's last use failed the commit, a 500.
        assert answer.status_code in (200, 401), answer.text
        assert (await script.get("/api/auth/session")).status_code == 401
    async with session_scope(plex_app.ctx.session_factory) as session:
        assert (await session.scalars(select(ApiToken))).all() == []


async def test_a_request_due_its_touch_still_writes_the_last_seen_and_last_used_times(
    app: MediaNestApp, alice: User
) -> None:
    async with await signed_in_client(app, alice) as browser:
        token = str(browser.cookies.get(SESSION_COOKIE))
        await _last_seen_two_minutes_ago(app)
        before = utcnow()
        assert (await browser.get("/api/auth/session")).status_code == 200
        row = await _session_row(app, token)
        assert row is not None and row.last_seen_at >= before
    async with await token_client(app, alice) as script:
        assert (await script.get("/api/auth/session")).status_code == 200
    async with session_scope(app.ctx.session_factory) as session:
        [used] = (await session.scalars(select(ApiToken))).all()
        assert used.last_used_at is not None and used.last_used_at >= before
