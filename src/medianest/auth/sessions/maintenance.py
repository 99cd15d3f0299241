"""Purging sign-in rows nobody can use any more: sessions past their absolute expiry or
idle limit, remember-me tokens past their expiry (revoked ones are kept until then,
so a stolen token's reuse is still recognised) and Plex PINs past their expiry and grace. Runs on a schedule in every app process;
the deletes are idempotent, so two instances purging at once do no harm."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import AuthSession, PlexPin, SessionToken
from medianest.auth.plex_sign_in.service import PIN_RECORD_GRACE_SECONDS
from medianest.auth.sessions import store as session_store
from medianest.context import AppContext
from medianest.core.logging import get_logger
from medianest.core.loops import stop_loop
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings

log = get_logger(__name__)

# The first purge waits a little so start-up is not slowed by it.
FIRST_PURGE_DELAY_SECONDS = 30.0


class Purged(NamedTuple):
    sessions: int
    remember_tokens: int
    plex_pins: int


async def purge_expired(session: AsyncSession, *, settings: Settings) -> Purged:
    """Delete expired sessions, remember-me tokens and Plex PINs; how many of each."""
    now = utcnow()
    sessions = await session.execute(
        delete(AuthSession).where(~session_store.live_sessions(now, settings))
    )
    tokens = await session.execute(delete(SessionToken).where(SessionToken.expires_at <= now))
    pins = await session.execute(
        delete(PlexPin).where(
            PlexPin.expires_at <= now - timedelta(seconds=PIN_RECORD_GRACE_SECONDS)
        )
    )
    return Purged(_count(sessions), _count(tokens), _count(pins))


def _count(result: object) -> int:
    rowcount = getattr(result, "rowcount", None)
    return int(rowcount) if isinstance(rowcount, int) and rowcount > 0 else 0


async def start_expired_purge(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Purge now and then every `session_purge_interval_seconds`."""

    async def purge_forever() -> None:
        delay = min(FIRST_PURGE_DELAY_SECONDS, ctx.settings.session_purge_interval_seconds)
        while True:
            await asyncio.sleep(delay)
            delay = ctx.settings.session_purge_interval_seconds
            try:
                async with session_scope(ctx.session_factory) as session:
                    purged = await purge_expired(session, settings=ctx.settings)
                if any(purged):
                    log.info("expired_sign_ins_purged", **purged._asdict())
            except Exception as exc:  # a database hiccup skips one round, not the loop
                log.warning("expired_sign_ins_purge_failed", error=type(exc).__name__)

    task = asyncio.get_running_loop().create_task(purge_forever())

    async def stop() -> None:
        await stop_loop(task)

    return stop
