"""The download workers: claim jobs from the queue and run them, within the limits.

Two ways to run them: inside `medianest serve` (`start_in_process`, the embedded
default) or as their own process (`medianest worker`, `medianest.worker.run_standalone`).
Either way a pool runs up to `worker_concurrency` jobs; the claim query enforces that
limit and the per-user one across every process. The pool wakes on a nudge (asyncio.Event, or Redis
pub/sub from other processes) and otherwise polls every `worker_poll_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from medianest.context import AppContext
from medianest.core.context import PerContext
from medianest.core.health import CheckResult, HealthCheck
from medianest.core.logging import get_logger
from medianest.youtube.downloads import files
from medianest.youtube.downloads.service import refund_failed_download
from medianest.youtube.jobs import redelivery, rerating
from medianest.youtube.jobs.progress import Emit
from medianest.youtube.jobs.queue import JobQueue
from medianest.youtube.jobs.runner import JobControl, JobRunner
from medianest.youtube.jobs.signals import QueueSignals, queue_signals
from medianest.youtube.ytdlp import js_solver

log = get_logger(__name__)

STOP_GRACE_SECONDS = 10.0


class DownloadWorkers:
    def __init__(self, ctx: AppContext, *, emit: Emit, slots: int | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.slots = slots or ctx.settings.worker_concurrency
        self.worker_id = f"{ctx.instance_id}:{uuid.uuid4().hex[:4]}"
        self.queue = JobQueue(
            ctx.session_factory,
            ctx.settings,
            worker_id=self.worker_id,
            on_failed=functools.partial(refund_failed_download, ctx),
        )
        self.signals: QueueSignals = queue_signals(ctx)
        self.runner = JobRunner(ctx=ctx, queue=self.queue, emit=emit)
        self.running: dict[uuid.UUID, tuple[asyncio.Task[None], JobControl]] = {}
        self.emit = emit
        self._redelivery: asyncio.Task[int] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.last_loop_at: float | None = None
        self.last_error: str | None = None

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self.signals.cancel_handlers.append(self.cancel)
        self.signals.start_listening()
        self._loop_task = asyncio.create_task(self._loop())
        log.info("youtube_workers_started", worker=self.worker_id, slots=self.slots)
        problem = files.group_problem(self.settings.download_gid)
        if problem is not None:  # said at once, not first when a download pauses on it
            log.warning("youtube_download_group_not_joined", problem=problem)
        solver = await js_solver.configured_status(self.settings)
        if solver.warning is not None:  # YouTube items would fail with no word on why
            log.warning("youtube_challenge_solver_missing", problem=solver.warning)
        else:
            log.info(
                "youtube_challenge_solver",
                runtime=solver.runtime,
                version=solver.version,
                path=solver.path,
                reason=solver.reason,
            )

    async def stop(self) -> None:
        """Stop claiming; interrupt running jobs, which go back to the queue at once."""
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for _task, control in self.running.values():
            control.shutdown = True
            control.cancel.set()
        if self._redelivery is not None:  # a delivery cut short: its claim runs out
            self._redelivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._redelivery
        tasks = [task for task, _ in self.running.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        with contextlib.suppress(ValueError):
            self.signals.cancel_handlers.remove(self.cancel)
        await self.signals.stop_listening()
        log.info("youtube_workers_stopped", worker=self.worker_id)

    def cancel(self, download_id: str) -> None:
        """Stop a job this process runs (called for local and Redis-relayed cancels)."""
        with contextlib.suppress(ValueError):
            entry = self.running.get(uuid.UUID(download_id))
            if entry is not None:
                entry[1].cancel.set()

    # --- the loop -------------------------------------------------------------------------
    async def _loop(self) -> None:
        next_recovery = 0.0
        while not self._stopping:
            self.last_loop_at = time.time()
            try:
                if time.monotonic() >= next_recovery:
                    await self.queue.recover_stale(alive=set(self.running))
                    next_recovery = time.monotonic() + min(
                        self.settings.worker_stale_seconds / 2, self.settings.worker_poll_seconds
                    )
                while len(self.running) < self.slots and not self._stopping:
                    job_id = await self.queue.claim()
                    if job_id is None:
                        break
                    self._launch(job_id)
                self._redeliver()
                self.last_error = None
            except Exception as exc:  # the database may be down for a while: keep trying
                self.last_error = type(exc).__name__
                log.warning("youtube_worker_loop_failed", error=self.last_error)
            await self.signals.wait(self._poll_interval())

    def _poll_interval(self) -> float:
        interval = self.settings.worker_poll_seconds
        if self.running:  # heartbeats must be written and stale jobs found in time
            interval = min(interval, self.settings.worker_heartbeat_seconds)
        return min(interval, self.settings.worker_stale_seconds / 2)

    def _redeliver(self) -> None:
        """Deliver the pending downloads that are due (redelivery.py) and re-rate the
        delivered ones (rerating.py), beside the jobs:
        one such task at a time, started by a turn of the loop that finds none running."""
        if self._redelivery is None or self._redelivery.done():
            self._redelivery = asyncio.create_task(self._deliver_due())

    async def _deliver_due(self) -> int:
        """Deliver what is due, then give the content rating to what is due for it
        (rerating.py); each failing alone, the next turn tries again."""
        delivered = 0
        try:
            delivered = await redelivery.deliver_due(self.ctx, self.emit)
        except Exception as exc:  # the database may be down: the next turn tries again
            log.warning("youtube_redelivery_turn_failed", error=type(exc).__name__)
        try:
            await rerating.rate_due(self.ctx)
        except Exception as exc:
            log.warning("youtube_rerating_turn_failed", error=type(exc).__name__)
        return delivered

    def _launch(self, job_id: uuid.UUID) -> None:
        control = JobControl(cancel=threading.Event())
        task = asyncio.create_task(self._run(job_id, control))
        self.running[job_id] = (task, control)

    async def _run(self, job_id: uuid.UUID, control: JobControl) -> None:
        try:
            await self.runner.run(job_id, control)
        except Exception:  # the job is left claimed: `recover_stale` takes it back once stale
            log.exception("youtube_job_runner_died", download_id=str(job_id))
        finally:
            self.running.pop(job_id, None)
            self.signals.wake_event.set()  # a slot is free: look for the next job

    # --- health ---------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return {
            "worker": self.worker_id,
            "running": len(self.running),
            "slots": self.slots,
            "lastLoopAt": self.last_loop_at,
            "lastError": self.last_error,
        }


# The download workers running with each app context (tests watch them).
_workers: PerContext[DownloadWorkers] = PerContext()


def workers_of(ctx: AppContext) -> DownloadWorkers | None:
    return _workers.get(ctx)


def realtime_emitter(ctx: AppContext) -> Emit:
    async def emit(user_id: str, event: str, data: dict[str, Any]) -> None:
        # Admins follow every user's downloads live too ("Show every user's").
        await ctx.realtime.emit_to_user_and_admins(user_id, event, data)

    return emit


async def start_in_process(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Background starter for `medianest serve` (when `run_worker_in_process`)."""
    workers = DownloadWorkers(ctx, emit=realtime_emitter(ctx))
    await workers.start()
    _workers.set(ctx, workers)
    ctx.worker_health = _health_check(workers)

    async def stop() -> None:
        await workers.stop()
        _workers.pop(ctx)

    return stop


def _health_check(workers: DownloadWorkers) -> HealthCheck:
    async def check() -> CheckResult:
        stalled_after = max(60.0, 3 * workers.settings.worker_poll_seconds)
        alive = (
            workers.last_loop_at is not None and time.time() - workers.last_loop_at < stalled_after
        )
        if workers.last_error or not alive:
            return CheckResult(status="error", error=workers.last_error or "worker loop stalled")
        return CheckResult(status="ok")

    return check
