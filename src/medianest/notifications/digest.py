"""The "recently added" digest: what arrived in Plex for a user in the last day or week
(their requests that became available, their finished YouTube downloads and, if they
chose it, everything new in the libraries they can see), each with a Plex link. The page
previews it; the worker sends it through the user's channels that chose "digest".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User, UserStatus
from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.integrations.plex import PlexClient
from medianest.media.models import MediaRequest, RequestStatus
from medianest.notifications import links, service
from medianest.notifications.models import NotificationSettings
from medianest.platform.leader import LeaderLease
from medianest.plex import service as plex_service
from medianest.plex.dependencies import get_viewer
from medianest.youtube.models import DownloadStatus, YoutubeDownload

log = get_logger(__name__)

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
MAX_ENTRIES = 50
LIBRARY_SCAN = 100  # newest items looked at per library for "everything new"
DIGEST_LEASE = "notifications-digest"


@dataclass(frozen=True)
class DigestEntry:
    kind: str  # "request" | "download" | "library"
    title: str
    arrived_at: datetime
    link: str | None


@dataclass(frozen=True)
class Digest:
    period: str
    since: datetime
    until: datetime
    entries: list[DigestEntry]

    def text(self) -> str:
        """The message body the channels get: one line per arrival, with its link."""
        if not self.entries:
            return "Nothing new arrived."
        return "\n".join(f"• {e.title}" + (f" — {e.link}" if e.link else "") for e in self.entries)


async def build(
    session: AsyncSession, ctx: AppContext, *, user: User, period: str, everything: bool
) -> Digest:
    until = utcnow()
    since = until - PERIODS.get(period, PERIODS["weekly"])
    plex = await ctx.integrations.plex()
    machine = await _machine(plex)
    # Read as the user sees Plex (`access.browsing_client`): no link to what they cannot
    # open, no library that is not shared with them.
    own_view = await links.viewer_plex(ctx, user) if plex is not None else None
    entries = await _requests(session, ctx, own_view, machine, user=user, since=since)
    entries += await _downloads(session, ctx, machine, user=user, since=since)
    if everything and own_view is not None:
        seen = {e.title.casefold() for e in entries}
        library = await _library(session, ctx, own_view, machine, user=user, since=since)
        entries += [e for e in library if e.title.casefold() not in seen]
    entries.sort(key=lambda e: e.arrived_at, reverse=True)
    return Digest(period, since, until, entries[:MAX_ENTRIES])


async def _machine(plex: PlexClient | None) -> str | None:
    if plex is None:
        return None
    try:
        return await plex.machine_identifier()
    except MediaNestError:
        return None


async def _requests(
    session: AsyncSession,
    ctx: AppContext,
    plex: PlexClient | None,
    machine: str | None,
    *,
    user: User,
    since: datetime,
) -> list[DigestEntry]:
    rows = await session.scalars(
        select(MediaRequest)
        .where(
            MediaRequest.user_id == user.id,
            MediaRequest.status == RequestStatus.AVAILABLE,
            MediaRequest.completed_at >= since,
        )
        .order_by(MediaRequest.completed_at.desc())
        .limit(MAX_ENTRIES)
    )
    entries = []
    for row in rows:
        link = None
        if plex is not None and machine is not None:
            try:
                key = await links.find_rating_key(plex, title=row.title, media_type=row.media_type)
            except MediaNestError:
                key = None
            if key is not None:
                link = links.plex_item_url(ctx.settings.plex_app_url, machine, key)
        assert row.completed_at is not None
        entries.append(DigestEntry("request", row.title, row.completed_at, link))
    return entries


async def _downloads(
    session: AsyncSession, ctx: AppContext, machine: str | None, *, user: User, since: datetime
) -> list[DigestEntry]:
    rows = await session.scalars(
        select(YoutubeDownload)
        .where(
            YoutubeDownload.user_id == user.id,
            YoutubeDownload.status == DownloadStatus.COMPLETED,
            YoutubeDownload.completed_at >= since,
        )
        .order_by(YoutubeDownload.completed_at.desc())
        .limit(MAX_ENTRIES)
    )
    entries = []
    for row in rows:
        link = None
        if machine is not None and (row.plex_playlist_id or row.plex_collection_id):
            kind = "playlist" if row.plex_playlist_id else "collection"
            key = row.plex_playlist_id or row.plex_collection_id or ""
            link = links.plex_container_url(ctx.settings.plex_app_url, machine, kind, key)
        assert row.completed_at is not None
        entries.append(DigestEntry("download", row.title or row.url, row.completed_at, link))
    return entries


async def _library(
    session: AsyncSession,
    ctx: AppContext,
    browsing: PlexClient,
    machine: str | None,
    *,
    user: User,
    since: datetime,
) -> list[DigestEntry]:
    """Newest items of every library shared with this user, as they may see them (read
    with `browsing`, their own view; others' downloads hidden)."""
    viewer = await get_viewer(user, ctx, session)
    entries: list[DigestEntry] = []
    try:
        sections = (await plex_service.libraries(browsing, viewer)).value
        for section in sections:
            page = await plex_service.library_items(
                browsing,
                viewer=viewer,
                library_id=int(section.key),
                page=1,
                page_size=LIBRARY_SCAN,
                sort="addedAt:desc",
                search=None,
            )
            for item in page.value.items:
                added = datetime.fromtimestamp(item.added_at or 0, UTC)
                if added < since:
                    break
                link = (
                    links.plex_item_url(ctx.settings.plex_app_url, machine, item.rating_key)
                    if machine
                    else None
                )
                entries.append(DigestEntry("library", item.title, added, link))
    except (MediaNestError, ValueError) as exc:
        log.warning("digest_library_unavailable", error=type(exc).__name__)
    return entries


# --- sending -----------------------------------------------------------------------------
async def send_due(ctx: AppContext) -> int:
    """Send every digest that is due (one instance at a time); returns how many."""
    lease = LeaderLease(ctx, DIGEST_LEASE, ttl_seconds=600)
    if not await lease.try_acquire():
        return 0
    sent = 0
    try:
        async with session_scope(ctx.session_factory) as session:
            due = await _due_users(session)
        for user_id in due:
            async with session_scope(ctx.session_factory) as session:
                sent += await _send_one(session, ctx, user_id)
    finally:
        await lease.release()
    return sent


async def _due_users(session: AsyncSession) -> list[uuid.UUID]:
    rows = await session.execute(
        select(
            NotificationSettings.user_id,
            NotificationSettings.digest,
            NotificationSettings.digest_sent_at,
        )
        .join(User, User.id == NotificationSettings.user_id)
        .where(NotificationSettings.digest.in_(list(PERIODS)), User.status == UserStatus.ACTIVE)
    )
    now = utcnow()
    return [
        user_id
        for user_id, period, sent_at in rows
        if sent_at is None or now - sent_at >= PERIODS[period]
    ]


async def _send_one(session: AsyncSession, ctx: AppContext, user_id: uuid.UUID) -> int:
    settings = await session.get(NotificationSettings, user_id)
    user = await session.get(User, user_id)
    if settings is None or user is None or settings.digest not in PERIODS:
        return 0
    digest = await build(
        session, ctx, user=user, period=settings.digest, everything=settings.digest_everything
    )
    settings.digest_sent_at = digest.until
    if not digest.entries:
        return 0  # nothing arrived: no message, the next period is looked at later
    word = "weekly" if digest.period == "weekly" else "daily"
    await service.notify(
        session,
        user_ids=[user.id],
        event="digest",
        title=f"Your {word} digest: {len(digest.entries)} new in Plex",
        body=digest.text(),
        household=False,
        subject=f"digest:{user.id}:{digest.until:%Y%m%d%H%M}",
    )
    return 1
