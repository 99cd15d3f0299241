"""Re-checking a signed-in user's Plex token: revoked → signed out everywhere; plex.tv
down → the session is kept. (Who may sign in at all: test_plex_access.py.)"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update

from medianest.app import MediaNestApp
from medianest.auth.cookies import CSRF_COOKIE, REMEMBER_COOKIE
from medianest.auth.models import AuthSession, SessionToken, User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest_simulators import PlexTvSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN
from tests.auth.flows import poll_until_settled, start_pin
from tests.factories.users import make_client


async def _signed_in_alice(
    app: MediaNestApp, plextv: PlexTvSimulator
) -> tuple[httpx.AsyncClient, User]:
    browser = make_client(app)
    pin = await start_pin(browser)
    plextv.approve_pin(pin["id"], "alice")
    assert (await poll_until_settled(browser, pin["id"])).status_code == 200
    async with session_scope(app.ctx.session_factory) as session:
        alice = await session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None
    await _make_check_due(app, alice)
    return browser, alice


async def _user(app: MediaNestApp, username: str) -> User:
    async with session_scope(app.ctx.session_factory) as session:
        user = await session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


async def _make_check_due(app: MediaNestApp, user: User) -> None:
    """The last check is older than plex_token_check_minutes (60 by default)."""
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            update(User)
            .where(User.id == user.id)
            .values(plex_token_checked_at=utcnow() - timedelta(hours=2))
        )


async def _api_token_of(app: MediaNestApp, browser: httpx.AsyncClient, user: User) -> str:
    """A personal API token made in `browser`, with the next Plex check due again."""
    browser.headers["X-CSRF-Token"] = browser.cookies[CSRF_COOKIE]
    created = await browser.post("/api/auth/tokens", json={"name": "script"})
    assert created.status_code == 201, created.text
    await _make_check_due(app, user)
    token: str = created.json()["data"]["token"]
    return token


async def test_a_revoked_plex_token_signs_the_user_out_on_session_renewal(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    browser, alice = await _signed_in_alice(plex_app, plextv)
    async with contextlib.aclosing(browser):
        plextv.revoke_token(ALICE_TOKEN)
        response = await browser.get("/api/auth/session")
        assert response.status_code == 401
        assert response.json()["error"]["details"]["reason"] == "plex_token_revoked"
        assert (await browser.get("/api/auth/session")).status_code == 401
    async with session_scope(plex_app.ctx.session_factory) as session:
        sessions = await session.scalars(select(AuthSession).where(AuthSession.user_id == alice.id))
        assert list(sessions) == []
        stored = await session.get(User, alice.id)
        assert stored is not None and stored.plex_token is None


async def test_a_revoked_plex_token_found_by_the_browser_also_ends_the_users_api_tokens(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    browser, alice = await _signed_in_alice(plex_app, plextv)
    async with contextlib.aclosing(browser), make_client(plex_app) as script:
        bearer = {"Authorization": f"Bearer {await _api_token_of(plex_app, browser, alice)}"}
        plextv.revoke_token(ALICE_TOKEN)
        assert (await browser.get("/api/auth/session")).status_code == 401
        # "Signed out everywhere" includes the scripts: a token made with the lost Plex
        # sign-in (by her, or by whoever had taken her Plex account) ends with it.
        assert (await script.get("/api/auth/session", headers=bearer)).status_code == 401


async def test_a_script_using_only_its_api_token_is_checked_with_plex_too(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    browser, alice = await _signed_in_alice(plex_app, plextv)
    async with contextlib.aclosing(browser), make_client(plex_app) as script:
        bearer = {"Authorization": f"Bearer {await _api_token_of(plex_app, browser, alice)}"}
        plextv.revoke_token(ALICE_TOKEN)
        refused = await script.get("/api/auth/session", headers=bearer)
        assert refused.status_code == 401
        assert refused.json()["error"]["details"]["reason"] == "plex_token_revoked"
        assert (await script.get("/api/auth/session", headers=bearer)).status_code == 401
        assert (await browser.get("/api/auth/session")).status_code == 401


async def test_a_revoked_plex_token_found_while_remember_me_restores_leaves_no_sign_in(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    async with make_client(plex_app) as browser:
        pin = await start_pin(browser, remember_me=True)
        plextv.approve_pin(pin["id"], "alice")
        assert (await poll_until_settled(browser, pin["id"])).status_code == 200
        assert browser.cookies.get(REMEMBER_COOKIE)
        async with session_scope(plex_app.ctx.session_factory) as session:
            await session.execute(delete(AuthSession))  # the session lapsed
        alice = await _user(plex_app, "alice")
        await _make_check_due(plex_app, alice)
        plextv.revoke_token(ALICE_TOKEN)
        # This request restores a session from the cookie, then finds the token revoked.
        refused = await browser.get("/api/auth/session")
        assert refused.json()["error"]["details"]["reason"] == "plex_token_revoked"
    async with session_scope(plex_app.ctx.session_factory) as session:
        # Neither the session nor the rotated remember-me token it made survives.
        assert list(await session.scalars(select(AuthSession))) == []
        tokens = await session.scalars(select(SessionToken))
        assert [t for t in tokens if t.revoked_at is None] == []


async def test_plex_tv_down_keeps_the_session_and_asks_again_later(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    browser, _alice = await _signed_in_alice(plex_app, plextv)
    async with contextlib.aclosing(browser):
        plextv.set_fault("error", path_prefix="/api/v2/user")
        assert (await browser.get("/api/auth/session")).status_code == 200
        calls = plextv.request_count("/api/v2/user")
        # The outage is remembered for a while: no plex.tv call on every request.
        for _ in range(5):
            assert (await browser.get("/api/auth/session")).status_code == 200
        assert plextv.request_count("/api/v2/user") == calls


async def test_a_recently_checked_token_is_not_checked_on_every_request(
    plex_app: MediaNestApp, browser: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    pin = await start_pin(browser)
    plextv.approve_pin(pin["id"], "alice")
    assert (await poll_until_settled(browser, pin["id"])).status_code == 200
    plextv.log.clear()
    for _ in range(5):
        assert (await browser.get("/api/auth/session")).status_code == 200
    assert plextv.request_count() == 0


async def test_a_slow_plex_tv_holds_the_recheck_only_for_the_health_check_timeout(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
) -> None:
    # The plex.tv client is built with the setting; the re-check gives up after it.
    app: MediaNestApp = await app_factory(plex_settings(health_check_timeout_seconds=0.3))
    browser, _alice = await _signed_in_alice(app, plextv)
    async with contextlib.aclosing(browser):
        plextv.set_fault("slow", delay=4.0, path_prefix="/api/v2/user")
        started = time.monotonic()
        response = await browser.get("/api/auth/session")
        waited = time.monotonic() - started
    plextv.clear_fault()
    assert response.status_code == 200  # plex.tv did not answer: the session is kept
    assert waited < 2.0, waited  # not the 5 s of an interactive plex.tv call
