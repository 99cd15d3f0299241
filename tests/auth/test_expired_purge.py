"""Expired sessions (past their expiry or idle limit) and remember-me tokens (past their
expiry) are deleted on a schedule; live ones, and revoked tokens not yet expired (kept
to recognise a stolen token's reuse), stay."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import AuthSession, PlexPin, SessionToken
from medianest.auth.plex_sign_in.service import PIN_RECORD_GRACE_SECONDS
from medianest.auth.sessions.maintenance import purge_expired
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from tests.factories.users import create_user


async def _seed(app: MediaNestApp) -> None:
    user = await create_user(app, "sam")
    now = utcnow()
    async with session_scope(app.ctx.session_factory) as session:
        for name, last_seen, expires in (
            ("live", now, now + timedelta(days=1)),
            ("expired", now - timedelta(days=30), now - timedelta(seconds=1)),
            ("idle", now - timedelta(days=3), now + timedelta(days=5)),
        ):
            session.add(
                AuthSession(
                    id=f"{name:0<64}",
                    user_id=user.id,
                    created_at=now - timedelta(days=30),
                    last_seen_at=last_seen,
                    expires_at=expires,
                )
            )
        for expires, revoked in (
            (now + timedelta(days=10), None),
            (now + timedelta(days=10), now),
            (now - timedelta(seconds=1), None),
        ):
            session.add(
                SessionToken(
                    user_id=user.id,
                    family_id=uuid.uuid4(),
                    token_hash=uuid.uuid4().hex,
                    expires_at=expires,
                    revoked_at=revoked,
                )
            )
        # Plex PINs: one pending, one expired but still answered "expired", one gone.
        for pin_id, expires in (
            (1, now + timedelta(minutes=10)),
            (2, now - timedelta(seconds=PIN_RECORD_GRACE_SECONDS - 60)),
            (3, now - timedelta(seconds=PIN_RECORD_GRACE_SECONDS + 1)),
        ):
            session.add(
                PlexPin(
                    pin_id=pin_id,
                    code="c",
                    expires_at=expires,
                    binding_hash="0" * 64,
                    remember_me=False,
                )
            )


async def _counts(app: MediaNestApp) -> tuple[list[str], int, list[int]]:
    async with session_scope(app.ctx.session_factory) as session:
        sessions = sorted((await session.scalars(select(AuthSession.id))).all())
        tokens = await session.scalar(select(func.count()).select_from(SessionToken))
        pins = sorted((await session.scalars(select(PlexPin.pin_id))).all())
    return [s.rstrip("0") for s in sessions], int(tokens or 0), pins


async def test_purging_deletes_expired_and_idle_sessions_and_expired_remember_tokens(
    app: MediaNestApp,
) -> None:
    await _seed(app)
    async with session_scope(app.ctx.session_factory) as session:
        purged = await purge_expired(session, settings=app.ctx.settings)
    assert purged == (2, 1, 1)
    assert await _counts(app) == (["live"], 2, [1, 2])


@pytest.mark.housekeeping
async def test_the_purge_runs_on_its_schedule(
    app_factory: Callable[[Settings], Any], make_settings: Callable[..., Settings]
) -> None:
    app = await app_factory(make_settings(session_purge_interval_seconds=0.3))
    await _seed(app)
    deadline = time.monotonic() + 10
    while await _counts(app) != (["live"], 2, [1, 2]) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await _counts(app) == (["live"], 2, [1, 2])
