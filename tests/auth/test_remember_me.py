"""Remember me: one-time tokens rotated on every use, stored only as SHA-256, and a
reused token revoking its whole family (theft detection)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import delete, event, select, update
from sqlalchemy.util import await_only

from medianest.app import MediaNestApp
from medianest.auth.cookies import REMEMBER_COOKIE, SESSION_COOKIE
from medianest.auth.models import AuthSession, SessionToken, User
from medianest.auth.sessions.maintenance import Purged, purge_expired
from medianest.core.tokens import hash_token
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from tests.auth.flows import audit_actions, cookie, password_sign_in, set_cookie_header
from tests.factories.users import TEST_PASSWORD, create_user, make_client, signed_in_client


async def _remembered_browser(
    app: MediaNestApp, remember_token: str, *, user_agent: str = "victim-browser/1.0"
) -> httpx.AsyncClient:
    """A browser whose session ended but which still holds the remember-me cookie."""
    client = make_client(app)
    client.headers["User-Agent"] = user_agent
    client.cookies.set(REMEMBER_COOKIE, remember_token)
    return client


async def _tokens(app: MediaNestApp) -> list[SessionToken]:
    async with session_scope(app.ctx.session_factory) as session:
        return list(await session.scalars(select(SessionToken).order_by(SessionToken.created_at)))


async def test_remember_me_cookie_lasts_ninety_days_and_only_its_hash_is_stored(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    response = await password_sign_in(client, "admin", TEST_PASSWORD, remember_me=True)
    line = set_cookie_header(response, REMEMBER_COOKIE) or ""
    assert f"Max-Age={90 * 86400}" in line and "HttpOnly" in line
    token = client.cookies[REMEMBER_COOKIE]
    assert len(token) >= 43  # 256 bits, url-safe base64
    [row] = await _tokens(app)
    assert row.token_hash == hash_token(token)
    assert token not in {row.token_hash, str(row.id), str(row.family_id)}


async def test_a_remembered_browser_gets_a_new_session_and_a_rotated_token(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", TEST_PASSWORD, remember_me=True)
    first_token = client.cookies[REMEMBER_COOKIE]
    async with await _remembered_browser(app, first_token) as browser:
        restored = await browser.get("/api/auth/session")
        assert restored.status_code == 200
        assert restored.json()["data"]["user"]["username"] == "admin"
        assert cookie(browser, SESSION_COOKIE)
        second_token = cookie(browser, REMEMBER_COOKIE)
        assert second_token != first_token
        # The new session works on its own now.
    async with make_client(app) as same_browser:
        same_browser.cookies.set(SESSION_COOKIE, cookie(browser, SESSION_COOKIE) or "")
        assert (await same_browser.get("/api/auth/session")).status_code == 200
    first, second = await _tokens(app)
    assert first.used_at is not None and first.family_id == second.family_id
    assert second.used_at is None and second.revoked_at is None


async def test_a_reused_remember_token_revokes_the_family_and_ends_the_sessions(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", TEST_PASSWORD, remember_me=True)
    stolen = client.cookies[REMEMBER_COOKIE]
    async with await _remembered_browser(app, stolen, user_agent="thief-browser/2.0") as thief:
        assert (await thief.get("/api/auth/session")).status_code == 200
        thief_rotated = cookie(thief, REMEMBER_COOKIE)

        # The victim's browser presents the same (now used) token: theft detected.
        async with await _remembered_browser(app, stolen) as victim:
            reused = await victim.get("/api/auth/session")
        assert reused.status_code == 401
        assert reused.json()["error"]["details"]["reason"] == "remember_token_reused"

        # The thief's session and its rotated token are dead too.
        assert (await thief.get("/api/auth/session")).status_code == 401
    async with await _remembered_browser(app, thief_rotated) as later:
        assert (await later.get("/api/auth/session")).status_code == 401
    assert all(row.revoked_at is not None for row in await _tokens(app))


async def test_changing_the_password_revokes_every_remember_token(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", TEST_PASSWORD, remember_me=True)
    token = client.cookies[REMEMBER_COOKIE]
    changed = await client.post(
        "/api/auth/change-password",
        json={"currentPassword": TEST_PASSWORD, "newPassword": "another-long-passphrase"},
    )
    assert changed.status_code == 200
    async with await _remembered_browser(app, token) as browser:
        assert (await browser.get("/api/auth/session")).status_code == 401


async def test_logout_forgets_this_browsers_remember_token(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", TEST_PASSWORD, remember_me=True)
    token = client.cookies[REMEMBER_COOKIE]
    assert (await client.post("/api/auth/logout")).status_code == 200
    async with await _remembered_browser(app, token) as browser:
        assert (await browser.get("/api/auth/session")).status_code == 401


async def test_signing_out_after_the_session_lapsed_ends_the_session_remember_me_made(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", TEST_PASSWORD, remember_me=True)
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(delete(AuthSession))  # the session ended (idle, expired)
    # Sign out is the request that restores a session from the remember-me cookie.
    assert (await client.post("/api/auth/logout")).status_code == 200
    async with session_scope(app.ctx.session_factory) as session:
        # No session is left that the sign-out's answer named and the browser dropped.
        assert list(await session.scalars(select(AuthSession))) == []


async def test_a_password_change_while_the_purge_deletes_an_expired_token_is_not_a_500(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    await create_user(app, "dora", password=TEST_PASSWORD)
    assert (await password_sign_in(client, "dora", TEST_PASSWORD, remember_me=True)).is_success
    async with session_scope(app.ctx.session_factory) as session:  # an old browser's token
        await session.execute(update(SessionToken).values(expires_at=utcnow()))
    purges: list[asyncio.Task[Purged]] = []

    async def purge() -> Purged:
        async with session_scope(app.ctx.session_factory) as session:
            return await purge_expired(session, settings=app.ctx.settings)

    def purge_once_the_remember_tokens_are_dealt_with(
        _conn: Any, _cursor: Any, statement: str, *_: Any
    ) -> None:
        # The periodic purge deletes the expired token while the password change runs:
        # after it dealt with the remember-me tokens, before it commits (next, the API
        # tokens). A purge that has to wait for the change's locks finishes after it.
        if not purges and "FROM api_tokens" in statement:
            purges.append(asyncio.ensure_future(purge()))
            await_only(asyncio.wait(purges, timeout=1.0))

    engine = app.ctx.engine.sync_engine
    event.listen(engine, "after_cursor_execute", purge_once_the_remember_tokens_are_dealt_with)
    try:
        changed = await client.post(
            "/api/auth/change-password",
            json={"currentPassword": TEST_PASSWORD, "newPassword": "a-much-better-passphrase"},
        )
    finally:
        event.remove(engine, "after_cursor_execute", purge_once_the_remember_tokens_are_dealt_with)
    assert purges and (await purges[0]).remember_tokens == 1
    # Before: revoking the token the purge had deleted failed the commit, a 500.
    assert changed.status_code == 200, changed.text
    assert await _tokens(app) == []


async def test_a_tab_restored_by_remember_me_while_another_signs_out_raises_no_theft_alarm(
    app: MediaNestApp, admin: User, client: httpx.AsyncClient
) -> None:
    await password_sign_in(client, "admin", TEST_PASSWORD, remember_me=True)
    token = client.cookies[REMEMBER_COOKIE]
    signed_out: list[httpx.Response] = []
    signing_out: list[bool] = []

    def sign_out_once_the_token_is_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The other tab's sign-out commits between the restoring tab's read of the token
        # and its claim of it.
        reads_the_token = statement.lstrip().startswith("SELECT") and "session_tokens" in statement
        if reads_the_token and not signing_out:
            signing_out.append(True)
            signed_out.append(await_only(client.post("/api/auth/logout")))

    engine = app.ctx.engine.sync_engine
    async with await signed_in_client(app, admin) as other_device:
        event.listen(engine, "after_cursor_execute", sign_out_once_the_token_is_read)
        try:
            async with await _remembered_browser(app, token) as tab:
                restored = await tab.get("/api/auth/session")
        finally:
            event.remove(engine, "after_cursor_execute", sign_out_once_the_token_is_read)
        assert signed_out and signed_out[0].status_code == 200
        # Signed out, as the browser asked; before, a theft alarm: the user signed out on
        # every device, a token reuse audited.
        assert restored.status_code == 401
        assert restored.json()["error"]["details"].get("reason") != "remember_token_reused"
        assert (await other_device.get("/api/auth/session")).status_code == 200
    assert "auth.remember_token_reused" not in [action for action, _ in await audit_actions(app)]
