"""The supervisor of one running job: throttled progress events, stored progress,
heartbeats and the cancel check, all from one small loop on the event loop.

yt-dlp's hook only writes numbers into a `ProgressState` (from its thread); this loop
reads them every `EMIT_INTERVAL` and emits when something changed, so a download
sends at most ~2 events per second however chatty yt-dlp is, and the database sees a
write every `store_interval` (which doubles as the heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from medianest.core.logging import get_logger
from medianest.youtube.jobs.queue import JobQueue
from medianest.youtube.models import JobItem
from medianest.youtube.ytdlp.downloader import ProgressState

log = get_logger(__name__)

PROGRESS_EVENT = "youtube:progress"
EMIT_INTERVAL = 0.5  # seconds: at most ~2 events/s per download
STORE_INTERVAL = 2.0  # seconds between progress writes (and heartbeats) while busy

# (user_id, event, payload): ctx.realtime.emit_to_user, or a Redis emitter in a worker.
Emit = Callable[[str, str, dict[str, Any]], Awaitable[None]]


@dataclass
class JobView:
    """What the job looks like right now; mutated by the runner, read by the reporter."""

    download_id: uuid.UUID
    user_id: uuid.UUID
    title: str | None
    status: str
    items: list[JobItem] = field(default_factory=list)
    current: int | None = None  # index into items of the item being downloaded
    item_progress: ProgressState = field(default_factory=ProgressState)

    def percent(self) -> float:
        if not self.items:
            return 0.0
        done = sum(1 for i in self.items if i.state in ("completed", "failed"))
        fraction = self.item_progress.fraction if self.current is not None else 0.0
        return round(min(100.0, 100.0 * (done + fraction) / len(self.items)), 1)

    def bytes_done(self) -> int:
        return sum(i.bytes for i in self.items)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "downloadId": str(self.download_id),
            "status": self.status,
            "progress": self.percent(),
            "currentItem": (self.current + 1) if self.current is not None else None,
            "totalItems": len(self.items),
            "title": self.title,
        }
        if self.current is not None:
            speed, eta = self.item_progress.speed, self.item_progress.eta
            if speed is not None:
                data["speed"] = round(float(speed))
            if eta is not None:
                data["eta"] = eta
        return data

    def stored_items(self) -> list[JobItem]:
        items = [item.model_copy() for item in self.items]
        if self.current is not None and self.current < len(items):
            items[self.current].progress = round(100.0 * self.item_progress.fraction, 1)
        return items


class ProgressReporter:
    def __init__(
        self,
        view: JobView,
        *,
        queue: JobQueue,
        emit: Emit,
        cancel: threading.Event,
        store_interval: float = STORE_INTERVAL,
    ) -> None:
        self.view = view
        self.queue = queue
        self._emit = emit
        self.cancel = cancel
        self.store_interval = store_interval
        self.lost = False  # the row is gone or another worker took it
        self._last_sent: dict[str, Any] | None = None
        self._announced_status: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def __aenter__(self) -> ProgressReporter:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        """The loop ends before the runner stores what comes next (a pause, the end). One
        cancel did not always end it: redis-py writes a publish (the progress event, with
        Redis) under `asyncio.wait_for`, which on Python 3.11 returns the finished write and
        drops a cancel that comes in that turn (CPython gh-86296), and a round turns other
        errors into a warning. The loop then ran on, beating "downloading", and the runner
        waited for it: a paused job stayed "downloading" for ever, its worker slot taken.
        So the loop also stops at its next round (`_stopping`), and is cancelled once.
        (A cancel that met a heartbeat's `UPDATE ... RETURNING` on SQLite kept the write
        lock until garbage collection, and the pause's own write failed after 30 s, in CI:
        `db/sqlite_rows.py` finishes every statement in the call that runs it.)"""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def emit_now(self) -> None:
        """Announce the current state at once: the runner calls it when a change of state
        is stored, and only then may the state be told (the browser re-reads the row on
        it); the loop tells progress within the announced state, never a new one."""
        payload = self.view.payload()
        self._announced_status = payload["status"]
        await self._send(payload, force=True)

    async def store_now(self, *, status: str | None = None) -> None:
        beat = await self.queue.heartbeat(
            self.view.download_id,
            progress=self.view.percent(),
            items=self.view.stored_items(),
            bytes_downloaded=self.view.bytes_done(),
            title=self.view.title,
            status=status or self.view.status,
        )
        if not beat.owned:
            self.lost = True
        if beat.cancel_requested:
            self.cancel.set()

    async def _loop(self) -> None:
        last_store = time.monotonic()
        stored_item = self.view.current
        while not self._stopping:
            await asyncio.sleep(EMIT_INTERVAL)
            try:
                # A new item is stored before it is announced: the browser re-reads the
                # row on that event, and must find the item list as the header says.
                moved_on = self.view.current != stored_item
                if moved_on or time.monotonic() - last_store >= self.store_interval:
                    last_store = time.monotonic()
                    stored_item = self.view.current
                    # The runner stores a change of state itself, with what goes with it
                    # (a final state with its collection): the heartbeat keeps the announced one.
                    await self.store_now(status=self._announced_status)
                payload = self.view.payload()
                if payload["status"] == self._announced_status:
                    await self._send(payload, force=False)
            except Exception as exc:  # a hiccup (DB busy, Redis down) must not kill the job
                log.warning("youtube_progress_report_failed", error=type(exc).__name__)

    async def _send(self, payload: dict[str, Any], *, force: bool) -> None:
        if not force and payload == self._last_sent:
            return
        self._last_sent = payload
        try:
            await self._emit(str(self.view.user_id), PROGRESS_EVENT, payload)
        except Exception as exc:  # live progress is best effort; the row keeps the truth
            log.warning("youtube_progress_emit_failed", error=type(exc).__name__)
