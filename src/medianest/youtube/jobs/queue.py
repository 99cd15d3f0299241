"""The durable download queue: jobs are rows of `youtube_downloads`, claimed atomically.

Why a table and not a queue library: the same mechanism has to work on the embedded
SQLite install and on PostgreSQL (+ Redis), survive restarts of the app and of
workers, and need no extra broker. The row already holds the job's state, so the
queue is one more use of it, committed with the request that created the job.

Claiming is one statement: `UPDATE ... WHERE id = (SELECT the oldest due queued job
whose owner and the whole system are under their concurrency limits) AND
status = 'queued' RETURNING id`.
- PostgreSQL: the inner SELECT takes `FOR UPDATE SKIP LOCKED`, so claimers never wait
  on each other's rows, and a transaction-scoped advisory lock serializes the (tiny)
  claim transactions so that the concurrency counts are exact across processes.
- SQLite: one writer at a time, and a single statement is atomic, so the counts and
  the claim cannot interleave with another claim.

A running job writes a heartbeat; a job whose heartbeat is stale (its worker died, or
its runner did while the database was away) is queued again with exponential backoff until `download_max_attempts`, then failed with
the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from medianest.core.events import publish
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.events import DownloadEnded
from medianest.youtube.models import DownloadStatus, YoutubeDownload

log = get_logger(__name__)

# A job stored with one of these has ended: its owner is notified in the same transaction.
FINAL_STATUSES = (DownloadStatus.COMPLETED.value, DownloadStatus.FAILED.value)

RUNNING = (DownloadStatus.DOWNLOADING.value, DownloadStatus.PROCESSING.value)
FINISHED = (
    DownloadStatus.COMPLETED.value,
    DownloadStatus.FAILED.value,
    DownloadStatus.CANCELLED.value,
)
CLAIM_LOCK_KEY = 0x6D6E7974  # "mnyt": the advisory lock that serializes claims on PostgreSQL
MAX_BACKOFF_SECONDS = 3600.0


@dataclass(frozen=True)
class Beat:
    """What a heartbeat learned: whether the job is still ours and whether to stop."""

    owned: bool
    cancel_requested: bool


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """30 s, 60 s, 120 s ... (base doubles per attempt already made), capped at an hour."""
    base = settings.download_retry_base_seconds
    return float(min(MAX_BACKOFF_SECONDS, base * (2 ** max(0, attempts - 1))))


class JobQueue:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        worker_id: str,
        on_failed: Callable[[uuid.UUID], Awaitable[None]] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.worker_id = worker_id
        # Called once a job this worker held has failed for good (after the commit).
        self.on_failed = on_failed
        self.is_postgres = not settings.is_sqlite

    async def claim(self) -> uuid.UUID | None:
        """Take the oldest due job within the limits, or None."""
        now = utcnow()
        candidate_row = aliased(YoutubeDownload, name="candidate")
        running_row = aliased(YoutubeDownload, name="running_any")
        user_row = aliased(YoutubeDownload, name="running_user")
        running_total = (
            select(func.count()).select_from(running_row).where(running_row.status.in_(RUNNING))
        ).scalar_subquery()
        running_for_user = (
            select(func.count())
            .select_from(user_row)
            .where(user_row.status.in_(RUNNING), user_row.user_id == candidate_row.user_id)
        ).scalar_subquery()
        candidate = (
            select(candidate_row.id)
            .where(
                candidate_row.status == DownloadStatus.QUEUED.value,
                candidate_row.cancel_requested.is_(False),
                or_(candidate_row.next_attempt_at.is_(None), candidate_row.next_attempt_at <= now),
                running_total < self.settings.worker_concurrency,
                running_for_user < self.settings.worker_per_user_concurrency,
            )
            .order_by(candidate_row.created_at, candidate_row.id)
            .limit(1)
        )
        if self.is_postgres:
            candidate = candidate.with_for_update(skip_locked=True, of=candidate_row)
        statement = (
            update(YoutubeDownload)
            .where(
                YoutubeDownload.id == candidate.scalar_subquery(),
                YoutubeDownload.status == DownloadStatus.QUEUED.value,
            )
            .values(
                status=DownloadStatus.DOWNLOADING.value,
                claimed_by=self.worker_id,
                heartbeat_at=now,
                attempts=YoutubeDownload.attempts + 1,
                started_at=func.coalesce(YoutubeDownload.started_at, now),
                pause_reason=None,
            )
            .returning(YoutubeDownload.id)
            .execution_options(synchronize_session=False)
        )
        async with session_scope(self.session_factory) as session:
            if self.is_postgres:
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY}
                )
            claimed = (await session.execute(statement)).scalar_one_or_none()
        if claimed is not None:
            log.info("youtube_job_claimed", download_id=str(claimed), worker=self.worker_id)
        return claimed

    async def heartbeat(self, job_id: uuid.UUID, **values: Any) -> Beat:
        """Prove the job is alive (and store progress); learn whether it was cancelled."""
        statement = (
            update(YoutubeDownload)
            .where(YoutubeDownload.id == job_id, YoutubeDownload.claimed_by == self.worker_id)
            .values(heartbeat_at=utcnow(), **values)
            .returning(YoutubeDownload.cancel_requested)
            .execution_options(synchronize_session=False)
        )
        async with session_scope(self.session_factory) as session:
            row = (await session.execute(statement)).first()
        if row is None:
            return Beat(owned=False, cancel_requested=True)
        return Beat(owned=True, cancel_requested=bool(row[0]))

    async def finish(self, job_id: uuid.UUID, **values: Any) -> bool:
        """Store the final state of a job this worker holds and release it."""
        statement = (
            update(YoutubeDownload)
            .where(YoutubeDownload.id == job_id, YoutubeDownload.claimed_by == self.worker_id)
            .values(claimed_by=None, heartbeat_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        async with session_scope(self.session_factory) as session:
            result = await session.execute(statement)
            if getattr(result, "rowcount", 0) and values.get("status") in FINAL_STATUSES:
                await publish(session, DownloadEnded(download_id=job_id))
        finished = bool(getattr(result, "rowcount", 0))
        if finished and values.get("status") == DownloadStatus.FAILED.value and self.on_failed:
            await self.on_failed(job_id)
        return finished

    async def retry_later(
        self,
        job_id: uuid.UUID,
        *,
        attempts: int,
        error: str,
        count_attempt: bool = True,
        pause_reason: str | None = None,
        delay: float | None = None,
    ) -> bool:
        """Put a job back in the queue (backoff), or fail it when attempts are used up."""
        if count_attempt and attempts >= self.settings.download_max_attempts:
            return await self.finish(
                job_id,
                status=DownloadStatus.FAILED.value,
                error=f"{error} (gave up after {attempts} attempts)",
                completed_at=utcnow(),
            )
        wait = delay if delay is not None else backoff_seconds(self.settings, attempts)
        values: dict[str, Any] = {
            "status": DownloadStatus.QUEUED.value,
            "error": error,
            "pause_reason": pause_reason,
            "next_attempt_at": utcnow() + timedelta(seconds=wait),
        }
        if not count_attempt:
            values["attempts"] = max(0, attempts - 1)
        return await self.finish(job_id, **values)

    async def recover_stale(self, alive: Collection[uuid.UUID] = ()) -> int:
        """Re-queue (or fail, or finish cancelling) jobs whose worker stopped beating.
        `alive`: the jobs this process is running, whose late beat is only a busy loop."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.settings.worker_stale_seconds)
        query = select(
            YoutubeDownload.id,
            YoutubeDownload.attempts,
            YoutubeDownload.cancel_requested,
            YoutubeDownload.claimed_by,
        ).where(
            YoutubeDownload.status.in_(RUNNING),
            or_(
                YoutubeDownload.heartbeat_at.is_(None), YoutubeDownload.heartbeat_at < stale_before
            ),
        )
        if alive:
            # The jobs running here are alive (a busy loop may only be late to beat); one
            # claimed by this worker whose runner died (its way back to the queue needed
            # the database that had just failed) is recovered like a dead worker's.
            query = query.where(YoutubeDownload.id.not_in(list(alive)))
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        recovered = 0
        failed: list[uuid.UUID] = []
        async with session_scope(self.session_factory) as session:
            for job_id, attempts, cancelled, worker in (await session.execute(query)).all():
                values = self._recovery_values(attempts, cancelled, now)
                await session.execute(
                    update(YoutubeDownload)
                    .where(YoutubeDownload.id == job_id, YoutubeDownload.status.in_(RUNNING))
                    .values(claimed_by=None, **values)
                    .execution_options(synchronize_session=False)
                )
                recovered += 1
                if values["status"] == DownloadStatus.FAILED.value:
                    failed.append(job_id)
                log.warning(
                    "youtube_job_recovered",
                    download_id=str(job_id),
                    dead_worker=worker,
                    attempts=attempts,
                    new_status=values["status"],
                )
        if self.on_failed is not None:
            for job_id in failed:
                await self.on_failed(job_id)
        return recovered

    def _recovery_values(self, attempts: int, cancelled: bool, now: Any) -> dict[str, Any]:
        if cancelled:
            return {"status": DownloadStatus.CANCELLED.value, "completed_at": now}
        reason = "The worker running this download stopped responding"
        if attempts >= self.settings.download_max_attempts:
            return {
                "status": DownloadStatus.FAILED.value,
                "error": f"{reason} (gave up after {attempts} attempts)",
                "completed_at": now,
            }
        return {
            "status": DownloadStatus.QUEUED.value,
            "error": f"{reason}; retrying",
            "next_attempt_at": now + timedelta(seconds=backoff_seconds(self.settings, attempts)),
        }
