"""The heartbeat of a separately run worker (`medianest worker`): every
`worker_heartbeat_seconds` it stores one row per worker (system_settings,
`worker_heartbeat:<id>`) and touches a file in the temp directory. The app's
`/api/health` reads the rows (degraded when the newest is older than
`worker_stale_seconds` or reports a stalled loop; "disabled" while no worker ever
reported); the container's healthcheck
(`medianest worker-health`) reads the file, without a database round trip."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from medianest.context import AppContext
from medianest.core.health import CheckResult
from medianest.core.logging import get_logger
from medianest.core.loops import stop_loop
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting
from medianest.youtube.jobs.worker import DownloadWorkers

log = get_logger(__name__)

KEY_PREFIX = "worker_heartbeat:"
# Rows of workers gone this long are removed (their ids are never reused).
FORGET_AFTER = timedelta(days=1)


def heartbeat_file() -> Path:
    return Path(tempfile.gettempdir()) / "medianest-worker.heartbeat"


def file_is_fresh(path: Path, *, max_age_seconds: float) -> bool:
    """For the container healthcheck: the file was touched within `max_age_seconds`."""
    try:
        return time.time() - path.stat().st_mtime < max_age_seconds
    except OSError:
        return False


def _loop_alive(workers: DownloadWorkers) -> bool:
    stalled_after = max(60.0, 3 * workers.settings.worker_poll_seconds)
    last = workers.last_loop_at
    return last is not None and time.time() - last < stalled_after


async def write_heartbeat(ctx: AppContext, workers: DownloadWorkers) -> None:
    """Store this worker's state; the file is touched only while its loop is alive."""
    value: dict[str, Any] = workers.health() | {"at": time.time(), "alive": _loop_alive(workers)}
    async with session_scope(ctx.session_factory) as session:
        key = KEY_PREFIX + workers.worker_id
        await stored_settings.save(session, key, value)
        await session.execute(
            delete(SystemSetting).where(
                SystemSetting.key.startswith(KEY_PREFIX),
                SystemSetting.updated_at < utcnow() - FORGET_AFTER,
            )
        )
    if value["alive"] and not workers.last_error:
        path = heartbeat_file()
        path.touch()
        os.utime(path)


async def start_heartbeat(
    ctx: AppContext, workers: DownloadWorkers
) -> Callable[[], Awaitable[None]]:
    async def beat_forever() -> None:
        while True:
            try:
                await write_heartbeat(ctx, workers)
            except Exception as exc:  # the database being away is what health will show
                log.warning("worker_heartbeat_failed", error=type(exc).__name__)
            await asyncio.sleep(ctx.settings.worker_heartbeat_seconds)

    task = asyncio.get_running_loop().create_task(beat_forever())

    async def stop() -> None:
        await stop_loop(task)

    return stop


async def start_health_check(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Background starter of an app without in-process workers: health reads the rows."""
    ctx.worker_health = stored_worker_health(ctx)

    async def nothing_to_stop() -> None:
        return None

    return nothing_to_stop


def stored_worker_health(ctx: AppContext) -> Callable[[], Awaitable[CheckResult]]:
    """The `/api/health` check of an app whose workers run in other processes."""

    async def check() -> CheckResult:
        async with session_scope(ctx.session_factory) as session:
            rows = await session.scalars(
                select(SystemSetting).where(SystemSetting.key.startswith(KEY_PREFIX))
            )
            beats = [row.value for row in rows if isinstance(row.value, dict)]
        if not beats:
            # Not degraded: nothing was lost yet (and a worker that waits for a healthy
            # app must be able to start); shown so the admin sees no worker runs.
            return CheckResult(status="disabled", error="no download worker has reported yet")
        newest = max(beats, key=lambda beat: float(beat.get("at", 0)))
        age = time.time() - float(newest.get("at", 0))
        if age > ctx.settings.worker_stale_seconds:
            return CheckResult(
                status="error", error=f"no download worker heartbeat for {round(age)} s"
            )
        if newest.get("lastError") or not newest.get("alive", False):
            return CheckResult(
                status="error", error=str(newest.get("lastError") or "worker loop stalled")
            )
        return CheckResult(status="ok")

    return check
