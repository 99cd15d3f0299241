"""Remember-me theft detection against normal use: a browser restoring three tabs at
once sends the same remember-me cookie three times before the first answer's rotated
cookie arrives. Before, that answered [401, 200, 401] and signed the user out
everywhere; now the same client gets a session for each tab within a short grace
window, while reuse after it, or by another client, is still treated as theft.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from medianest.app import MediaNestApp, create_app
from medianest.auth.cookies import REMEMBER_COOKIE, SESSION_COOKIE
from medianest.auth.models import AuthSession, SessionToken
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from tests.auth.flows import password_sign_in
from tests.factories.users import TEST_PASSWORD, create_user
from tests.support.http import http_client
from tests.support.servers import ServedApp

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Settings], Awaitable[ServedApp]]]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(settings: Settings) -> ServedApp:
            served = ServedApp(create_app(settings, run_migrations=False))
            return await stack.enter_async_context(served)

        yield start


async def _remembered_token(url: str) -> str:
    async with http_client(
        base_url=url, timeout=30, headers={"User-Agent": BROWSER}
    ) as first_visit:
        signed_in = await password_sign_in(first_visit, "carol", TEST_PASSWORD, remember_me=True)
        assert signed_in.status_code == 200
        return first_visit.cookies[REMEMBER_COOKIE]


def _restarted_browser(url: str, token: str, *, user_agent: str = BROWSER) -> httpx.AsyncClient:
    """The browser after a restart: the session cookie is gone, remember-me is not."""
    browser = http_client(base_url=url, timeout=30, headers={"User-Agent": user_agent})
    browser.cookies.set(REMEMBER_COOKIE, token, domain="127.0.0.1", path="/")
    return browser


async def _tokens(app: MediaNestApp) -> list[SessionToken]:
    async with session_scope(app.ctx.session_factory) as session:
        return list(await session.scalars(select(SessionToken)))


async def test_three_tabs_restored_at_once_are_all_signed_in(
    app: MediaNestApp, settings: Settings, serve: Callable[[Settings], Awaitable[ServedApp]]
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    served = await serve(settings)
    token = await _remembered_token(served.url)
    async with _restarted_browser(served.url, token) as browser:
        tabs = await asyncio.gather(*(browser.get("/api/auth/session") for _tab in range(3)))
        assert [tab.status_code for tab in tabs] == [200, 200, 200]
        # Each tab got a session; exactly one answer rotated the remember-me token.
        assert all(SESSION_COOKIE in tab.cookies for tab in tabs)
        rotated = [tab.cookies[REMEMBER_COOKIE] for tab in tabs if REMEMBER_COOKIE in tab.cookies]
        assert len(rotated) == 1 and rotated[0] != token
        # And the browser stays signed in afterwards, everywhere.
        assert (await browser.get("/api/auth/session")).status_code == 200
    rows = await _tokens(app)
    assert all(row.revoked_at is None for row in rows)


async def test_tabs_reopened_at_once_after_the_session_went_idle_are_all_signed_in(
    app: MediaNestApp, settings: Settings, serve: Callable[[Settings], Awaitable[ServedApp]]
) -> None:
    # The laptop opened the next morning: the session cookie is still there but its
    # session went idle, so every tab ends that session, then signs in by remember-me.
    await create_user(app, "carol", password=TEST_PASSWORD)
    served = await serve(settings)
    async with http_client(base_url=served.url, timeout=30, headers={"User-Agent": BROWSER}) as b:
        assert (
            await password_sign_in(b, "carol", TEST_PASSWORD, remember_me=True)
        ).status_code == 200
        async with session_scope(app.ctx.session_factory) as session:
            idle = utcnow() - timedelta(minutes=settings.session_idle_minutes + 1)
            await session.execute(update(AuthSession).values(last_seen_at=idle))
        pages = ("/dashboard", "/media", "/youtube", "/notifications")
        tabs = await asyncio.gather(
            *(b.get(page, headers={"Accept": "text/html"}) for page in pages)
        )
        # Before: the tabs that ended the idle session after the first one answered 500.
        assert [tab.status_code for tab in tabs] == [200] * len(pages)
        assert (await b.get("/api/auth/session")).status_code == 200


async def test_another_client_presenting_a_just_used_token_is_still_theft(
    app: MediaNestApp, settings: Settings, serve: Callable[[Settings], Awaitable[ServedApp]]
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    served = await serve(settings)
    token = await _remembered_token(served.url)
    async with _restarted_browser(served.url, token) as victim:
        assert (await victim.get("/api/auth/session")).status_code == 200
        async with _restarted_browser(served.url, token, user_agent="curl/8.5") as thief:
            reused = await thief.get("/api/auth/session")
        assert reused.status_code == 401
        assert reused.json()["error"]["details"]["reason"] == "remember_token_reused"
        # The whole family is revoked and the victim's session ended: sign in again.
        assert (await victim.get("/api/auth/session")).status_code == 401
    assert all(row.revoked_at is not None for row in await _tokens(app))


async def test_the_same_client_after_the_grace_window_is_theft(
    app: MediaNestApp,
    make_settings: Callable[..., Settings],
    serve: Callable[[Settings], Awaitable[ServedApp]],
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    served = await serve(make_settings(remember_me_reuse_grace_seconds=1))
    token = await _remembered_token(served.url)
    async with _restarted_browser(served.url, token) as first:
        assert (await first.get("/api/auth/session")).status_code == 200
    await asyncio.sleep(1.5)
    async with _restarted_browser(served.url, token) as replay:
        late = await replay.get("/api/auth/session")
    assert late.status_code == 401
    assert late.json()["error"]["details"]["reason"] == "remember_token_reused"
    assert all(row.revoked_at is not None for row in await _tokens(app))
