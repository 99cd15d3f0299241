"""A remember-me restore whose Plex token re-check waits on plex.tv holds no write: the
app's other writers (here an admin's password sign-in) go on meanwhile.

On SQLite the restore's claim of the token took the write lock, and the re-check then
waited on plex.tv (up to the health check timeout) before the request committed: every
other sign-in, session touch and lease of the app waited behind it (docs/fault-tolerance.md,
"Waiting under the write lock")."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, select, update

from medianest.app import MediaNestApp
from medianest.auth.cookies import REMEMBER_COOKIE
from medianest.auth.models import AuthSession, SessionToken, User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest_simulators import PlexTvSimulator
from tests.auth.flows import password_sign_in, poll_until_settled, start_pin
from tests.factories.users import TEST_PASSWORD, make_client, prepare_bootstrap_admin
from tests.support.held_requests import until_received
from tests.support.write_lock import WriteLockRecorder


async def _lapse_session_and_make_check_due(app: MediaNestApp) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(delete(AuthSession))  # the browser comes back days later
        await session.execute(
            update(User)
            .where(User.username == "alice")
            .values(plex_token_checked_at=utcnow() - timedelta(hours=2))
        )


async def test_a_sign_in_completes_while_a_remember_me_restore_waits_on_plex_tv(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    admin = await prepare_bootstrap_admin(plex_app)
    recorder = WriteLockRecorder(plex_app.ctx.engine)
    async with (
        make_client(plex_app) as browser,
        make_client(plex_app) as other,
        recorder.recording() as lock,
    ):
        pin = await start_pin(browser, remember_me=True)
        plextv.approve_pin(pin["id"], "alice")
        assert (await poll_until_settled(browser, pin["id"])).status_code == 200
        assert browser.cookies.get(REMEMBER_COOKIE)
        await _lapse_session_and_make_check_due(plex_app)
        plextv.hold_requests("/api/v2/user", "GET")  # plex.tv hangs on the re-check
        checks = plextv.request_count("/api/v2/user", "GET")
        restore = asyncio.create_task(browser.get("/api/auth/session"))
        try:
            await until_received(plextv, "/api/v2/user", "GET", count=checks + 1)
            assert lock.open_holds() == []  # (SQLite: no write waits on plex.tv)
            signed_in = await password_sign_in(other, admin.username, TEST_PASSWORD)
            # Before plex.tv answered: the sign-in's write did not queue behind the restore.
            assert signed_in.status_code == 200, signed_in.text
            assert not restore.done()
        finally:
            plextv.release_requests()
        restored = await restore
    assert restored.status_code == 200, restored.text
    assert restored.json()["data"]["user"]["username"] == "alice"
    async with session_scope(plex_app.ctx.session_factory) as session:
        alice = await session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None and alice.plex_token_checked_at is not None
        assert alice.plex_token_checked_at > utcnow() - timedelta(minutes=1)
        # The restore rotated the remember-me token: one used, one new.
        tokens = list(await session.scalars(select(SessionToken)))
        assert sorted(t.used_at is None for t in tokens) == [False, True]
