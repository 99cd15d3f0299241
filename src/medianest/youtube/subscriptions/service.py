"""YouTube subscriptions: a playlist or channel re-checked every few hours; each check
queues one download holding only the entries the user has not downloaded before.

The check goes through the single-download path (`service.submit`), so the URL
allow-list, the hourly rate limit, the "already active" rule and the worker
concurrency limits apply here too; the quotas are checked first. The new job carries
its items already (the runner skips expanding), its title (so the files land in the
same folder) and the subscription's delivery (the same collection or playlist).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.context import PerContext
from medianest.core.errors import Conflict, MediaNestError, ValidationFailed
from medianest.core.events import publish
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import after_commit
from medianest.youtube.cookies import store as youtube_cookies
from medianest.youtube.delivery import visibility
from medianest.youtube.downloads import active, archive
from medianest.youtube.downloads import service as downloads
from medianest.youtube.downloads.urls import YOUTUBE_HOSTS, AcceptedUrl, validate_download_url
from medianest.youtube.events import SubscriptionFoundVideos
from medianest.youtube.models import JobItem, YoutubeDownload, YoutubeSubscription
from medianest.youtube.schemas import SubscriptionIn, SubscriptionPatch
from medianest.youtube.ytdlp import freshness
from medianest.youtube.ytdlp.downloader import Expanded, ItemFailed, PlaylistEntry, expand

log = get_logger(__name__)

CHANNEL_ID_RE = re.compile(r"^/channel/(UC[A-Za-z0-9_-]{22})(?:/(?:videos|featured|streams))?/?$")
HANDLE_RE = re.compile(r"^/(?:@[^/]+|c/[^/]+|user/[^/]+)(?:/.*)?$")
MAX_ERROR_LENGTH = 500


def validate_subscription_url(raw: str, *, extra_hosts: list[str]) -> AcceptedUrl:
    """A playlist, or a channel by id (its uploads playlist), under the download allow-list."""
    parts = urlsplit(raw.strip())
    host = (parts.hostname or "").lower()
    if host in YOUTUBE_HOSTS and parts.scheme == "https":
        channel = CHANNEL_ID_RE.match(parts.path)
        if channel:
            # Every channel's uploads are the playlist "UU" + the id after "UC".
            raw = f"https://www.youtube.com/playlist?list=UU{channel.group(1)[2:]}"
        elif HANDLE_RE.match(parts.path):
            raise ValidationFailed(
                "Use the channel's /channel/UC… link (YouTube: channel → About → Share channel "
                "→ Copy channel ID) or one of its playlists.",
                details={"field": "url"},
            )
    accepted = validate_download_url(raw, extra_hosts=extra_hosts)
    if accepted.kind == "video":
        raise ValidationFailed(
            "Subscribe to a playlist or a channel, not a single video.", details={"field": "url"}
        )
    return accepted


# --- CRUD ----------------------------------------------------------------------------------------
async def create(
    session: AsyncSession,
    *,
    ctx: AppContext,
    user: User,
    wanted: SubscriptionIn,
) -> YoutubeSubscription:
    """The one "subscribe" action of the page and the API."""
    url, quality, interval_hours = wanted.url, wanted.quality, wanted.interval_hours
    delivery_choice = wanted.delivery
    accepted = validate_subscription_url(url, extra_hosts=ctx.settings.youtube_extra_host_list)
    await visibility.require_visible(ctx, user)  # 409 when they could not see the downloads
    count = await session.scalar(
        select(func.count())
        .select_from(YoutubeSubscription)
        .where(YoutubeSubscription.user_id == user.id)
    )
    limit = ctx.settings.youtube_max_subscriptions_per_user
    if int(count or 0) >= limit:
        raise Conflict(f"You can have at most {limit} subscriptions.", details={"limit": limit})
    existing = await session.scalar(
        select(YoutubeSubscription.id).where(
            YoutubeSubscription.user_id == user.id, YoutubeSubscription.url == accepted.url
        )
    )
    if existing is not None:
        raise Conflict(
            "You are already subscribed to this link.", details={"subscriptionId": str(existing)}
        )
    subscription = YoutubeSubscription(
        user_id=user.id,
        url=accepted.url,
        quality=quality or ctx.settings.default_download_quality,
        interval_hours=interval_hours,
        paused=False,
        next_check_at=utcnow(),  # the first check runs at once
        items_found=0,
        delivery=delivery_choice,
    )
    session.add(subscription)
    await session.flush()
    wake_after_commit(session, ctx)
    log.info("youtube_subscription_created", subscription_id=str(subscription.id))
    return subscription


async def list_for(session: AsyncSession, user_id: uuid.UUID) -> list[YoutubeSubscription]:
    rows = await session.scalars(
        select(YoutubeSubscription)
        .where(YoutubeSubscription.user_id == user_id)
        .order_by(YoutubeSubscription.created_at, YoutubeSubscription.id)
    )
    return list(rows)


async def update(
    session: AsyncSession, subscription: YoutubeSubscription, *, change: SubscriptionPatch
) -> YoutubeSubscription:
    """The one "change a subscription" action of the page and the API: pause, resume,
    interval (the next check moves with it), quality, delivery; left-out fields stay."""
    if change.quality is not None:
        subscription.quality = change.quality
    if change.delivery is not None:
        subscription.delivery = change.delivery
    if change.interval_hours is not None:
        subscription.interval_hours = change.interval_hours
        base = subscription.last_check_at or utcnow()
        subscription.next_check_at = base + timedelta(hours=change.interval_hours)
    if change.paused is not None:
        subscription.paused = change.paused
    await session.flush()
    return subscription


def request_check(
    session: AsyncSession, ctx: AppContext, subscription: YoutubeSubscription
) -> None:
    """ "Check now": due immediately (409 while paused: resume it first)."""
    if subscription.paused:
        raise Conflict("This subscription is paused; resume it first.")
    subscription.next_check_at = utcnow()
    subscription.last_error = None
    wake_after_commit(session, ctx)


@dataclass(frozen=True)
class Unsubscription:
    """An unsubscribe as the page and the API both name it: the caller's subscription and
    whether its downloads (files, Plex collection or playlist, records) go with it."""

    subscription: YoutubeSubscription
    delete_files: bool


async def unsubscribe(session: AsyncSession, *, ctx: AppContext, wanted: Unsubscription) -> None:
    """Remove the subscription; with `delete_files`, also its downloads."""
    subscription, files = wanted.subscription, wanted.delete_files
    if files:
        jobs = await session.scalars(
            select(YoutubeDownload).where(YoutubeDownload.subscription_id == subscription.id)
        )
        # Files, collection or playlist, record: every Plex rescan before the first DELETE.
        await downloads.delete_many(session, ctx=ctx, jobs=list(jobs))
    await session.delete(subscription)
    await session.flush()
    log.info("youtube_subscription_deleted", subscription_id=str(subscription.id), files=files)


# What wakes this app context's subscription scheduler (set when nothing waits: harmless).
_wakes: PerContext[asyncio.Event] = PerContext(lambda _ctx: asyncio.Event())


def wake_event(ctx: AppContext) -> asyncio.Event:
    event = _wakes.get(ctx)
    assert event is not None  # made on first use
    return event


def wake_after_commit(session: AsyncSession, ctx: AppContext) -> None:
    event = wake_event(ctx)

    async def wake() -> None:
        event.set()

    after_commit(session, wake)


# --- one check -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    new_items: int
    download_id: uuid.UUID | None
    error: str | None


async def check(
    session: AsyncSession, *, ctx: AppContext, subscription: YoutubeSubscription
) -> CheckResult:
    """Expand the feed, keep the entries not in the owner's archive, queue them."""
    user = await session.get(User, subscription.user_id)
    if user is None or user.status != "active":
        return CheckResult(0, None, "The owner's account is not active.")
    try:
        accepted = validate_subscription_url(
            subscription.url, extra_hosts=ctx.settings.youtube_extra_host_list
        )
        busy = await session.scalar(
            select(YoutubeDownload.id).where(
                YoutubeDownload.subscription_id == subscription.id,
                YoutubeDownload.status.in_(active.ACTIVE),
            )
        )
        if busy is not None:  # its items are not archived yet: wait, never fetch them twice
            return CheckResult(0, None, "The previous check's download is still running.")
        expanded = await youtube_cookies.run_with_cookies(
            ctx,
            expand,
            accepted.url,
            extractors=accepted.extractors,
            extra_hosts=tuple(ctx.settings.youtube_extra_host_list),
            js_runtime=ctx.settings.ytdlp_js_runtime,
            remote_components=ctx.settings.ytdlp_remote_components,
        )
        subscription.title = expanded.title
        known = await archive.known_keys(session, user.id, [e.key for e in expanded.entries])
        fresh = [e for e in expanded.entries if e.key not in known]
        if not fresh:
            return CheckResult(0, None, None)
        job = await downloads.submit(  # allow-list, quotas, "already active"
            session,
            ctx=ctx,
            user=user,
            url=accepted.url,
            quality=subscription.quality,
            delivery_choice=subscription.delivery,
            hourly_limit=False,  # a scheduled check is not a person starting downloads
        )
    except ItemFailed as exc:
        await freshness.read_failed(
            ctx.session_factory, subscription.url, exc.kind, settings=ctx.settings
        )
        return CheckResult(0, None, f"Could not read the feed: {exc}"[:MAX_ERROR_LENGTH])
    except MediaNestError as exc:
        return CheckResult(0, None, exc.message[:MAX_ERROR_LENGTH])
    _fill(job, expanded, fresh, subscription)
    subscription.items_found = (subscription.items_found or 0) + len(fresh)
    await publish(session, SubscriptionFoundVideos(subscription=subscription, count=len(fresh)))
    log.info(
        "youtube_subscription_found_items",
        subscription_id=str(subscription.id),
        download_id=str(job.id),
        items=len(fresh),
    )
    return CheckResult(len(fresh), job.id, None)


def _fill(
    job: YoutubeDownload,
    expanded: Expanded,
    fresh: list[PlaylistEntry],
    subscription: YoutubeSubscription,
) -> None:
    job.title = expanded.title
    job.subscription_id = subscription.id
    job.items = [
        JobItem.pending(
            n, key=entry.key, title=entry.title, url=entry.url, live_status=entry.live_status
        )
        for n, entry in enumerate(fresh)
    ]
