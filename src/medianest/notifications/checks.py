"""Admin events nobody else raises: yt-dlp getting old (checked on one instance a few
times a day), and a backup that failed in the `medianest backup` command."""

from __future__ import annotations

import asyncio
import importlib.metadata
from datetime import UTC, date, datetime

from sqlalchemy.exc import DBAPIError

from medianest.context import AppContext
from medianest.core.logging import get_logger
from medianest.db.engine import create_engine, create_session_factory, session_scope
from medianest.notifications import hooks
from medianest.platform.leader import LeaderLease
from medianest.settings import Settings

log = get_logger(__name__)

YTDLP_MAX_AGE_DAYS = 30
YTDLP_CHECK_LEASE = "notifications-ytdlp-check"


def ytdlp_release_date(version: str) -> date | None:
    """yt-dlp versions are release dates: 2025.10.22 (nightlies add .HHMMSS)."""
    try:
        year, month, day = (int(part) for part in version.split(".")[:3])
        return date(year, month, day)
    except ValueError:
        return None


async def check_ytdlp(
    ctx: AppContext, *, version: str | None = None, today: date | None = None
) -> bool:
    """Notify the admins once per version when yt-dlp is older than 30 days."""
    # The package metadata, not `yt_dlp.version`: importing any part of yt_dlp loads all
    # of it (~10 MB), which a server waits with until its first download.
    version = version or importlib.metadata.version("yt-dlp")
    released = ytdlp_release_date(version)
    if released is None:
        return False
    age = ((today or datetime.now(UTC).date()) - released).days
    if age <= YTDLP_MAX_AGE_DAYS:
        return False
    lease = LeaderLease(ctx, YTDLP_CHECK_LEASE, ttl_seconds=300)
    if not await lease.try_acquire():
        return False  # another instance is checking right now
    try:
        async with session_scope(ctx.session_factory) as session:
            await hooks.ytdlp_outdated(session, version=version, age_days=age)
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
