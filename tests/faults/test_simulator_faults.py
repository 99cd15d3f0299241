"""External services that hang or answer garbage: the dashboard keeps answering fast from
what the monitor recorded, calls that need the service fail fast with a clean 503/502
envelope (never a 500), and everything works again once the services behave.

Plex, Overseerr and Uptime Kuma are the loopback simulators with a fault injected
(`hang` holds each request 10 s, `malformed` answers 200 with a broken JSON body).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators.suite import SimulatorSuite
from tests.factories.users import create_user, signed_in_client
from tests.faults.support import timed

TIMEOUT_SECONDS = 1.0  # per try; a whole call may take 3 tries' worth (DEADLINE_TIMEOUTS)
DASHBOARD_FAST_SECONDS = 0.5
HANG_SECONDS = 10.0  # bounded: a hung request ends by itself well within the test
# A call that gave up: its tries' worth plus backoff and a loaded machine's slack, and still
# well short of the hang it would otherwise have waited out.
GAVE_UP_SECONDS = 3 * TIMEOUT_SECONDS + 3.0


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorSuite]:
    with SimulatorSuite(youtube_dir=tmp_path_factory.mktemp("youtube")) as started:
        yield started


@pytest.fixture
async def sim_app(
    suite: SimulatorSuite,
    make_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
    tmp_path: Path,
) -> MediaNestApp:
    suite.reset()
    info = suite.info
    settings = make_settings(
        **info.settings_values(),
        http_timeout_seconds=TIMEOUT_SECONDS,
        health_check_timeout_seconds=TIMEOUT_SECONDS,
        health_check_interval_seconds=0.5,
        breaker_min_volume=2,
        breaker_reset_seconds=1.0,
    )
    app: MediaNestApp = await app_factory(settings)
    return app


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> float:
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, "not true in time"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _statuses(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    answer = await client.get("/api/dashboard/status")
    assert answer.status_code == 200
    return {s["service"]: s for s in answer.json()["data"]}


async def _all_online(client: httpx.AsyncClient) -> bool:
    return all(s["status"] == "online" for s in (await _statuses(client)).values())


async def _none_online(client: httpx.AsyncClient) -> bool:
    return all(s["status"] != "online" for s in (await _statuses(client)).values())


def _set_fault(suite: SimulatorSuite, mode: str | None) -> None:
    for sim in (suite.plex, suite.overseerr, suite.uptime_kuma):
        if mode is None:
            sim.clear_fault()
        else:
            sim.set_fault(mode, delay=HANG_SECONDS if mode == "hang" else 0.0)


@pytest.mark.housekeeping
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("mode", "search_status", "search_code"),
    [("hang", 503, "SERVICE_UNAVAILABLE"), ("malformed", 502, "UPSTREAM_ERROR")],
)
async def test_services_that_hang_or_answer_garbage_never_slow_the_dashboard_or_cause_500s(
    sim_app: MediaNestApp, suite: SimulatorSuite, mode: str, search_status: int, search_code: str
) -> None:
    alice = await create_user(sim_app, "alice", plex_id="1002", plex_token="alice-plex-token")
    seen: list[int] = []
    async with await signed_in_client(sim_app, alice) as alice_client:
        await _eventually(lambda: _all_online(alice_client), timeout=15)

        _set_fault(suite, mode)

        # The dashboard answers from the recorded status at once, and soon says so.
        dashboard_seconds: list[float] = []
        marked_down = await _eventually(lambda: _none_online(alice_client), timeout=15)
        for _ in range(5):
            answer, seconds = await timed(alice_client.get("/api/dashboard/status"))
            seen.append(answer.status_code)
            dashboard_seconds.append(seconds)
        assert max(dashboard_seconds) < DASHBOARD_FAST_SECONDS

        search, search_seconds = await timed(
            alice_client.get("/api/media/search", params={"query": "bunny"})
        )
        seen.append(search.status_code)
        assert search.status_code == search_status, search.text
        assert search.json()["error"]["code"] == search_code
        assert search.json()["error"]["details"]["service"] == "overseerr"
        # At most three tries' worth of timeouts, never the 10 s the service would take.
        assert search_seconds < GAVE_UP_SECONDS

        libraries, libraries_seconds = await timed(alice_client.get("/api/plex/libraries"))
        seen.append(libraries.status_code)
        assert libraries.status_code in (502, 503), libraries.text
        assert libraries_seconds < GAVE_UP_SECONDS

        _set_fault(suite, None)

        recovered = await _eventually(
            lambda: _search_works(alice_client, seen), timeout=3 * TIMEOUT_SECONDS + 10
        )
        await _eventually(lambda: _all_online(alice_client), timeout=15)
    assert 500 not in seen
    print(
        f"simulators {mode}: dashboard max {max(dashboard_seconds) * 1000:.1f} ms, "
        f"marked down after {marked_down:.2f} s, search {search_status} in "
        f"{search_seconds:.2f} s, plex libraries {libraries.status_code} in "
        f"{libraries_seconds:.2f} s, search works again {recovered:.2f} s after the fix"
    )


async def _search_works(client: httpx.AsyncClient, seen: list[int]) -> bool:
    answer = await client.get("/api/media/search", params={"query": "bunny"})
    seen.append(answer.status_code)
    return answer.status_code == 200
