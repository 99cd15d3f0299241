"""The status monitor against the simulators: recorded status and uptime, the dashboard
endpoint answered from the cache, pushes only on change, one monitor for many instances."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.dashboard.conftest import CHECK_TIMEOUT_SECONDS
from tests.factories.users import create_user, signed_in_client
from tests.support.http import http_client
from tests.support.served_apps import LoopServedApp, Storage, session_cookie
from tests.support.socket_listener import Listener

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.dashboard import schemas
from medianest.dashboard.models import ServiceStatus
from medianest.dashboard.monitor import StatusMonitor, status_monitor_of
from medianest.dashboard.service import CheckOutcome
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator, UptimeKumaSimulator
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_API_KEY
from medianest_simulators.plextv_models import OWNER_TOKEN
from medianest_simulators.uptime_kuma import API_KEY as KUMA_API_KEY

# The app's periodic parts (the status monitor above all) are what these tests watch.
pytestmark = pytest.mark.housekeeping

Serve = Callable[[Settings], Coroutine[Any, Any, LoopServedApp]]


async def get_status(server: LoopServedApp, cookie: str) -> dict[str, dict[str, Any]]:
    async with http_client(base_url=server.url, headers={"Cookie": cookie}) as http:
        response = await http.get("/api/dashboard/status")
    assert response.status_code == 200, response.text
    return {entry["service"]: entry for entry in response.json()["data"]}


async def wait_for_status(
    server: LoopServedApp,
    cookie: str,
    done: Callable[[dict[str, dict[str, Any]]], bool],
    timeout: float = 20.0,
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        status = await get_status(server, cookie)
        if done(status) or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.1)


def all_checked(status: dict[str, dict[str, Any]]) -> bool:
    return all(entry["lastCheckAt"] is not None for entry in status.values())


def all_online(status: dict[str, dict[str, Any]]) -> bool:
    return all(entry["status"] == "online" for entry in status.values())


async def test_the_dashboard_shows_every_service_online_with_kuma_monitors(
    serve: Serve, sim_settings: Settings, storage: Storage, alice: User
) -> None:
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)

    # Monitor detail lives in the cached aggregate (not in service_status), so wait for it.
    status = await wait_for_status(
        server, cookie, lambda s: all_checked(s) and bool(s["uptime_kuma"]["monitors"])
    )

    assert {name: entry["status"] for name, entry in status.items()} == {
        "plex": "online",
        "overseerr": "online",
        "uptime_kuma": "online",
    }
    assert status["plex"]["responseTimeMs"] >= 0
    assert status["plex"]["uptimePercentage"] == 100.0
    assert status["plex"]["url"] == sim_settings.plex_url
    monitors = {m["name"]: m for m in status["uptime_kuma"]["monitors"]}
    assert set(monitors) == {"Plex", "Overseerr", "Website"}
    assert monitors["Overseerr"]["status"] == "up"
    assert monitors["Overseerr"]["responseTimeMs"] == 34


async def test_the_status_answer_carries_no_credentials(
    serve: Serve, sim_settings: Settings, storage: Storage, alice: User
) -> None:
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)
    await wait_for_status(server, cookie, all_checked)

    async with http_client(base_url=server.url, headers={"Cookie": cookie}) as http:
        body = (await http.get("/api/dashboard/status")).text

    for secret in (OWNER_TOKEN, OVERSEERR_API_KEY, KUMA_API_KEY):
        assert secret not in body


async def test_unconfigured_services_say_unconfigured(app: MediaNestApp) -> None:
    # A user of this app's own: this folder's `alice` is made through a context with the
    # simulators' settings, which would configure the services on its first start.
    carol = await create_user(app, "carol", plex_id="1004")
    async with await signed_in_client(app, carol) as http:
        response = await http.get("/api/dashboard/status")

    assert response.status_code == 200
    data = response.json()["data"]
    assert [(e["service"], e["status"]) for e in data] == [
        ("plex", "unconfigured"),
        ("overseerr", "unconfigured"),
        ("uptime_kuma", "unconfigured"),
    ]


async def test_an_anonymous_caller_cannot_read_the_status(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/dashboard/status")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_checks_are_recorded_with_an_uptime_percentage(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    overseerr: OverseerrSimulator,
) -> None:
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)
    await wait_for_status(server, cookie, all_online)

    overseerr.set_fault("error")
    status = await wait_for_status(server, cookie, lambda s: s["overseerr"]["status"] == "offline")

    assert status["overseerr"]["status"] == "offline"
    assert status["overseerr"]["error"]
    assert 0 < status["overseerr"]["uptimePercentage"] < 100
    # The answer can come from the shared status before this instance's row is written:
    # the failed check reaches the row within a moment (polled, not slept for).
    async with asyncio.timeout(10):
        while True:
            async with session_scope(storage.ctx.session_factory) as session:
                row = await session.scalar(
                    select(ServiceStatus).where(ServiceStatus.service_name == "overseerr")
                )
            if row is not None and row.checks_total > row.checks_up:
                break
            await asyncio.sleep(0.05)
    assert row.checks_total > row.checks_up > 0
    assert row.last_check_at is not None


async def test_the_dashboard_answers_fast_while_a_service_hangs(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    overseerr: OverseerrSimulator,
) -> None:
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)
    await wait_for_status(server, cookie, all_online)
    overseerr.set_fault("hang")

    timings: list[float] = []
    async with http_client(base_url=server.url, headers={"Cookie": cookie}) as http:
        await http.get("/api/dashboard/status")  # open the connection outside the timing
        deadline = time.monotonic() + 2 * CHECK_TIMEOUT_SECONDS  # spans hung checks
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await http.get("/api/dashboard/status")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
            await asyncio.sleep(0.05)
    status = await wait_for_status(server, cookie, lambda s: s["overseerr"]["status"] == "offline")

    # Waiting on the hung service would take at least the check timeout.
    assert max(timings) < CHECK_TIMEOUT_SECONDS, f"slowest {max(timings) * 1000:.0f} ms"
    median = statistics.median(timings)
    assert median < 0.2, f"median {median * 1000:.0f} ms over {len(timings)} answers"
    assert status["overseerr"]["error"] == f"No answer within {CHECK_TIMEOUT_SECONDS:g} s"
    assert status["plex"]["status"] == "online"


async def test_only_one_of_two_instances_runs_the_monitor(
    serve: Serve, sim_settings: Settings
) -> None:
    first = await serve(sim_settings)
    second = await serve(sim_settings)

    def rounds() -> list[int]:
        monitors = (status_monitor_of(first.app.ctx), status_monitor_of(second.app.ctx))
        return sorted(monitor.rounds for monitor in monitors)

    # Three rounds of one (a loaded machine may take far longer than three intervals),
    # while the other has run none.
    for _ in range(300):
        if rounds()[1] >= 3:
            break
        await asyncio.sleep(0.1)
    assert rounds()[1] >= 3, rounds()
    assert rounds()[0] == 0


async def test_the_other_instance_takes_over_when_the_monitoring_one_stops(
    serve: Serve, sim_settings: Settings
) -> None:
    first = await serve(sim_settings)
    second = await serve(sim_settings)
    monitors = {s: status_monitor_of(s.app.ctx) for s in (first, second)}
    async with asyncio.timeout(10):  # polled: a loaded machine's first round comes later
        while not any(m.rounds for m in monitors.values()):
            await asyncio.sleep(0.05)
    leader = next(s for s, m in monitors.items() if m.rounds > 0)
    follower = second if leader is first else first
    assert monitors[follower].rounds == 0

    await asyncio.to_thread(leader.stop)
    # The stopped leader released its lease: the follower takes it at its next try and goes
    # on with rounds (polled, not slept for: a loaded machine's rounds come later).
    async with asyncio.timeout(10):
        while monitors[follower].rounds < 2:
            await asyncio.sleep(0.05)


async def test_a_status_change_in_a_service_reaches_a_subscribed_client(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    overseerr: OverseerrSimulator,
    listeners: Callable[[], Listener],
) -> None:
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)
    await wait_for_status(server, cookie, all_online)
    listener = await listeners().connect(server.url, cookie)
    await listener.client.call("subscribe:status", timeout=5)
    listener.drain()

    overseerr.set_fault("error")
    down = await listener.next("service:status", lambda d: d["service"] == "overseerr")
    overseerr.clear_fault()
    up = await listener.next("service:status", lambda d: d["service"] == "overseerr")

    assert down["status"] == "offline"
    assert down["error"]
    assert up["status"] == "online"
    assert up["responseTime"] >= 0


def _kuma_reports_website_down(status: dict[str, Any]) -> bool:
    monitors = status.get("monitors") or []
    return status["service"] == "uptime_kuma" and any(
        m["name"] == "Website" and m["status"] == "down" for m in monitors
    )


async def test_a_monitor_going_down_in_uptime_kuma_reaches_a_subscribed_client(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    kuma: UptimeKumaSimulator,
    listeners: Callable[[], Listener],
) -> None:
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)
    await wait_for_status(server, cookie, all_online)
    listener = await listeners().connect(server.url, cookie)
    listener.drain()

    async with http_client(base_url=kuma.url) as control:
        flipped = await control.post("/__sim/monitors/Website", json={"status": "down"})
        assert flipped.status_code == 200
    # The status sent on connect may still arrive after the drain: wait for the change.
    pushed = await listener.next("service:status", _kuma_reports_website_down)

    monitors = {m["name"]: m["status"] for m in pushed["monitors"]}
    assert monitors == {"Plex": "up", "Overseerr": "up", "Website": "down"}
    assert pushed["status"] == "online"  # Kuma itself still answers


async def test_nothing_is_pushed_while_nothing_changes(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    listeners: Callable[[], Listener],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Within one step of the checks' age (test_checked_age_pushed.py: once a step, an
    # unchanged service is pushed again so "Checked ... ago" stays true).
    monkeypatch.setattr(schemas, "DATA_AGE_PUSH_SECONDS", 600.0)
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)
    await wait_for_status(server, cookie, all_online)
    listener = await listeners().connect(server.url, cookie)
    await listener.next("service:status", lambda d: d["service"] == "uptime_kuma")
    monitor = status_monitor_of(server.app.ctx)
    rounds_before = monitor.rounds
    listener.drain()

    pushed: list[Any] = []
    for _ in range(100):  # until two more rounds ran (bounded)
        pushed += await listener.nothing("service:status", within=0.2)
        if monitor.rounds >= rounds_before + 2:
            break

    assert monitor.rounds >= rounds_before + 2
    assert pushed == []


async def test_writers_recording_at_once_add_up_and_never_make_a_row_twice(
    app_factory: Callable[[Settings], Coroutine[Any, Any, Any]], settings: Settings
) -> None:
    """Two writers of one service's row at once happen: another instance's round while the
    lease changes hands, a live push, a check run by hand. None of them fails on the row
    the other made, and every check is counted."""
    app = await app_factory(settings.model_copy(update={"health_check_interval_seconds": 3600}))
    writers = [StatusMonitor(app.ctx) for _ in range(6)]  # as separate instances would be
    await asyncio.gather(
        *(w.record([CheckOutcome("overseerr", "offline", error="refused")]) for w in writers)
    )
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(ServiceStatus, "overseerr")
    assert row is not None
    # (no Overseerr is configured: the app's own monitor records it unconfigured, uncounted)
    assert (row.checks_total, row.checks_up) == (6, 0)
