"""The loop watch names what held the event loop, and for how long (core/loop_watch.py)."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import linecache
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from medianest.core import metrics
from medianest.core.loop_watch import Blocked, LoopWatch
from medianest.settings import Settings


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # synchronous work on the loop, as a blocking call in a request is


def of_hold_the_loop(reports: list[Any]) -> list[Any]:
    return [report for report in reports if _innermost(report).endswith("in hold_the_loop")]


def _innermost(report: Any) -> str:
    # A report, or a captured log line (which may be any event).
    where = report.where if isinstance(report, Blocked) else report.get("where") or [""]
    return str(where[-1])


async def free_until_reported(reports: list[Any], expected: int) -> None:
    """Keep the loop free until the watcher has reported `expected` holds of
    `hold_the_loop`. The watcher is a thread: on a loaded machine (a CI run's other workers
    and a browser) it may wake well after a fixed 0.1 s, so a test waits for it, up to 5 s."""
    deadline = time.monotonic() + 5
    while len(of_hold_the_loop(reports)) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)  # and a moment more, so a report too many would show


async def watched(threshold: float, work: Callable[[], None], expected: int = 0) -> list[Blocked]:
    reports: list[Blocked] = []
    watch = LoopWatch(threshold, reports.append)
    watch.start()
    try:
        await asyncio.sleep(0.05)
        work()
        # The loop is free again: the watcher reports.
        await (free_until_reported(reports, expected) if expected else asyncio.sleep(0.1))
    finally:
        watch.stop()
    return reports


async def test_a_hold_is_reported_with_its_length_and_the_function_that_held_it() -> None:
    reports = await watched(0.15, lambda: hold_the_loop(0.4), expected=1)
    # Only this hold: a machine that paused the process would add a report of the loop's
    # own waiting, not of this function.
    held = of_hold_the_loop(reports)
    assert len(held) == 1, reports
    assert 0.35 <= held[0].seconds < 2.0, held
    assert "tests/core/test_loop_watch.py:" in held[0].where[-1], held
    assert held[0].where[0].startswith("asyncio/"), held  # the standard library, shortened
    assert held[0].samples >= 1


async def test_two_holds_one_beat_apart_are_reported_as_two() -> None:
    async def twice() -> None:
        hold_the_loop(0.3)
        await asyncio.sleep(0.005)  # the heartbeat, overdue, runs once between them
        hold_the_loop(0.3)

    reports: list[Blocked] = []
    watch = LoopWatch(0.15, reports.append)
    watch.start()
    try:
        await asyncio.sleep(0.05)
        await twice()
        await free_until_reported(reports, 2)
    finally:
        watch.stop()
    held = of_hold_the_loop(reports)
    assert len(held) == 2, reports
    assert all(0.25 <= report.seconds < 2.0 for report in held), held


async def test_a_loop_that_is_never_held_long_reports_nothing() -> None:
    def short_holds() -> None:
        for _ in range(5):
            hold_the_loop(0.01)

    reports = await watched(0.5, short_holds)
    assert of_hold_the_loop(reports) == []


async def test_naming_a_hold_keeps_no_source_text_of_the_files_it_names(tmp_path: Path) -> None:
    """A report names files, lines and functions; the text of those files is never read,
    so a long-running server does not keep a copy of every source file a hold was seen in
    (`linecache` keeps what it reads for the process's life)."""
    source = tmp_path / "slow_module.py"
    source.write_text(
        "import time\n\n\ndef hold_the_loop(seconds):\n    time.sleep(seconds)\n" + "# -\n" * 500
    )
    spec = importlib.util.spec_from_file_location("slow_module", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    linecache.checkcache()
    reports = await watched(0.15, lambda: module.hold_the_loop(0.4), expected=1)
    held = of_hold_the_loop(reports)
    assert len(held) == 1, reports
    assert held[0].where[-1] == f"{source}:5 in hold_the_loop", held
    # Read in full, an entry is (size, mtime, lines, name); absent or a lazy (loader,) is not.
    assert len(linecache.cache.get(str(source), ())) != 4


async def test_a_full_garbage_collection_is_named_as_such() -> None:
    """No other thread runs while Python collects, so when the watcher notices the hold is
    a matter of the GIL's timing: the collection is timed by gc's own callbacks, and a
    hold it took half of or more is named after it."""
    alive = [[None] for _ in range(1_500_000)]  # a full collection walks each of them
    watch = LoopWatch(0.005, lambda _blocked: None)
    watch.start()
    try:
        since = time.monotonic()
        gc.collect(2)
        until = time.monotonic()
        seen_elsewhere: Counter[tuple[str, ...]] = Counter({("somewhere.py:1 in f",): 1})
        assert watch._where(seen_elsewhere, since, until) == ("garbage collection of generation 2",)
        # A hold the collection took less than half of keeps the place seen most.
        assert watch._where(seen_elsewhere, since, until + 10 * (until - since)) == (
            "somewhere.py:1 in f",
        )
    finally:
        watch.stop()
        del alive


async def test_the_served_app_logs_and_counts_each_hold(
    app_factory: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    before = (
        metrics.registry().get_sample_value("medianest_event_loop_blocked_seconds_count") or 0.0
    )
    with structlog.testing.capture_logs() as logs:
        await app_factory(make_settings(event_loop_blocked_ms=100), watch_loop=True)
        await asyncio.sleep(0.05)
        hold_the_loop(0.3)
        await free_until_reported(logs, 1)
    blocked = [line for line in of_hold_the_loop(logs) if line["event"] == "event_loop_blocked"]
    assert len(blocked) == 1, logs
    assert blocked[0]["log_level"] == "warning"
    assert blocked[0]["blocked_ms"] >= 250
    after = metrics.registry().get_sample_value("medianest_event_loop_blocked_seconds_count") or 0.0
    assert after >= before + 1


async def test_an_app_with_the_watch_turned_off_starts_no_watcher(
    app_factory: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    import threading

    await app_factory(make_settings(event_loop_blocked_ms=0), watch_loop=True)
    assert not [t for t in threading.enumerate() if t.name == "loop-watch"]
