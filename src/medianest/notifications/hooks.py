"""What each domain event becomes: notifications, written in the publisher's session (so
they commit with the event or not at all). `subscribers.py` subscribes these to the
domains' events; admin-only events nobody publishes are called directly (`checks.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.limits.quotas import GB, Usage
from medianest.media.events import StatusChange
from medianest.media.models import MediaRequest, RequestStatus
from medianest.notifications import service
from medianest.youtube.downloads import quotas
from medianest.youtube.models import DownloadStatus, YoutubeDownload, YoutubeSubscription
from medianest.youtube.ytdlp import freshness

QUOTA_WARN_SHARE = 0.8
QUOTA_WORDS = {
    "youtubeItemsPerDay": "YouTube items for today",
    "youtubeGbPerWeek": "YouTube download volume for this week",
    "mediaRequestsPerWeek": "media requests for this week",
}
REQUEST_EVENTS = {
    RequestStatus.APPROVED: ("request.approved", "was approved"),
    RequestStatus.PROCESSING: ("request.approved", "was approved"),
    RequestStatus.DECLINED: ("request.declined", "was declined"),
    RequestStatus.AVAILABLE: ("request.available", "is now available in Plex"),
    RequestStatus.FAILED: ("request.failed", "failed"),
    RequestStatus.REMOVED: ("request.removed", "was removed in {service}"),
}


async def requests_changed(
    session: AsyncSession, changes: Iterable[StatusChange], *, service_name: str
) -> None:
    """Notify each request's owner of a new status (approved once, even when Overseerr
    goes on to 'processing'), naming the request service as it is called here."""
    for change in changes:
        mapped = REQUEST_EVENTS.get(RequestStatus(change.status))
        if mapped is None:
            continue
        event, words = mapped[0], mapped[1].format(service=service_name)
        subject = f"request:{change.request_id}"
        if event == "request.approved" and await service.already_notified(
            session, subject=subject, event=event
        ):
            continue
        row = await session.get(MediaRequest, uuid.UUID(change.request_id))
        data: dict[str, object] = {"request_id": change.request_id}
        if event == "request.available" and row is not None:
            data["plex"] = {"title": row.title, "type": row.media_type}
        await service.notify(
            session,
            user_ids=[uuid.UUID(change.user_id)],
            event=event,
            title=f"“{change.title}” {words}",
            body=f"Your request for “{change.title}” {words}.",
            data=data,
            subject=subject,
        )


# --- YouTube ---------------------------------------------------------------------------
async def download_finished(session: AsyncSession, *, download_id: uuid.UUID) -> None:
    """A download ended (completed or failed for good): tell its owner, with a link to
    its Plex collection or playlist when it has one."""
    job = await session.get(YoutubeDownload, download_id)
    if job is None or job.status not in (DownloadStatus.COMPLETED, DownloadStatus.FAILED):
        return
    name = job.title or job.url
    data: dict[str, object] = {}
    if job.status == DownloadStatus.COMPLETED:
        event, title = "download.finished", f"“{name}” finished downloading"
        if job.plex_playlist_id:
            data["plex_key"] = {"kind": "playlist", "key": job.plex_playlist_id}
        elif job.plex_collection_id:
            data["plex_key"] = {"kind": "collection", "key": job.plex_collection_id}
    else:
        event, title = "download.failed", f"“{name}” failed to download"
    await service.notify(
        session,
        user_ids=[job.user_id],
        event=event,
        title=title,
        body=job.error or "",
        data=data,
        subject=f"download:{job.id}",
    )
    await quota_nearly_used(session, user_id=job.user_id)


async def subscription_found(
    session: AsyncSession, *, subscription: YoutubeSubscription, count: int
) -> None:
    if count <= 0:
        return
    name = subscription.title or subscription.url
    await service.notify(
        session,
        user_ids=[subscription.user_id],
        event="subscription.new_videos",
        title=f"{count} new video{'s' if count != 1 else ''} in “{name}”",
        body="They are being downloaded now.",
        subject=f"subscription:{subscription.id}",
    )


async def quota_nearly_used(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """After something counted against a quota: warn once per window at 80 %."""
    user = await session.get(User, user_id)
    if user is None:
        return
    for usage in await quotas.user_usage(session, user):
        if usage.limit is None or usage.limit <= 0 or usage.used < QUOTA_WARN_SHARE * usage.limit:
            continue
        subject = f"quota:{user.id}:{usage.name}"
        since = utcnow() - timedelta(seconds=usage.window_seconds)
        if await service.notified_since(session, subject=subject, since=since):
            continue
        words = QUOTA_WORDS.get(usage.name, usage.name)
        await service.notify(
            session,
            user_ids=[user.id],
            event="quota.nearly_used",
            title=f"You have used {usage.used / usage.limit:.0%} of your {words}",
            body=f"Used {_amount(usage)} of {_amount(usage, usage.limit)}.",
            subject=subject,
        )


async def breaker_changed(
    session: AsyncSession, *, opened: bool, opened_at: str | None, reason: str | None = None
) -> None:
    """The YouTube queue breaker opened (downloads paused) or closed (they resumed)."""
    opened_title = "YouTube is refusing downloads: the queue is paused"
    await service.notify_admins_once(
        session,
        event="youtube.breaker_opened" if opened else "youtube.breaker_closed",
        subject=f"breaker:{opened_at or 'unknown'}",
        title=opened_title if opened else "YouTube downloads resumed",
        body=reason or "",
    )


# --- admin -----------------------------------------------------------------------------
async def services_changed(
    session: AsyncSession,
    *,
    before: dict[str, str],
    after: dict[str, str],
    names: dict[str, str],
) -> None:
    """Service statuses moved: offline is "down", offline to anything else is "back"."""
    for key, status in after.items():
        name, previous = names.get(key, key.title()), before.get(key)
        if previous is None or previous == status:
            continue
        if status == "offline":
            await service.notify_admins(session, event="service.down", title=f"{name} is down")
        elif previous == "offline":
            await service.notify_admins(
                session, event="service.up", title=f"{name} is back ({status})"
            )


async def sign_in_refused(session: AsyncSession, *, reason: str) -> None:
    await service.notify_admins(
        session,
        event="signin.refused",
        title="A Plex account was refused at sign-in",
        body=f"Reason: {reason}. See the audit log for when and from where.",
    )


async def ytdlp_outdated(session: AsyncSession, *, version: str, age_days: int) -> None:
    await service.notify_admins_once(
        session,
        event="ytdlp.outdated",
        subject=f"ytdlp:{version}",
        title=f"yt-dlp {version} is {age_days} days old",
        body=f"Sites, YouTube first, change often; {freshness.UPDATE_ADVICE}.",
    )


async def ytdlp_broke(session: AsyncSession, *, version: str, host: str) -> None:
    """yt-dlp said it could not read a page and may be out of date (once per version)."""
    await service.notify_admins_once(
        session,
        event="ytdlp.outdated",
        subject=f"ytdlp:{version}:broke",
        title=f"yt-dlp {version} could not read a page of {host}",
        body=f"The site has changed since this release; {freshness.UPDATE_ADVICE}.",
    )


async def ytdlp_challenges_unsolved(session: AsyncSession, *, problem: str) -> None:
    """YouTube items fail for want of a challenge solver (told once per failing solver:
    youtube/ytdlp/challenge_notice.py decides, so this notifies every time it is called)."""
    await service.notify_admins(
        session,
        event="ytdlp.js_challenge",
        title="YouTube downloads fail: the JavaScript challenge is not solved",
        body=problem,
        subject="ytdlp:js_challenge",
    )


async def backup_failed(session: AsyncSession, *, reason: str) -> None:
    await service.notify_admins(
        session, event="backup.failed", title="A backup failed", body=reason[:1000]
    )


def _amount(usage: Usage, value: float | None = None) -> str:
    amount = usage.used if value is None else value
    if usage.unit == "bytes":
        return f"{amount / GB:.1f} GB"
    return f"{int(amount)} {usage.unit}"
