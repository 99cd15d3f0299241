"""A request still running while an admin deletes its user — a tab, a script, a
sign-in — answers as signed out or as it would have, never with a 500: its bookkeeping
on the user's row (the Plex re-check time, the last sign-in time) finds no row and is
no error, and an action the gone user can no longer take (a new password, a new
session) is refused as signed out (401 in the envelope), while the deletion stands.

Each test deletes the user through the admin API from inside the request, at the step
where a real request waits (plex.tv, a password hash), by wrapping that step."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from medianest.app import MediaNestApp
from medianest.auth import service as auth_service
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import AuthSession, Role, User
from medianest.auth.plex_sign_in import access as plex_access
from medianest.auth.plex_sign_in import audience as plex_audience
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from medianest_simulators import PlexTvSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN
from tests.auth.flows import password_sign_in
from tests.factories.users import TEST_PASSWORD, create_user, signed_in_client, token_client

NEW_PASSWORD = "a-brand-new-passphrase-42"


def _deleting_first(
    admin: httpx.AsyncClient, user: User, step: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    """`step`, but the admin deletes `user` first (once), as if meanwhile."""
    pending = [user.id]

    async def deleted_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if pending:
            user_id = pending.pop()
            # A request of its own, not one nested in this request's context.
            deleted = await asyncio.create_task(admin.delete(f"/api/admin/users/{user_id}"))
            assert deleted.status_code == 204, deleted.text
        return await step(*args, **kwargs)

    return deleted_meanwhile


def _assert_signed_out(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UNAUTHENTICATED" and body["error"]["message"]


async def _assert_deleted(app: MediaNestApp, user_id: uuid.UUID) -> None:
    """The deletion stands: no user row put back, no session of theirs left or made."""
    async with session_scope(app.ctx.session_factory) as session:
        assert await session.get(User, user_id) is None
        left = await session.scalars(select(AuthSession).where(AuthSession.user_id == user_id))
        assert left.all() == []
        deleted = await session.scalars(
            select(AuditLog).where(AuditLog.action == "admin.user_deleted")
        )
        assert [row.target for row in deleted] == [str(user_id)]


@pytest.mark.parametrize("credential", ["session", "api token"])
async def test_a_plex_recheck_of_a_user_deleted_meanwhile_is_not_a_500(
    plex_app: MediaNestApp, monkeypatch: pytest.MonkeyPatch, credential: str
) -> None:
    """The re-check's own write (when the token was last checked) is bookkeeping."""
    alice = await create_user(plex_app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)
    other_admin = await create_user(plex_app, "other-admin", role=Role.ADMIN)
    async with (
        await (signed_in_client if credential == "session" else token_client)(
            plex_app, alice
        ) as caller,
        await signed_in_client(plex_app, other_admin) as admin,
    ):
        assert (await caller.get("/api/auth/session")).status_code == 200
        async with session_scope(plex_app.ctx.session_factory) as session:
            # Due its re-check (also drops the cached sessions, so the request reads it).
            await session.execute(
                update(User)
                .where(User.id == alice.id)
                .values(plex_token_checked_at=utcnow() - timedelta(hours=2))
            )
        monkeypatch.setattr(
            plex_access, "admits", _deleting_first(admin, alice, plex_access.admits)
        )
        answer = await caller.get("/api/auth/session")
        # Before: writing the gone user's re-check time failed the commit, a 500.
        assert answer.status_code in (200, 401), answer.text
        _assert_signed_out(await caller.get("/api/auth/session"))
    await _assert_deleted(plex_app, alice.id)


async def test_a_plex_sign_out_of_a_user_deleted_meanwhile_is_refused_as_signed_out(
    plex_app: MediaNestApp, plextv: PlexTvSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-check finds the share removed and signs the user out, keeping that sign-out
    although it refuses the request; its audit entry then points at a gone user."""
    alice = await create_user(plex_app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)
    other_admin = await create_user(plex_app, "other-admin", role=Role.ADMIN)
    async with (
        await signed_in_client(plex_app, alice) as caller,
        await signed_in_client(plex_app, other_admin) as admin,
    ):
        assert (await caller.get("/api/auth/session")).status_code == 200
        plextv.unshare_server("alice")
        key = await plex_audience.audience_cache_key(plex_app.ctx)
        assert key is not None
        await plex_app.ctx.cache.delete(key)  # the share's removal is seen now
        async with session_scope(plex_app.ctx.session_factory) as session:
            await session.execute(
                update(User)
                .where(User.id == alice.id)
                .values(plex_token_checked_at=utcnow() - timedelta(hours=2))
            )
        monkeypatch.setattr(
            plex_access, "admits", _deleting_first(admin, alice, plex_access.admits)
        )
        # Not a 500: the kept sign-out's commit failed on the gone user.
        _assert_signed_out(await caller.get("/api/auth/session"))
    await _assert_deleted(plex_app, alice.id)


async def test_a_password_sign_in_of_a_user_deleted_meanwhile_is_refused_as_signed_out(
    app: MediaNestApp, admin_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sign-in time is bookkeeping; the session the sign-in makes is an action."""
    carol = await create_user(app, "carol", password=TEST_PASSWORD)
    monkeypatch.setattr(
        auth_service,
        "verify_password",
        _deleting_first(admin_client, carol, auth_service.verify_password),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as browser:
        answer = await password_sign_in(browser, "carol", TEST_PASSWORD, remember_me=True)
        # Before: writing the gone user's sign-in time failed the commit, a 500.
        _assert_signed_out(answer)
        assert SESSION_COOKIE not in answer.cookies
    await _assert_deleted(app, carol.id)


async def test_a_password_change_of_a_user_deleted_meanwhile_is_refused_as_signed_out(
    app: MediaNestApp, admin_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    carol = await create_user(app, "carol", password=TEST_PASSWORD)
    async with await signed_in_client(app, carol) as browser:
        assert (await browser.get("/api/auth/session")).status_code == 200
        monkeypatch.setattr(
            auth_service,
            "hash_password",
            _deleting_first(admin_client, carol, auth_service.hash_password),
        )
        answer = await browser.post(
            "/api/auth/change-password",
            json={"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD},
        )
        # Before: the new password's write found no row at commit, a 500.
        _assert_signed_out(answer)
        _assert_signed_out(await browser.get("/api/auth/session"))
    await _assert_deleted(app, carol.id)
    # The admin's own session is untouched by the refused request.
    assert (await admin_client.get("/api/auth/session")).status_code == 200
