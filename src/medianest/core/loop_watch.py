"""Naming what blocks the event loop.

While one piece of synchronous work holds the event loop, every request of the process
waits: a p99 of half a second among answers of 20 ms is that. A heartbeat on the loop
says it is free; a watcher thread that sees the heartbeat late samples where the loop's
thread is. When the loop is free again the watcher logs `event_loop_blocked` with how long
it was held and the place seen most (files, lines and functions, never values), and counts
it in `medianest_event_loop_blocked_seconds`. A full garbage collection shows as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from medianest.core.logging import get_logger
from medianest.core.metrics import EVENT_LOOP_BLOCKED

log = get_logger(__name__)

HEARTBEAT_SECONDS = 0.02
# The innermost frames kept of a sampled stack: enough to name the caller of the slow call.
FRAMES_KEPT = 8


@dataclass(frozen=True, slots=True)
class Blocked:
    seconds: float
    where: tuple[str, ...]  # innermost last, as a traceback reads
    samples: int


def _short(filename: str) -> str:
    # A path from the package on: ".../site-packages/sqlalchemy/x.py" -> "sqlalchemy/x.py",
    # ".../lib/python3.11/asyncio/x.py" -> "asyncio/x.py".
    parts = Path(filename).parts
    for index in range(len(parts) - 2, -1, -1):
        part = parts[index]
        if part in ("site-packages", "dist-packages", "src") or part.startswith("python3"):
            return "/".join(parts[index + 1 :])
    return filename


def _place(frame: FrameType) -> tuple[str, ...]:
    # Read from the frames themselves: `traceback.extract_stack` would read each file's
    # text for its lines, and `linecache` keeps that text for the process's life (a copy
    # of every file a hold was ever seen in; 0.5 MB after a slow start's first holds).
    places: list[str] = []
    current: FrameType | None = frame
    while current is not None and len(places) < FRAMES_KEPT:
        code = current.f_code
        places.append(f"{_short(code.co_filename)}:{current.f_lineno} in {code.co_name}")
        current = current.f_back
    return tuple(reversed(places))


class LoopWatch:
    """Watches the running loop from a thread; `report` is called from that thread."""

    def __init__(self, threshold_seconds: float, report: Callable[[Blocked], None]) -> None:
        self.threshold = threshold_seconds
        self.report = report
        self._beat_at = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The last long collection: (generation, began, ended) in time.monotonic(). Timed in
        # gc's own callbacks, since no other thread runs while it collects.
        self._gc_began = 0.0
        self._long_collection: tuple[int, float, float] | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._beat()
        gc.callbacks.append(self._on_gc)
        self._thread = threading.Thread(target=self._watch, name="loop-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def _beat(self) -> None:
        self._beat_at = time.monotonic()
        assert self._loop is not None
        self._timer = self._loop.call_later(HEARTBEAT_SECONDS, self._beat)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._gc_began = now
        elif now - self._gc_began >= self.threshold / 2:
            self._long_collection = (info["generation"], self._gc_began, now)

    def _sample(self) -> tuple[str, ...]:
        frame = sys._current_frames().get(self._loop_thread)
        return _place(frame) if frame is not None else ("(no Python frame)",)

    def _where(
        self, places: Counter[tuple[str, ...]], since: float, until: float
    ) -> tuple[str, ...]:
        """The place seen most, unless a collection within the hold took half of it or more."""
        collection = self._long_collection
        if collection is not None:
            generation, began, ended = collection
            if since <= began and ended <= until and ended - began >= (until - since) / 2:
                return (f"garbage collection of generation {generation}",)
        return places.most_common(1)[0][0]

    def _watch(self) -> None:
        places: Counter[tuple[str, ...]] = Counter()
        held_since: float | None = None
        while not self._stop.wait(HEARTBEAT_SECONDS / 2):
            beat_at = self._beat_at
            if held_since is not None and beat_at != held_since:
                # Free again (if only for a beat): held from the beat before the hold to
                # the one after it.
                held = beat_at - held_since - HEARTBEAT_SECONDS
                where = self._where(places, held_since, beat_at)
                self.report(Blocked(held, where, sum(places.values())))
                places.clear()
                held_since = None
            if time.monotonic() - beat_at - HEARTBEAT_SECONDS > self.threshold:
                held_since = beat_at
                places[self._sample()] += 1


def log_blocked(blocked: Blocked) -> None:
    EVENT_LOOP_BLOCKED.observe(blocked.seconds)
    log.warning(
        "event_loop_blocked",
        blocked_ms=round(blocked.seconds * 1000, 1),
        where=list(blocked.where),
        samples=blocked.samples,
    )


async def start_watching(threshold_ms: float) -> Callable[[], Awaitable[None]]:
    """Watch this loop, logging each hold longer than `threshold_ms`; returns the stop."""
    watch = LoopWatch(threshold_ms / 1000, log_blocked)
    watch.start()

    async def stop() -> None:
        watch.stop()

    return stop
