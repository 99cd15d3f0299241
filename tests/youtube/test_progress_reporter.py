"""The progress reporter tells and stores a change of state only when the runner does (once,
with what goes with it), however slow storing is and however often its loop ticks meanwhile."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from medianest.app import MediaNestApp
from medianest.youtube.jobs import progress
from medianest.youtube.jobs.progress import JobView, ProgressReporter
from medianest.youtube.jobs.queue import Beat, JobQueue
from medianest.youtube.jobs.worker import realtime_emitter
from medianest.youtube.models import JobItem


class RecordingQueue(JobQueue):
    """The real queue (its heartbeat runs its UPDATE), noting each status it stores."""

    stored_statuses: list[str] = []  # (replaced, never appended to, per instance)

    async def heartbeat(self, job_id: uuid.UUID, **values: Any) -> Beat:
        self.stored_statuses = [*self.stored_statuses, values["status"]]
        return await super().heartbeat(job_id, **values)


async def test_a_state_stored_slowly_is_announced_once_and_only_after_storing(
    app: MediaNestApp, monkeypatch: Any
) -> None:
    monkeypatch.setattr(progress, "EMIT_INTERVAL", 0.02)
    sent: list[dict[str, Any]] = []

    async def emit(_user_id: str, _event: str, payload: dict[str, Any]) -> None:
        sent.append(payload)

    view = JobView(
        download_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        title="A playlist",
        status="downloading",
        items=[JobItem(url="http://127.0.0.1/v/1", state="completed")],
    )
    queue = RecordingQueue(app.ctx.session_factory, app.ctx.settings, worker_id="test")
    reporter = ProgressReporter(
        view, queue=queue, emit=emit, cancel=threading.Event(), store_interval=0.02
    )
    async with reporter:
        await reporter.emit_now()
        view.status = "completed"
        await asyncio.sleep(0.2)  # storing the row takes a while: the loop ticks ~10 times
        told_before_stored = [p for p in sent if p["status"] == "completed"]
        heartbeats_before_stored = list(queue.stored_statuses)
        await reporter.emit_now()  # stored: now it is told
        await asyncio.sleep(0.1)
    assert told_before_stored == []
    assert [p["status"] for p in sent] == ["downloading", "completed"]
    # The heartbeats went on meanwhile, and never stored the final state before the runner
    # (a poller would have seen "completed" without its Plex collection).
    assert heartbeats_before_stored
    assert set(heartbeats_before_stored) == {"downloading"}


async def test_a_stop_in_any_turn_of_a_publish_ends_the_loop(
    app: MediaNestApp, monkeypatch: Any
) -> None:
    """The runner stops the loop (`async with` ends: the job paused, failed or finished)
    wherever the loop is. On the PostgreSQL + Redis backend the loop's emit is a real
    publish: redis-py writes it under `asyncio.wait_for`, which on Python 3.11 returns the
    finished write and drops a cancel that comes in that turn (CPython gh-86296); the loop
    then ran on for ever, and the runner waited for it. A stop that comes in each of the
    first turns of the publish must end the loop."""
    monkeypatch.setattr(progress, "EMIT_INTERVAL", 0.01)
    loop = asyncio.get_running_loop()
    queue = JobQueue(app.ctx.session_factory, app.ctx.settings, worker_id="test")
    publish = realtime_emitter(app.ctx)
    for turns in range(8):
        stops: list[asyncio.Future[None]] = []
        reporters: list[ProgressReporter] = []

        def stop_after(left: int) -> None:
            if left:
                loop.call_soon(stop_after, left - 1)
            else:  # as the runner's `async with` ends
                stops.append(asyncio.ensure_future(reporters[0].__aexit__(None, None, None)))

        async def emit(user_id: str, event: str, data: dict[str, Any], turns: int = turns) -> None:
            if data["currentItem"] == 1 and not stops:  # the loop's publish of the item
                loop.call_soon(stop_after, turns)
            await publish(user_id, event, data)

        view = JobView(uuid.uuid4(), uuid.uuid4(), "A playlist", "downloading", [JobItem()])
        reporters.append(
            ProgressReporter(
                view, queue=queue, emit=emit, cancel=threading.Event(), store_interval=3600
            )
        )
        await reporters[0].__aenter__()
        await reporters[0].emit_now()
        view.current, view.item_progress.fraction = 0, 0.5  # what the loop publishes next
        deadline = loop.time() + 10
        while not stops and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.wait(stops, timeout=10)
        assert stops and stops[0].done(), f"the loop ran on after a stop {turns} turns in"
