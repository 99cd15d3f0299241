"""YouTube downloads: submit (validated, rate limited, de-duplicated), list, read,
cancel and delete. Services never commit; the queue is nudged only after the
request's commit succeeded (an `after_commit` hook), so a worker never looks for a
row that is not there yet.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.context import AppContext
from medianest.core.errors import Conflict, PermissionDenied
from medianest.core.logging import get_logger
from medianest.core.ratelimit import RateLimitResult
from medianest.db.base import utcnow
from medianest.db.engine import after_commit, session_scope
from medianest.platform import audit
from medianest.plex import paths as plex_paths
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.delivery import guard as delivery_guard
from medianest.youtube.delivery import private as delivery
from medianest.youtube.delivery import visibility
from medianest.youtube.downloads import active, files, quotas, shared_files
from medianest.youtube.downloads.urls import validate_download_url
from medianest.youtube.jobs.queue import FINISHED
from medianest.youtube.jobs.signals import queue_signals
from medianest.youtube.models import DownloadStatus, YoutubeDownload
from medianest.youtube.schemas import DownloadRequest

log = get_logger(__name__)

RATE_WINDOW_SECONDS = 3600


# The folder removals that follow a user's deletion, kept alive until done.
_REMOVALS: set[asyncio.Task[None]] = set()


def youtube_limit(ctx: AppContext) -> int:
    return ctx.limits.youtube_per_hour or ctx.settings.rate_limit_youtube_per_hour


def _hourly_key(user_id: uuid.UUID) -> str:
    return f"youtube:{user_id}"


async def hourly_left(ctx: AppContext, user: User) -> RateLimitResult:
    """How many downloads `user` may still start by hand this hour (counts nothing)."""
    return await ctx.rate_limiter.peek(
        _hourly_key(user.id), limit=youtube_limit(ctx), window_seconds=RATE_WINDOW_SECONDS
    )


async def refund_failed_download(ctx: AppContext, download_id: uuid.UUID) -> None:
    """A download its user started by hand that failed gives its hourly download back
    (a subscription's checks never took one). Only within the window it was counted in."""
    async with session_scope(ctx.session_factory) as session:
        row = (
            await session.execute(
                select(
                    YoutubeDownload.user_id,
                    YoutubeDownload.subscription_id,
                    YoutubeDownload.created_at,
                ).where(YoutubeDownload.id == download_id)
            )
        ).first()
    if row is None or row.subscription_id is not None:
        return
    if utcnow() - row.created_at >= timedelta(seconds=RATE_WINDOW_SECONDS):
        return
    await _refund_hourly(ctx, row.user_id)
    log.info("youtube_hourly_download_refunded", download_id=str(download_id))


async def _refund_hourly(ctx: AppContext, user_id: uuid.UUID) -> None:
    await ctx.rate_limiter.refund(
        _hourly_key(user_id), limit=youtube_limit(ctx), window_seconds=RATE_WINDOW_SECONDS
    )


async def submit_request(
    session: AsyncSession, *, ctx: AppContext, user: User, wanted: DownloadRequest
) -> YoutubeDownload:
    """The one "download this link" action of the page and the API."""
    return await submit(
        session,
        ctx=ctx,
        user=user,
        url=wanted.url,
        quality=wanted.quality,
        delivery_choice=wanted.delivery,
    )


async def submit(
    session: AsyncSession,
    *,
    ctx: AppContext,
    user: User,
    url: str,
    quality: str | None,
    delivery_choice: str | None = None,
    hourly_limit: bool = True,
) -> YoutubeDownload:
    """Queue a download for `user` (400 bad URL, 409 already active, 429 over the limit).
    `hourly_limit=False` for a subscription's scheduled check: the per-hour limit guards
    what people start by hand; the role's quotas still apply to everything. By hand, a
    user who could not see the Plex library the download goes to is refused (409
    `PLEX_LIBRARY_NOT_SHARED`); a scheduled check's delivery reports it instead."""
    accepted = validate_download_url(url, extra_hosts=ctx.settings.youtube_extra_host_list)
    if hourly_limit:
        await visibility.require_visible(ctx, user)
    await active.refuse_if_already_active(session, user_id=user.id, url=accepted.url)
    await quotas.enforce_youtube(session, user)  # 429 QUOTA_EXCEEDED with when it resets
    if hourly_limit:
        limit = youtube_limit(ctx)
        result = await ctx.rate_limiter.hit(
            _hourly_key(user.id), limit=limit, window_seconds=RATE_WINDOW_SECONDS
        )
        result.raise_if_exceeded(f"You can start {limit} downloads per hour. Try again later.")
    job = await active.insert_unless_active(
        session,
        user_id=user.id,
        url=accepted.url,
        quality=quality or ctx.settings.default_download_quality,
        status=DownloadStatus.QUEUED.value,
        progress=0.0,
        items=[],
        attempts=0,
        cancel_requested=False,
        delivery=await delivery.choose(session, user=user, requested=delivery_choice),
    )
    if job is None:
        # A double click: both passed the look above, the other one is the download; this
        # one gives back the hourly download it was counted.
        if hourly_limit:
            await _refund_hourly(ctx, user.id)
        await active.refuse_if_already_active(session, user_id=user.id, url=accepted.url)
        raise active.already_active(None)
    after_commit(session, queue_signals(ctx).job_added)
    log.info("youtube_download_queued", download_id=str(job.id), kind=accepted.kind)
    return job


def downloads_scope(user: User, *, user_id: uuid.UUID | None, all_users: bool) -> uuid.UUID | None:
    """Whose downloads `user` lists: their own; an admin may ask for one user's or
    everyone's (None)."""
    if all_users or (user_id is not None and user_id != user.id):
        if not user.is_admin:
            raise PermissionDenied("Only administrators can see other users' downloads.")
        return None if all_users else user_id
    return user.id


async def list_downloads(
    session: AsyncSession, *, user_id: uuid.UUID | None, page: int, page_size: int
) -> tuple[list[YoutubeDownload], int]:
    """Downloads of `user_id` (None: every user's), newest first."""
    scope = [YoutubeDownload.user_id == user_id] if user_id is not None else []
    total = await session.scalar(select(func.count()).select_from(YoutubeDownload).where(*scope))
    rows = await session.scalars(
        select(YoutubeDownload)
        .where(*scope)
        .order_by(YoutubeDownload.created_at.desc(), YoutubeDownload.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), int(total or 0)


async def owner_names(session: AsyncSession, jobs: list[YoutubeDownload]) -> dict[uuid.UUID, str]:
    """Usernames of the downloads' owners (for an admin's list of everyone's)."""
    ids = {job.user_id for job in jobs}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {user_id: username for user_id, username in rows}


def _audit_if_not_own(
    session: AsyncSession,
    job: YoutubeDownload,
    *,
    actor: User | None,
    ip: str | None,
    action: str,
) -> None:
    # Owners act on their own downloads freely; an admin acting on someone else's is recorded.
    if actor is not None and actor.id != job.user_id:
        audit.record(
            session,
            action=f"youtube.download.{action}",
            actor_id=actor.id,
            target=f"youtube_download:{job.id}",
            details={"ownerId": str(job.user_id), "title": job.title, "status": job.status},
            ip=ip,
        )


async def cancel(
    session: AsyncSession,
    *,
    ctx: AppContext,
    job: YoutubeDownload,
    actor: User | None = None,
    ip: str | None = None,
) -> YoutubeDownload:
    """Stop a queued or running download; finished items stay, the partial one goes."""
    if job.status in FINISHED:
        raise Conflict("This download has already finished.", details={"status": job.status})
    _audit_if_not_own(session, job, actor=actor, ip=ip, action="cancel")
    job.cancel_requested = True
    if job.status == DownloadStatus.QUEUED.value:
        job.status = DownloadStatus.CANCELLED.value
        job.completed_at = utcnow()
    else:
        after_commit(session, lambda: queue_signals(ctx).cancel(str(job.id)))
    return job


async def resume(
    session: AsyncSession,
    *,
    ctx: AppContext,
    job: YoutubeDownload,
    actor: User | None = None,
    ip: str | None = None,
) -> YoutubeDownload:
    """Queue a cancelled download again: finished items are kept and skipped, the rest is
    fetched. Not a new download: the hourly limit is not counted again."""
    if job.status != DownloadStatus.CANCELLED.value:
        raise Conflict("Only a cancelled download can be resumed.", details={"status": job.status})
    await active.refuse_if_already_active(session, user_id=job.user_id, url=job.url)
    # Only if still cancelled (a double click resumes once) and the link is not active
    # (a submission of it since the look above).
    requeue = (
        update(YoutubeDownload)
        .where(
            YoutubeDownload.id == job.id,
            YoutubeDownload.status == DownloadStatus.CANCELLED.value,
        )
        .values(
            status=DownloadStatus.QUEUED.value,
            cancel_requested=False,
            completed_at=None,
            next_attempt_at=None,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if await active.activate_unless_active(session, requeue) is None:
        await active.refuse_if_already_active(session, user_id=job.user_id, url=job.url)
        raise active.already_active(None)
    await session.refresh(job)
    _audit_if_not_own(session, job, actor=actor, ip=ip, action="resume")
    after_commit(session, queue_signals(ctx).job_added)
    log.info("youtube_download_resumed", download_id=str(job.id))
    return job


async def delete(
    session: AsyncSession,
    *,
    ctx: AppContext,
    job: YoutubeDownload,
    actor: User | None = None,
    ip: str | None = None,
) -> None:
    """Cancel if running, delete its files, its Plex collection and the record. `actor`
    (None: the owner, e.g. through their subscription) is audited when it is not the owner."""
    await delete_many(session, ctx=ctx, jobs=[job], actor=actor, ip=ip)


async def delete_many(
    session: AsyncSession,
    *,
    ctx: AppContext,
    jobs: Sequence[YoutubeDownload],
    actor: User | None = None,
    ip: str | None = None,
) -> None:
    """`delete` for each of `jobs` (a subscription's, a deleted user's): every file removal
    and Plex rescan first, then the records. A record's DELETE takes SQLite's write lock
    until the unit of work commits; the next download's rescan then waited on Plex under
    it, and every other writer of the app with it (docs/fault-tolerance.md)."""
    root = ctx.settings.resolved_download_root
    paths = await plex_paths.load_path_map(session, settings=ctx.settings)
    gone = {job.id for job in jobs}
    for job in jobs:
        _audit_if_not_own(session, job, actor=actor, ip=ip, action="delete")
        if job.status in active.ACTIVE:
            # Once the record is gone, not before: a worker stopped earlier stored the job
            # (and an item that had just landed) while it still existed, and left its files.
            after_commit(session, functools.partial(queue_signals(ctx).cancel, str(job.id)))
        await shared_files.delete_files(session, root, job, gone)
        if job.folder:  # Plex drops the gone files' items now, not at its next scan
            await plex_delivery.rescan_folder(
                ctx.settings, ctx.integrations, Path(job.folder), paths
            )
    for job in jobs:
        await _delete_record(session, ctx, job, paths, gone)
        log.info("youtube_download_deleted", download_id=str(job.id))


async def delete_all_of_user(session: AsyncSession, *, ctx: AppContext, user_id: uuid.UUID) -> int:
    """Before a user is deleted: each of their downloads as `delete` does it (cancelled,
    files, collections, playlists), then, once the deletion committed, whatever is left
    in their download folder (nobody else's files live there). Returns how many."""
    jobs = list(
        await session.scalars(select(YoutubeDownload).where(YoutubeDownload.user_id == user_id))
    )
    await delete_many(session, ctx=ctx, jobs=jobs)
    root = ctx.settings.resolved_download_root

    def remove_user_folder() -> None:
        user_folder = files.user_dir(root, user_id)
        if user_folder.is_dir() and files.is_within(user_folder.resolve(), root.resolve()):
            shutil.rmtree(user_folder, ignore_errors=True)

    async def remove_user_folder_later() -> None:
        # A folder of many videos takes a while: the answer does not wait for it.
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(remove_user_folder))
        _REMOVALS.add(task)
        task.add_done_callback(_REMOVALS.discard)

    after_commit(session, remove_user_folder_later)
    return len(jobs)


async def _delete_record(
    session: AsyncSession,
    ctx: AppContext,
    job: YoutubeDownload,
    paths: plex_paths.PathMap,
    gone: set[uuid.UUID],
) -> None:
    """Delete the record and, once that committed, the files of the items it had when
    deleted (not only those loaded earlier), and its Plex collection and playlist as it
    had them then. A worker that stored its job (or recorded what it made in Plex) before
    the DELETE had written its files by then, so they are found (and Plex, which may have
    listed them since `delete`'s rescan, is asked to scan again); one that stores after it
    finds no record and removes its files (runner `_remove_if_deleted`) and what it made
    in Plex (delivery/guard.py) itself."""
    statement = (
        delete_rows(YoutubeDownload)
        .where(YoutubeDownload.id == job.id)
        .returning(
            YoutubeDownload.folder,
            YoutubeDownload.items,
            YoutubeDownload.plex_collection_id,
            YoutubeDownload.plex_playlist_id,
        )
        .execution_options(synchronize_session=False)
    )
    deleted = (await session.execute(statement)).first()
    session.expunge(job)
    if deleted is None:
        return
    await delivery_guard.remove_after_delete(
        session,
        ctx=ctx,
        user_id=job.user_id,
        collection_id=deleted.plex_collection_id,
        playlist_id=deleted.plex_playlist_id,
    )
    if not deleted.folder:
        return
    root = ctx.settings.resolved_download_root
    last = YoutubeDownload(id=job.id, user_id=job.user_id, folder=deleted.folder)
    last.items = deleted.items
    still_referenced = await shared_files.stems_of_others_of(session, last, gone)

    async def remove_files() -> None:
        if shared_files.remove_files_of(root, last, still_referenced):
            # Files the worker stored after this request's rescan: Plex may list them.
            folder = Path(deleted.folder)
            await plex_delivery.rescan_folder(ctx.settings, ctx.integrations, folder, paths)

    after_commit(session, remove_files)
