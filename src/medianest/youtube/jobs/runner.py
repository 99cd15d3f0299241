"""Run one claimed download job: expand, download each item, hand the result to Plex.

A failed item does not fail the playlist (the item records why); a cancelled job
removes the item in progress; a job interrupted by a shutdown goes back to the queue
and, when picked up again, skips the items already on disk.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from medianest.context import AppContext
from medianest.core.errors import ValidationFailed
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.plex import paths as plex_paths
from medianest.youtube.cookies import store as youtube_cookies
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.delivery import handoff
from medianest.youtube.downloads import files, shared_files
from medianest.youtube.downloads.urls import AcceptedUrl, validate_download_url
from medianest.youtube.jobs import job_hooks, redelivery, waiting
from medianest.youtube.jobs.progress import Emit, JobView, ProgressReporter
from medianest.youtube.jobs.queue import JobQueue
from medianest.youtube.models import DownloadStatus, JobItem, YoutubeDownload
from medianest.youtube.ytdlp import freshness
from medianest.youtube.ytdlp.challenge_notice import JS_CHALLENGE
from medianest.youtube.ytdlp.downloader import (
    DownloadStopped,
    ItemFailed,
    PlaylistEntry,
    ProgressState,
    download_item,
    expand,
)
from medianest.youtube.ytdlp.item_checks import ItemTooLarge, ItemWaiting

log = get_logger(__name__)

# Errors that retrying will not fix: fail at once instead of backing off.
# Reading the link again gives the same answer (an outdated yt-dlp: until it is updated;
# no JavaScript runtime for YouTube's challenges: until the admin installs one).
PERMANENT_KINDS = frozenset({"unavailable", "private", freshness.OUTDATED, JS_CHALLENGE})


@dataclass
class JobControl:
    """Set by the worker pool: `cancel` stops the job; `shutdown` says why (re-queue it)."""

    cancel: threading.Event
    shutdown: bool = False


class JobRunner:
    def __init__(
        self,
        *,
        ctx: AppContext,
        queue: JobQueue,
        emit: Emit,
    ) -> None:
        self.ctx = ctx
        self.session_factory = ctx.session_factory
        self.settings = ctx.settings
        self.queue = queue
        self.emit = emit
        self.root = ctx.settings.resolved_download_root

    async def run(self, job_id: uuid.UUID, control: JobControl) -> None:
        async with self.session_factory() as session:
            job = await session.get(YoutubeDownload, job_id)
        if job is None:
            return
        view = JobView(
            job.id,
            job.user_id,
            job.title,
            DownloadStatus.DOWNLOADING.value,
            [item.model_copy() for item in job.items],
        )
        reporter = ProgressReporter(
            view,
            queue=self.queue,
            emit=self.emit,
            cancel=control.cancel,
            store_interval=min(2.0, self.settings.worker_heartbeat_seconds),
        )
        try:
            await self._run(job, view, reporter, control)
        except job_hooks.JobPaused as paused:  # disk low, quota used up, queue breaker open
            await job_hooks.pause(self.queue, job, view, paused)
            await reporter.emit_now()
        except Exception as exc:  # a bug or an outage: retry with backoff, never lose the job
            log.exception("youtube_job_crashed", download_id=str(job_id))
            await self.queue.retry_later(
                job_id, attempts=job.attempts, error=f"Unexpected error: {type(exc).__name__}"
            )

    async def _run(
        self, job: YoutubeDownload, view: JobView, reporter: ProgressReporter, control: JobControl
    ) -> None:
        if job.cancel_requested:
            await self._stopped(job, view, reporter, control, folder=None)
            return
        try:
            accepted = validate_download_url(
                job.url, extra_hosts=self.settings.youtube_extra_host_list
            )
        except ValidationFailed as exc:  # the allow-list changed since it was queued
            await self._fail(view, reporter, exc.message)
            return
        if files.free_bytes(self.root) < self.settings.download_min_free_bytes:
            view.status = DownloadStatus.QUEUED.value
            await self.queue.retry_later(
                job.id,
                attempts=job.attempts,
                count_attempt=False,
                pause_reason="DISK_LOW",
                error="Waiting for free disk space",
                delay=self.settings.download_retry_base_seconds,
            )
            await reporter.emit_now()
            return
        async with reporter:  # heartbeats for the whole job: expansion and Plex wait included
            await self._work(job, view, reporter, control, accepted)

    async def _work(
        self,
        job: YoutubeDownload,
        view: JobView,
        reporter: ProgressReporter,
        control: JobControl,
        accepted: AcceptedUrl,
    ) -> None:
        await reporter.emit_now()
        if not view.items:
            try:
                expanded = await youtube_cookies.run_with_cookies(
                    self.ctx,
                    expand,
                    job.url,
                    extractors=accepted.extractors,
                    extra_hosts=tuple(self.settings.youtube_extra_host_list),
                    js_runtime=self.settings.ytdlp_js_runtime,
                    remote_components=self.settings.ytdlp_remote_components,
                )
            except ItemFailed as exc:
                await freshness.read_failed(
                    self.session_factory, job.url, exc.kind, settings=self.settings
                )
                if exc.kind in PERMANENT_KINDS:
                    await self._fail(view, reporter, f"Could not read the link: {exc}")
                else:
                    await self.queue.retry_later(
                        job.id, attempts=job.attempts, error=f"Could not read the link: {exc}"
                    )
                return
            view.title = expanded.title
            view.items = [
                JobItem.pending(n, key=e.key, title=e.title, url=e.url, live_status=e.live_status)
                for n, e in enumerate(expanded.entries)
            ]
        folder = self._folder(job, view)
        if job.subscription_id is not None:
            files.number_after_existing(view.items, folder)
        await self.queue.heartbeat(job.id, title=view.title, folder=str(folder), items=view.items)
        stopped = await self._download_items(job, view, folder, control)
        if stopped or reporter.lost:
            await self._stopped(job, view, reporter, control, folder=folder)
            return
        await self._deliver(job, view, reporter, folder)

    def _folder(self, job: YoutubeDownload, view: JobView) -> Path:
        """The job's folder, made if missing and checked writable (else the job pauses)."""
        wanted = Path(job.folder) if job.folder else files.user_dir(self.root, job.user_id)
        if not job.folder:
            wanted = wanted / files.folder_name(view.title)
        try:
            return files.prepare_folder(wanted, root=self.root, gid=self.settings.download_gid)
        except files.FolderNotWritable as exc:
            raise job_hooks.folder_not_writable(self.settings, job, exc) from exc

    async def _download_items(
        self, job: YoutubeDownload, view: JobView, folder: Path, control: JobControl
    ) -> bool:
        """Download every pending item; True when the job was stopped midway."""
        accepted = validate_download_url(job.url, extra_hosts=self.settings.youtube_extra_host_list)
        for index, item in enumerate(view.items):
            if item.state in ("completed", "failed"):
                continue
            if control.cancel.is_set():
                return True
            if waiting.listed_as_waiting(item):  # live or upcoming: not even looked at
                waiting.mark(item, str(item.live_status))
                continue
            bytes_left = await job_hooks.before_item(self._hook_deps(), job)
            stem = files.stem_for(item)
            view.current, view.item_progress = index, ProgressState()
            item.state = "downloading"
            try:
                path = await youtube_cookies.run_with_cookies(
                    self.ctx,
                    download_item,
                    _entry(item),
                    folder=folder,
                    stem=stem,
                    quality=job.quality,
                    extractors=accepted.extractors,
                    extra_hosts=tuple(self.settings.youtube_extra_host_list),
                    js_runtime=self.settings.ytdlp_js_runtime,
                    remote_components=self.settings.ytdlp_remote_components,
                    cancel=control.cancel,
                    progress=view.item_progress,
                    gid=self.settings.download_gid,
                    max_bytes=bytes_left,
                )
            except (DownloadStopped, ItemFailed, ItemWaiting, ItemTooLarge) as exc:
                files.remove_item_files(folder, stem)
                stopped = await job_hooks.not_downloaded(
                    self._hook_deps(), job, item, folder, exc, shutdown=control.shutdown
                )
                if stopped:
                    view.current = None
                    return True
            else:
                relative = path.relative_to(files.user_dir(self.root, job.user_id))
                item.state, item.file, item.bytes = "completed", str(relative), path.stat().st_size
                item.progress, item.error, item.error_kind = 100, None, None
                item.note = None
            view.current = None
            await job_hooks.after_item(self._hook_deps(), job, item)
        return False

    def _hook_deps(self) -> job_hooks.HookDeps:
        return job_hooks.HookDeps(self.session_factory, self.settings)

    async def _deliver(
        self, job: YoutubeDownload, view: JobView, reporter: ProgressReporter, folder: Path
    ) -> None:
        completed = [i for i in view.items if i.state == "completed"]
        waits = waiting.note(view.items)
        if view.items and not completed and waits is None:
            first = next((i.error for i in view.items if i.error), "unknown error")
            await self._fail(view, reporter, f"No item could be downloaded: {first}")
            return
        view.status = DownloadStatus.PROCESSING.value
        await reporter.store_now()
        await reporter.emit_now()
        handed = await handoff.hand_to_plex(
            self.ctx,
            job,
            folder=folder,
            title=view.title or folder.name,
            stems=tuple(Path(i.file or "").stem for i in completed),
        )
        collection_id = handed.collection_id
        if waits is not None and job.subscription_id is None:  # a later run fetches them
            await waiting.wait_for_streams(
                self.queue,
                job,
                view,
                settings=self.settings,
                plex_collection_id=collection_id,
                waiting_note=waits,
            )
            await reporter.emit_now()
            return
        failed = sum(1 for i in view.items if i.state == "failed")
        note = redelivery.final_note(handed.note, view.items)
        view.status = DownloadStatus.COMPLETED.value
        stored = await self.queue.finish(
            job.id,
            status=view.status,
            progress=100.0,
            items=view.stored_items(),
            bytes_downloaded=view.bytes_done(),
            plex_collection_id=collection_id,
            error=note,
            completed_at=utcnow(),
            next_attempt_at=None,
            plex_pending=handed.pending,  # delivered again at the next change (redelivery.py)
            plex_due_at=handed.retry_at,
        )
        if not stored and await self._remove_if_deleted(job, view, folder):
            return
        await reporter.emit_now()
        log.info(
            "youtube_job_completed", download_id=str(job.id), items=len(view.items), failed=failed
        )

    async def _fail(self, view: JobView, reporter: ProgressReporter, reason: str) -> None:
        view.status = DownloadStatus.FAILED.value
        await self.queue.finish(
            view.download_id,
            status=view.status,
            error=reason,
            items=view.stored_items(),
            completed_at=utcnow(),
        )
        await reporter.emit_now()

    async def _stopped(
        self,
        job: YoutubeDownload,
        view: JobView,
        reporter: ProgressReporter,
        control: JobControl,
        *,
        folder: Path | None,
    ) -> None:
        if control.shutdown and not reporter.lost:
            view.status = DownloadStatus.QUEUED.value
            await self.queue.retry_later(
                job.id,
                attempts=job.attempts,
                count_attempt=False,
                delay=0.0,
                error="Interrupted by a restart; resuming",
            )
            return
        view.status = DownloadStatus.CANCELLED.value
        stored = await self.queue.finish(
            job.id, status=view.status, items=view.stored_items(), completed_at=utcnow()
        )
        if not stored and folder is not None:
            await self._remove_if_deleted(job, view, folder)
        await reporter.emit_now()
        log.info("youtube_job_cancelled", download_id=str(job.id))

    async def _remove_if_deleted(self, job: YoutubeDownload, view: JobView, folder: Path) -> bool:
        """After a store that found no record: if it was deleted (not taken by another
        worker), remove every item's files. Its request removed those of the items the
        record had when deleted; whatever this worker wrote since is only known here
        (a job that ended before the cancel nudge came, or whose nudge was lost)."""
        async with self.session_factory() as session:
            if await session.get(YoutubeDownload, job.id) is not None:
                return False
            paths = await plex_paths.load_path_map(session, settings=self.settings)
            # By the request's rule: a repeated download's files stay while it refers to them.
            still_referenced = await shared_files.stems_of_others(session, str(folder), job.id)
        shared_files.remove_unreferenced(
            self.root,
            download_id=job.id,
            user_id=job.user_id,
            folder=folder,
            items=view.items,
            still_referenced=still_referenced,
        )
        # Plex may have listed them (this worker's delivery scanned the folder): it drops
        # them now, as after the request's own removal, not at its next scheduled scan.
        await plex_delivery.rescan_folder(self.settings, self.ctx.integrations, folder, paths)
        log.info("youtube_deleted_job_files_removed", download_id=str(job.id))
        return True


def _entry(item: JobItem) -> PlaylistEntry:
    return PlaylistEntry(item.key, item.title, item.url)
