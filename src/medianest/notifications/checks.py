"""Admin events nobody else raises: yt-dlp getting old (checked on one instance a few
times a day), and a backup that failed in the `medianest backup` command."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy.exc import DBAPIError

from medianest.context import AppContext
from medianest.core.logging import get_logger
from medianest.db.engine import create_engine, create_session_factory, session_scope
from medianest.notifications import hooks
from medianest.platform.leader import LeaderLease
from medianest.settings import Settings
from medianest.youtube.ytdlp import freshness

log = get_logger(__name__)

YTDLP_CHECK_LEASE = "notifications-ytdlp-check"


async def check_ytdlp(
    ctx: AppContext, *, version: str | None = None, today: date | None = None
) -> bool:
    """Notify the admins once per version when yt-dlp is too old (youtube/ytdlp/freshness)."""
    fresh = freshness.assess(version or freshness.installed_version(), today=today)
    if not fresh.too_old or fresh.age_days is None:
        return False
    lease = LeaderLease(ctx, YTDLP_CHECK_LEASE, ttl_seconds=300)
    if not await lease.try_acquire():
        return False  # another instance is checking right now
    try:
        async with session_scope(ctx.session_factory) as session:
            await hooks.ytdlp_outdated(session, version=fresh.version, age_days=fresh.age_days)
    finally:
        await lease.release()
    return True


def record_backup_failure(settings: Settings, reason: str) -> None:
    """From the backup command: tell the admins (best effort: the database may be why)."""

    async def record() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with session_scope(create_session_factory(engine)) as session:
                await hooks.backup_failed(session, reason=reason)
        finally:
            await engine.dispose()

    try:
        asyncio.run(record())
    except (DBAPIError, OSError) as exc:
        log.warning("backup_failure_not_notified", error=type(exc).__name__)
