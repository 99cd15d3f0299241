"""MediaNest under a real Kuma's steady heartbeat stream: every active monitor beats every
`interval` seconds (uptime_kuma_beats.py cites Kuma's source), so a home with 200
monitors at 20-60 s sends 3-10 beats a second, nearly all unchanged. Over real Socket.IO
on loopback, 200 monitors beat ten times faster than that for a few seconds while a
browser tab listens and the dashboard's status API is asked: unchanged beats cost no
database write and no browser push, and the dashboard's data age stays fresh (counts,
never times; the API's latency under the stream is printed, and measured in
docs/performance.md, "Uptime Kuma's heartbeat stream", with the command)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.dashboard.conftest import CHECK_TIMEOUT_SECONDS
from tests.dashboard.test_kuma_live import FIVE_MINUTES, Serve, kuma_entry, monitor_is, save_kuma
from tests.support.served_apps import Storage, session_cookie
from tests.support.socket_listener import Listener

from medianest.auth.models import User
from medianest.dashboard import kuma_live, schemas
from medianest.settings import Settings
from medianest_simulators import UptimeKumaSimulator

live_statuses = kuma_live.live_monitor_statuses
MONITORS = 200
BEAT_SECONDS = 2.0  # 100 beats/s: ten times a busy real home (200 monitors at 20 s)
STREAM_SECONDS = 6.0
# The dashboard's data age is refreshed this often in the test (60 s would outlast it).
DATA_AGE_SECONDS = 2.0


@contextmanager
def counted_writes(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every INSERT/UPDATE/DELETE the app sends to its database meanwhile."""
    writes: list[str] = []

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(" ".join(statement.split())[:80])

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    try:
        yield writes
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_statement)


async def status_latencies(url: str, cookie: str, seconds: float) -> list[float]:
    """The dashboard's status request, asked again and again for `seconds`."""
    took: list[float] = []
    async with httpx.AsyncClient(base_url=url, headers={"Cookie": cookie}) as client:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            started = time.monotonic()
            answer = await client.get("/api/dashboard/status")
            took.append(time.monotonic() - started)
            assert answer.status_code == 200
            await asyncio.sleep(0.05)
    return took


def data_age(entry: dict[str, Any]) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(entry["dataAt"])).total_seconds()


@pytest.fixture
def stream_settings(make_settings: Callable[..., Settings]) -> Settings:
    """Live Kuma with a five-minute round; the test asks the status API ~20 times a second."""
    return make_settings(
        health_check_interval_seconds=FIVE_MINUTES,
        health_check_timeout_seconds=CHECK_TIMEOUT_SECONDS,
        http_retry_attempts=1,
        breaker_min_volume=1000,
        rate_limit_api_per_minute=10_000,
    )


@pytest.fixture
def big_kuma(kuma: UptimeKumaSimulator) -> UptimeKumaSimulator:
    kuma.add_monitors(MONITORS - len(kuma.monitors), interval=BEAT_SECONDS)
    return kuma


async def test_a_steady_heartbeat_stream_costs_no_writes_nor_pushes_and_stays_fresh(
    serve: Serve,
    stream_settings: Settings,
    storage: Storage,
    alice: User,
    big_kuma: UptimeKumaSimulator,
    listeners: Callable[[], Listener],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kuma_live, "REFRESH_RECORD_SECONDS", DATA_AGE_SECONDS)
    monkeypatch.setattr(schemas, "DATA_AGE_PUSH_SECONDS", DATA_AGE_SECONDS / 2)
    built: list[int] = []  # the live link's whole list made into the dashboard's

    def counted(link: Any) -> Any:
        built.append(len(link.monitors))
        return live_statuses(link)

    monkeypatch.setattr(kuma_live, "live_monitor_statuses", counted)
    await save_kuma(storage, alice, big_kuma.url)
    app = await serve(stream_settings)
    cookie = await session_cookie(storage, alice)
    tab = await listeners().connect(app.url, cookie)
    await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 20)
    quiet = await status_latencies(app.url, cookie, 2.0)

    tab.drain()
    pushes_before, built_before = len(tab.received("service:status")), len(built)
    big_kuma.start_beating()
    with counted_writes(app.app.ctx.engine) as writes:
        loaded = await status_latencies(app.url, cookie, STREAM_SECONDS)
        beats = big_kuma.beats_sent
        pushes = tab.received("service:status")[pushes_before:]
        builds = len(built) - built_before
        # A change still goes through at once, amid the stream.
        big_kuma.set_monitor("Service 7", up=False)
        await tab.next("service:status", monitor_is("Service 7", "down"), timeout=10)
    big_kuma.stop_beating()
    entry = next(e for e in (await _status(app.url, cookie)) if e["service"] == "uptime_kuma")

    print(
        f"{beats} beats in {STREAM_SECONDS}s; {len(pushes)} pushes; {builds} list builds; "
        f"{len(writes)} writes "
        f"{sorted(set(writes))}; status request median quiet "
        f"{statistics.median(quiet) * 1000:.1f} ms, under the stream "
        f"{statistics.median(loaded) * 1000:.1f} ms; data age {data_age(entry):.1f}s, "
        f"last push's {data_age(pushes[-1]) if pushes else None}"
    )
    assert beats >= MONITORS  # every monitor beat at least once
    # No database write per unchanged beat: only the data-age refreshes (one row each).
    assert len(writes) <= 2 * (STREAM_SECONDS / DATA_AGE_SECONDS + 2)
    # Browsers are told when something they see changes, or the data age, coalesced.
    assert len(pushes) <= STREAM_SECONDS / DATA_AGE_SECONDS + 2
    # CPU: an unchanged beat does not make the 200-monitor list again (O(1) per beat).
    assert builds <= STREAM_SECONDS / DATA_AGE_SECONDS + 2
    # The data age an open dashboard shows stays within the refresh (and the API's too).
    assert pushes, "no push in the whole stream: an open dashboard's data age grows"
    assert data_age(entry) <= 3 * DATA_AGE_SECONDS
    # The request latencies above are printed, not asserted: speed is bench/'s and
    # docs/performance.md's ("Uptime Kuma's heartbeat stream"); the counts are the guard.


async def _status(url: str, cookie: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, headers={"Cookie": cookie}) as client:
        answer = await client.get("/api/dashboard/status")
    data: list[dict[str, Any]] = answer.json()["data"]
    return data
