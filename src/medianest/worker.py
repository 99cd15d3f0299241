"""`medianest worker`: download workers in their own process, until SIGTERM or Ctrl+C.

Progress reaches browsers through Redis: the worker publishes on the Socket.IO Redis
channel with a write-only emitter and the web process delivers to the user's room.
Without Redis there is no bus between processes, so a separate worker only stores
progress (the pages and the API still show it); run the workers inside `serve`
(the default) to get live progress without Redis.

A composition module beside `app` and `cli`: it builds the whole app context.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from medianest.app import build_context, close_context
from medianest.core.change_relay import start_change_relay
from medianest.core.logging import get_logger
from medianest.core.realtime import Realtime, external_emitter
from medianest.settings import Settings
from medianest.youtube.jobs import heartbeat
from medianest.youtube.jobs.progress import Emit
from medianest.youtube.jobs.worker import DownloadWorkers
from medianest.youtube.subscriptions.scheduler import start_in_process as start_scheduler

log = get_logger(__name__)


async def _stored_only(user_id: str, event: str, data: dict[str, Any]) -> None:
    """No Redis: nothing can reach the browsers from this process (progress is stored)."""


async def run_standalone(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    ctx = await build_context(settings, Realtime(None), run_migrations=False)
    emitter = external_emitter(settings.redis_url) if settings.redis_url else None
    emit: Emit = emitter.emit_to_user_and_admins if emitter is not None else _stored_only
    if emitter is None:
        log.warning("youtube_worker_without_redis", effect="progress is stored, not pushed live")
    workers = DownloadWorkers(ctx, emit=emit)
    stop_scheduler: Callable[[], Awaitable[None]] | None = None
    stop_heartbeat: Callable[[], Awaitable[None]] | None = None
    # The web instances' kept answers learn of this process's commits (progress, states).
    stop_change_relay = await start_change_relay(ctx)
    try:
        await workers.start()
        stop_heartbeat = await heartbeat.start_heartbeat(ctx, workers)
        stop_scheduler = await start_scheduler(ctx)  # subscriptions: claims keep it single
        await stop.wait()
    finally:
        if stop_heartbeat is not None:
            await stop_heartbeat()
        await workers.stop()
        if stop_scheduler is not None:
            await stop_scheduler()
        if emitter is not None:
            await emitter.aclose()
        await stop_change_relay()
        await close_context(ctx)
