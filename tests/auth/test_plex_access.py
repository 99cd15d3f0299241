"""Only the Plex server's people get in: the owner and the people the server is shared with,
friends and Plex Home members alike (plex.tv's lists, read with the owner's token); strangers are
refused unless the admin opens sign-in or lists their username; a friend whose share is
removed is signed out at the next check."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from medianest.app import MediaNestApp
from medianest.auth.models import AuthSession, SessionToken, User
from medianest.auth.plex_sign_in import access as plex_access
from medianest.auth.plex_sign_in import audience as plex_audience
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from medianest.settings import Settings
from medianest_simulators import PlexTvSimulator
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER
from tests.auth.flows import password_sign_in, poll_until_settled, start_pin
from tests.factories.users import TEST_PASSWORD, make_client, prepare_bootstrap_admin


async def _plex_sign_in(
    app: MediaNestApp, plextv: PlexTvSimulator, who: str, *, remember_me: bool = False
) -> tuple[httpx.AsyncClient, httpx.Response]:
    browser = make_client(app)
    pin = await start_pin(browser, remember_me=remember_me)
    plextv.approve_pin(pin["id"], who)
    return browser, await poll_until_settled(browser, pin["id"])


async def _status_of_sign_in(app: MediaNestApp, plextv: PlexTvSimulator, who: str) -> int:
    browser, response = await _plex_sign_in(app, plextv, who)
    await browser.aclose()
    return response.status_code


async def _user(app: MediaNestApp, username: str) -> User | None:
    async with session_scope(app.ctx.session_factory) as session:
        return await session.scalar(select(User).where(User.username == username))


async def _admin_browser(app: MediaNestApp) -> httpx.AsyncClient:
    await prepare_bootstrap_admin(app)
    admin = make_client(app)
    assert (await password_sign_in(admin, "admin", TEST_PASSWORD)).status_code == 200
    return admin


async def test_a_stranger_is_refused_by_default_with_a_reason_and_no_account(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    browser, refused = await _plex_sign_in(plex_app, plextv, "eve")
    async with contextlib.aclosing(browser):
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "PLEX_SERVER_ACCESS_REQUIRED"
        assert "Ask the server's owner" in error["message"]
        assert "medianest_session" not in browser.cookies
        # The page the browser is sent to says why and whom to ask.
        page = await browser.get("/sign-in-refused")
        assert page.status_code == 403
        assert "plexowner" in page.text and "MediaNest Sim PMS" in page.text
    assert await _user(plex_app, "eve") is None
    async with session_scope(plex_app.ctx.session_factory) as session:
        failures = list(
            await session.scalars(select(AuditLog).where(AuditLog.action == "auth.login_failed"))
        )
    assert [f.details["reason"] for f in failures] == ["PLEX_SERVER_ACCESS_REQUIRED"]


async def test_the_owner_a_home_user_and_a_friend_get_in(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    for who in ("plexowner", "carol", "alice"):
        assert await _status_of_sign_in(plex_app, plextv, who) == 200, who
    # plex.tv's list is read once and cached, not per sign-in; the Home list is not needed.
    assert plextv.request_count("/api/users") == 1
    assert plextv.request_count("/api/home/users") == 0


async def test_a_pending_invite_is_not_a_share(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    plextv.share_server("eve", MACHINE_IDENTIFIER, "sim-pms-eve-access", pending=True)
    assert await _status_of_sign_in(plex_app, plextv, "eve") == 403


async def test_a_friend_invited_after_the_list_was_cached_gets_in_on_demand(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    assert await _status_of_sign_in(plex_app, plextv, "alice") == 200
    plextv.share_server("eve", MACHINE_IDENTIFIER, "sim-pms-eve-access")
    # The cached list is younger than the on-demand refresh interval: still refused...
    assert await _status_of_sign_in(plex_app, plextv, "eve") == 403
    # ...and once that interval passed, plex.tv is asked again and eve gets in.
    key = await plex_audience.audience_cache_key(plex_app.ctx)
    assert key is not None
    cached = await plex_app.ctx.cache.get(key)
    assert cached is not None
    cached["fetchedAt"] -= plex_access.ON_DEMAND_REFRESH_SECONDS + 1
    await plex_app.ctx.cache.set(key, cached, 600)
    assert await _status_of_sign_in(plex_app, plextv, "eve") == 200


async def test_the_admin_opens_sign_in_to_any_plex_account_over_the_api(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    async with contextlib.aclosing(await _admin_browser(plex_app)) as admin:
        config = (await admin.get("/api/admin/config")).json()["data"]
        assert config["plexSignIn"] == "server_users"
        assert config["plexSignInExtraUsernames"] == []
        changed = await admin.put("/api/admin/config", json={"plexSignIn": "any_account"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["plexSignIn"] == "any_account"
        assert await _status_of_sign_in(plex_app, plextv, "eve") == 200
        bad = await admin.put("/api/admin/config", json={"plexSignIn": "everyone"})
        assert bad.status_code == 422
        assert bad.json()["success"] is False


async def test_an_extra_username_on_the_admins_list_gets_in(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    async with contextlib.aclosing(await _admin_browser(plex_app)) as admin:
        listed = await admin.put("/api/admin/config", json={"plexSignInExtraUsernames": [" Eve "]})
        assert listed.status_code == 200, listed.text
        assert listed.json()["data"]["plexSignInExtraUsernames"] == ["Eve"]
        assert await _status_of_sign_in(plex_app, plextv, "eve") == 200


async def test_the_admin_page_switches_sign_in_and_keeps_the_list(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    async with contextlib.aclosing(await _admin_browser(plex_app)) as admin:
        page = await admin.get("/admin")
        assert 'name="plexSignIn"' in page.text
        saved = await admin.put(
            "/admin/settings",
            data={"plexSignIn": "server_users", "plexSignInExtraUsernames": "eve\nzoe, mallory"},
        )
        assert saved.status_code == 200, saved.text
        config = (await admin.get("/api/admin/config")).json()["data"]
        assert config["plexSignIn"] == "server_users"
        assert config["plexSignInExtraUsernames"] == ["eve", "zoe", "mallory"]
        assert await _status_of_sign_in(plex_app, plextv, "eve") == 200
        opened = await admin.put(
            "/admin/settings", data={"plexSignIn": "any_account", "plexSignInExtraUsernames": ""}
        )
        assert opened.status_code == 200
        config = (await admin.get("/api/admin/config")).json()["data"]
        assert config == config | {"plexSignIn": "any_account", "plexSignInExtraUsernames": []}


async def test_the_environment_can_open_sign_in_to_any_account(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
) -> None:
    app = await app_factory(plex_settings(plex_signin="any_account"))
    assert await _status_of_sign_in(app, plextv, "eve") == 200
    # No share lists are needed then.
    assert plextv.request_count("/api/users") == 0


async def test_without_a_plex_server_sign_in_for_server_users_says_what_is_missing(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
) -> None:
    app = await app_factory(plex_settings(plex_url=None, plex_token=None))
    browser, response = await _plex_sign_in(app, plextv, "alice")
    await browser.aclose()
    assert response.status_code == 503
    assert response.json()["error"]["details"]["reason"] == "not_configured"
    assert "no Plex server is connected" in response.json()["error"]["message"]


async def _sessions_of(app: MediaNestApp, user_id: Any) -> tuple[int, int]:
    async with session_scope(app.ctx.session_factory) as session:
        sessions = await session.scalars(select(AuthSession).where(AuthSession.user_id == user_id))
        tokens = await session.scalars(
            select(SessionToken).where(
                SessionToken.user_id == user_id, SessionToken.revoked_at.is_(None)
            )
        )
        return len(list(sessions)), len(list(tokens))


@pytest.mark.housekeeping
async def test_a_removed_friend_is_signed_out_by_the_scheduled_check(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
) -> None:
    app = await app_factory(plex_settings(plex_audience_refresh_seconds=0.5))
    alice_browser, signed_in = await _plex_sign_in(app, plextv, "alice", remember_me=True)
    bob_browser, _ = await _plex_sign_in(app, plextv, "bob")
    async with contextlib.aclosing(alice_browser), contextlib.aclosing(bob_browser):
        assert signed_in.status_code == 200
        alice = await _user(app, "alice")
        assert alice is not None
        assert await _sessions_of(app, alice.id) == (1, 1)
        created = await alice_browser.post("/api/auth/tokens", json={"name": "script"})
        assert created.status_code == 201, created.text
        bearer = {"Authorization": f"Bearer {created.json()['data']['token']}"}
        plextv.unshare_server("alice")
        deadline = time.monotonic() + 10
        while await _sessions_of(app, alice.id) != (0, 0) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await _sessions_of(app, alice.id) == (0, 0)
        assert (await alice_browser.get("/api/auth/session")).status_code == 401
        # Her API token ends with the sessions.
        async with make_client(app) as script:
            assert (await script.get("/api/dashboard/status", headers=bearer)).status_code == 401
        # The friend who still has the share keeps their session.
        assert (await bob_browser.get("/api/auth/session")).status_code == 200
        # Signing in again is refused now.
        assert await _status_of_sign_in(app, plextv, "alice") == 403
    async with session_scope(app.ctx.session_factory) as session:
        removed = await session.scalar(
            select(AuditLog).where(AuditLog.action == "auth.plex_access_removed")
        )
        assert removed is not None and removed.target == str(alice.id)


async def test_a_home_member_whose_libraries_are_unshared_is_signed_out_at_the_next_check(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    browser, signed_in = await _plex_sign_in(plex_app, plextv, "carol")
    async with contextlib.aclosing(browser):
        assert signed_in.status_code == 200
        plextv.unshare_server("carol")  # still in the Home: that alone reaches nothing
        # The cached list is stale and the user's token check is due.
        key = await plex_audience.audience_cache_key(plex_app.ctx)
        assert key is not None
        await plex_app.ctx.cache.delete(key)
        async with session_scope(plex_app.ctx.session_factory) as session:
            await session.execute(
                update(User)
                .where(User.username == "carol")
                .values(plex_token_checked_at=utcnow() - timedelta(hours=2))
            )
        response = await browser.get("/api/auth/session")
        assert response.status_code == 401
        assert response.json()["error"]["details"]["reason"] == "plex_server_access_removed"
