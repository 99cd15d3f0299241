"""The "only users of my Plex server" allow-list, and re-checking a signed-in user's
Plex token: revoked → signed out everywhere; plex.tv down → the session is kept."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from medianest.app import MediaNestApp
from medianest.auth import plex_service
from medianest.auth.models import AuthSession, User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.simulators import PlexSimulator, PlexTvSimulator
from medianest.simulators.plextv_models import ALICE_TOKEN, OWNER_TOKEN
from tests.auth.flows import poll_until_settled, start_pin
from tests.factories.users import make_client


async def _allow_list_app(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plex_server: PlexSimulator,
) -> MediaNestApp:
    app: MediaNestApp = await app_factory(
        plex_settings(plex_url=plex_server.url, plex_token=OWNER_TOKEN)
    )
    async with session_scope(app.ctx.session_factory) as session:
        await plex_service.set_allow_list(session, enabled=True)
    return app


async def _plex_sign_in(app: MediaNestApp, plextv: PlexTvSimulator, who: str) -> httpx.Response:
    async with make_client(app) as browser:
        pin = await start_pin(browser)
        plextv.approve_pin(pin["id"], who)
        return await poll_until_settled(browser, pin["id"])


async def test_with_the_allow_list_on_a_stranger_is_refused(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plex_server: PlexSimulator,
    plextv: PlexTvSimulator,
) -> None:
    app = await _allow_list_app(app_factory, plex_settings, plex_server)
    refused = await _plex_sign_in(app, plextv, "eve")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "PLEX_SERVER_ACCESS_REQUIRED"
    async with session_scope(app.ctx.session_factory) as session:
        assert await session.scalar(select(User).where(User.username == "eve")) is None


async def test_with_the_allow_list_on_shared_users_and_the_owner_may_sign_in(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plex_server: PlexSimulator,
    plextv: PlexTvSimulator,
) -> None:
    app = await _allow_list_app(app_factory, plex_settings, plex_server)
    assert (await _plex_sign_in(app, plextv, "alice")).status_code == 200
    assert (await _plex_sign_in(app, plextv, "plexowner")).status_code == 200
    plextv.unshare_server("alice")
    assert (await _plex_sign_in(app, plextv, "alice")).status_code == 403


async def test_without_the_allow_list_anyone_with_a_plex_account_may_sign_in(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
) -> None:
    app = await app_factory(plex_settings())
    assert (await _plex_sign_in(app, plextv, "eve")).status_code == 200


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
        # The last check is older than plex_token_check_minutes (60 by default).
        await session.execute(
            update(User)
            .where(User.id == alice.id)
            .values(plex_token_checked_at=utcnow() - timedelta(hours=2))
        )
    return browser, alice


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
