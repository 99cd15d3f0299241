"""The download runner's per-item hooks: guards before an item, bookkeeping after it.

Before each item: free disk space above `download_min_free_bytes` (else `DISK_LOW`, as
when a write runs out of space midway; a folder that refuses writes pauses the job
too, `FOLDER_NOT_WRITABLE`, until an administrator fixes it),
the owner's YouTube quotas not used up (else `QUOTA`), the queue breaker closed (else
`YOUTUBE_PUSHBACK`); it returns the bytes the weekly quota has left, the item's size limit.
An item bigger than that waits (`QUOTA`) until enough of the week's downloads leave the
window, or fails when it is bigger than the whole weekly quota. A failed guard raises `JobPaused`: the runner puts the job back in
the queue with that pause reason and a delay, keeping the items already done; the job
resumes by itself when the delay has passed and the guard lets it through.

An item not downloaded (`not_downloaded`): stopped, waiting for a live stream to end
(youtube/jobs/waiting.py), too large, failed, or a full disk or refused folder (pause).

After each item: a downloaded one goes into the owner's archive (subscriptions skip
it next time, quotas count it); a failed one feeds the breaker with its error kind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from medianest.auth.models import User
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.downloads import archive, files, quotas
from medianest.youtube.jobs import pushback, waiting
from medianest.youtube.jobs.progress import JobView
from medianest.youtube.jobs.queue import JobQueue
from medianest.youtube.models import DownloadStatus, JobItem, YoutubeDownload
from medianest.youtube.ytdlp import freshness
from medianest.youtube.ytdlp.downloader import (
    DISK_FULL,
    NOT_WRITABLE,
    DownloadStopped,
    ItemFailed,
)
from medianest.youtube.ytdlp.item_checks import ItemTooLarge, ItemWaiting

log = get_logger(__name__)

MIN_RECHECK_SECONDS = 0.5
FOLDER_NOT_WRITABLE = "FOLDER_NOT_WRITABLE"


class JobPaused(Exception):
    """The job must wait: `reason` is stored as its pause reason, `delay` in seconds."""

    def __init__(self, reason: str, message: str, delay: float) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.delay = max(MIN_RECHECK_SECONDS, delay)


@dataclass(frozen=True)
class HookDeps:
    session_factory: async_sessionmaker[AsyncSession]
    settings: Settings


async def before_item(deps: HookDeps, job: YoutubeDownload) -> int | None:
    """Raise `JobPaused` when the next item must not start now; else the bytes the
    owner's weekly quota has left (None: no byte quota)."""
    settings = deps.settings
    free = files.free_bytes(settings.resolved_download_root)
    if free < settings.download_min_free_bytes:
        raise JobPaused(
            "DISK_LOW",
            f"Waiting for free disk space ({free // 1024**2} MB free, "
            f"{settings.download_min_free_bytes // 1024**2} MB needed)",
            settings.download_retry_base_seconds,  # like the runner's own check at start
        )
    async with session_scope(deps.session_factory) as session:
        breaker = await pushback.current(session)
        if breaker.open:
            raise JobPaused(
                pushback.PAUSE_REASON,
                f"YouTube is pushing back; downloads resume at {breaker.until:%H:%M:%S} UTC",
                breaker.seconds_left,
            )
        user = await session.get(User, job.user_id)
        usages = await quotas.youtube_quotas_of(session, user) if user else ()
    used_up = next((usage for usage in usages if usage.exhausted), None)
    if used_up is not None:
        resets = used_up.resets_at
        wait = (resets - utcnow()).total_seconds() if resets else float(used_up.window_seconds)
        raise JobPaused("QUOTA", used_up.error().message, wait)
    left = next((usage.remaining for usage in usages if usage.unit == "bytes"), None)
    return None if left is None else int(left)


async def too_large(
    deps: HookDeps, job: YoutubeDownload, item: JobItem, exc: ItemTooLarge
) -> JobPaused | None:
    """An item bigger than the weekly quota has left: the job waits (`QUOTA`) until
    enough of the week's downloads leave the window; None when it can never fit (the
    item fails)."""
    async with session_scope(deps.session_factory) as session:
        user = await session.get(User, job.user_id)
        if user is None:  # its owner is gone
            item.error = "Larger than the quota left."
            return None
        size, fits_at = await quotas.bytes_free_at(session, user, exc.size)
    if fits_at is None:
        item.error = (
            f"Larger ({_size(exc.size)}) than your whole weekly quota ({_size(size.limit or 0)})."
        )
        return None
    size_words = _size(exc.size) if exc.exact else f"over {_size(exc.size)}"
    message = (
        f"“{item.title}” ({size_words}) needs more than the {_size(exc.limit)} left of your "
        f"weekly quota; it goes on at {fits_at:%Y-%m-%d %H:%M} UTC"
    )
    return JobPaused("QUOTA", message, (fits_at - utcnow()).total_seconds())


def _size(count: float) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count / 1024:.1f} kB"


def disk_full(settings: Settings, job: YoutubeDownload, message: str) -> JobPaused:
    """An item's write failed with ENOSPC: the job waits for space (DISK_LOW) as the guard
    makes it wait, instead of the item and every one after it failing for good."""
    log.warning("youtube_disk_full", download_id=str(job.id), error=message[:200])
    return JobPaused(
        "DISK_LOW",
        f"The disk is full ({message}); waiting for free disk space",
        settings.download_retry_base_seconds,
    )


def folder_not_writable(
    settings: Settings, job: YoutubeDownload, refused: files.FolderNotWritable
) -> JobPaused:
    """The job's folder refuses writes (Plex's container owns it, a read-only share): the
    job waits for an administrator (FOLDER_NOT_WRITABLE) as a full disk waits for space,
    no attempt spent, instead of backing off until it fails with "Unexpected error". A
    recheck goes on by itself once the folder is writable. Logged once per job: a recheck
    finds the message of its last pause on the job."""
    message = (
        f"The download folder is not writable ({refused.folder}: {refused.reason}); "
        "an administrator must fix its permissions. The download goes on by itself then."
    )
    if isinstance(refused, files.DownloadGroupRefused):  # the setting, not the folder
        message = (
            f"The download folder {refused.folder} was not made: {refused.reason}. "
            "The download goes on by itself then."
        )
    if job.error != message:
        log.warning(
            "youtube_folder_not_writable",
            download_id=str(job.id),
            folder=str(refused.folder),
            error=refused.reason,
            uid=os.geteuid(),
            gid=settings.download_gid if settings.download_gid is not None else os.getegid(),
            fix="let this uid or gid create files in the folder (and mount it read-write)",
        )
    return JobPaused(FOLDER_NOT_WRITABLE, message, settings.download_retry_base_seconds)


async def not_downloaded(
    deps: HookDeps,
    job: YoutubeDownload,
    item: JobItem,
    folder: Path,
    exc: Exception,
    *,
    shutdown: bool,
) -> bool:
    """Record why an item was not downloaded (its partial files are gone already); True
    when the job stops, `JobPaused` when it must wait (the items done are kept)."""
    if isinstance(exc, DownloadStopped):
        item.state = "pending" if shutdown else "cancelled"
        return True
    if isinstance(exc, ItemWaiting):  # live or not aired: not a failure, tried later
        waiting.mark(item, exc.live_status)
        log.info("youtube_item_waits", download_id=str(job.id), status=exc.live_status)
        return False
    if isinstance(exc, ItemTooLarge):
        paused = await too_large(deps, job, item, exc)
        if paused is not None:  # it fits once older downloads leave the week
            item.state = "pending"
            raise paused
        item.state, item.error_kind = "failed", "too_large"
        return False
    assert isinstance(exc, ItemFailed)
    if exc.kind == DISK_FULL:  # not the item's fault: wait for space, keep it
        item.state = "pending"
        raise disk_full(deps.settings, job, str(exc)) from exc
    if exc.kind == NOT_WRITABLE:  # nor this: wait for an administrator
        item.state = "pending"
        refused = files.FolderNotWritable(folder, str(exc))
        raise folder_not_writable(deps.settings, job, refused) from exc
    item.state, item.error, item.error_kind = "failed", str(exc), exc.kind
    log.info("youtube_item_failed", download_id=str(job.id), kind=exc.kind)
    return False


async def after_item(deps: HookDeps, job: YoutubeDownload, item: JobItem) -> None:
    """Archive a downloaded item; count a failed one for the breaker."""
    if item.state == "completed":
        async with session_scope(deps.session_factory) as session:
            await archive.record(
                session,
                user_id=job.user_id,
                video_key=item.key or item.url or item.title,
                download_id=job.id,
                size=item.bytes,
            )
        await pushback.record_outcome(deps.session_factory, deps.settings, None)
    elif item.state == "failed":
        await freshness.read_failed(
            deps.session_factory, item.url, item.error_kind, settings=deps.settings
        )
        await pushback.record_outcome(deps.session_factory, deps.settings, item.error_kind)


async def pause(queue: JobQueue, job: YoutubeDownload, view: JobView, paused: JobPaused) -> None:
    """Back to the queue without spending an attempt; finished items are kept."""
    for item in view.items:
        if item.state == "downloading":
            item.state = "pending"
    view.status = DownloadStatus.QUEUED.value
    view.current = None
    await queue.heartbeat(job.id, title=view.title, items=view.stored_items())
    await queue.retry_later(
        job.id,
        attempts=job.attempts,
        count_attempt=False,
        pause_reason=paused.reason,
        error=paused.message,
        delay=paused.delay,
    )
    log.info("youtube_job_paused", download_id=str(job.id), reason=paused.reason)
