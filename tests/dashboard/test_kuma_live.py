"""Uptime Kuma's live source end to end: served apps sign in to the simulator's Socket.IO
API, and browsers (Socket.IO clients) get `service:status` within a second of Kuma's
heartbeat, with a five-minute health-check interval; fallback to polling when the sign-in
is refused or Kuma goes away, back to live when it returns; one link for two instances."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from tests.dashboard.conftest import CHECK_TIMEOUT_SECONDS
from tests.support.served_apps import LoopServedApp, Storage, session_cookie
from tests.support.socket_listener import Listener
from tests.support.tls_servers import CannedServer, Certificates, json_answer

from medianest.admin.connections import service as services_service
from medianest.admin.schemas import ServiceUpdate
from medianest.auth.models import User
from medianest.dashboard.monitor import status_monitor_of
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest_simulators import UptimeKumaSimulator
from medianest_simulators.uptime_kuma import API_KEY as KUMA_API_KEY

Serve = Callable[[Settings], Coroutine[Any, Any, LoopServedApp]]
FIVE_MINUTES = 300.0


@pytest.fixture
def live_settings(make_settings: Callable[..., Settings]) -> Settings:
    """No service from the environment (the test saves Kuma's), a five-minute round."""
    return make_settings(
        health_check_interval_seconds=FIVE_MINUTES,
        health_check_timeout_seconds=CHECK_TIMEOUT_SECONDS,
        http_retry_attempts=1,
        breaker_min_volume=1000,
    )


async def save_kuma(
    storage: Storage,
    actor: User,
    url: str,
    *,
    password: str = "admin123",
    api_key: str | None = None,
) -> None:
    async with session_scope(storage.ctx.session_factory) as session:
        await services_service.update_service(
            session,
            box=storage.ctx.secret_box,
            name="uptime_kuma",
            change=ServiceUpdate(
                url=url,
                api_key=api_key,
                password=password,
                enabled=True,
                config={"source": "socket", "username": "admin"},
            ),
            actor_id=actor.id,
            ip=None,
        )


def kuma_entry(where: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda data: data.get("service") == "uptime_kuma" and where(data)


def monitor_is(name: str, status: str) -> Callable[[dict[str, Any]], bool]:
    return kuma_entry(
        lambda d: any(m["name"] == name and m["status"] == status for m in d.get("monitors") or [])
    )


async def test_a_monitor_going_down_reaches_an_open_dashboard_within_a_second(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    kuma: UptimeKumaSimulator,
    listeners: Callable[[], Listener],
) -> None:
    await save_kuma(storage, alice, kuma.url)
    app = await serve(live_settings)
    tab = await listeners().connect(app.url, await session_cookie(storage, alice))
    first = await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 10)
    assert first["status"] == "online" and first["dataAt"]
    assert {m["name"] for m in first["monitors"]} == {"Plex", "Overseerr", "Website"}

    delays = []
    for status in ("down", "up", "down"):
        started = time.monotonic()
        kuma.set_monitor("Overseerr", up=status == "up")
        await tab.next("service:status", monitor_is("Overseerr", status), timeout=5)
        delays.append(time.monotonic() - started)

    # Each flip arrived within the wait while the round is five minutes: pushed, not
    # polled. How fast: `python -m bench.kuma_push` (docs/performance.md), not a timed
    # assertion that a loaded machine fails.
    print(f"flip -> dashboard {delays}")
    # Only the live link talked to Kuma: no round polled /metrics in between.
    assert kuma.request_count("/metrics") == 0 and kuma.socket_logins == 1


async def test_a_refused_sign_in_falls_back_to_polling_and_says_why(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    kuma: UptimeKumaSimulator,
    listeners: Callable[[], Listener],
) -> None:
    await save_kuma(storage, alice, kuma.url, password="not-the-password", api_key=KUMA_API_KEY)
    app = await serve(live_settings)
    tab = await listeners().connect(app.url, await session_cookie(storage, alice))

    polled = await tab.next(
        "service:status",
        kuma_entry(lambda d: d.get("source") == "polling" and d.get("sourceNote")),
        timeout=15,
    )

    assert polled["status"] == "online"  # the metrics answer: Kuma itself is fine
    assert polled["sourceNote"] == (
        "Live connection: Uptime Kuma refused the username or password."
    )
    assert {m["name"] for m in polled["monitors"]} == {"Plex", "Overseerr", "Website"}
    assert kuma.request_count("/metrics") >= 1


async def test_an_http_address_of_an_https_only_kuma_says_on_the_card_to_save_https(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    listeners: Callable[[], Listener],
    tmp_path: Path,
) -> None:
    # Kuma behind a TLS-only port (a reverse proxy's, say), saved with its http:// address.
    issued = Certificates(tmp_path).issue("127.0.0.1")
    async with CannedServer(json_answer(b"{}"), issued=issued) as kuma:
        http = kuma.url.replace("https://", "http://")
        await save_kuma(storage, alice, http, api_key="")  # a new address: no key
        app = await serve(live_settings)
        tab = await listeners().connect(app.url, await session_cookie(storage, alice))
        noted = await tab.next(
            "service:status", kuma_entry(lambda d: bool(d.get("sourceNote"))), timeout=15
        )

    assert noted["sourceNote"] == (
        f"Live connection: Uptime Kuma at 127.0.0.1:{kuma.port} speaks HTTPS, not plain "
        f"HTTP: save https://127.0.0.1:{kuma.port} as its address."
    )
    assert kuma.heads == []


async def test_killing_kuma_falls_back_to_polling_and_its_return_resumes_the_live_path(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    listeners: Callable[[], Listener],
) -> None:
    own = UptimeKumaSimulator()
    await asyncio.to_thread(own.start)
    try:
        await save_kuma(storage, alice, own.url, api_key=KUMA_API_KEY)
        app = await serve(live_settings)
        tab = await listeners().connect(app.url, await session_cookie(storage, alice))
        await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 10)

        port = own.server.port
        await asyncio.to_thread(own.stop)
        fallback = await tab.next(
            "service:status", kuma_entry(lambda d: d.get("source") == "polling"), 20
        )
        assert fallback["sourceNote"].startswith("Live connection:")
        # Kuma is away, so the poll fails too: the card keeps the last live monitors, aged.
        assert fallback["status"] == "offline"
        assert {m["name"]: m["status"] for m in fallback["monitors"]}["Plex"] == "up"
        assert fallback["dataAt"] < fallback["lastCheckAt"]

        own.server.requested_port = port
        await asyncio.to_thread(own.start)
        await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 40)
        own.set_monitor("Plex", up=False)
        await tab.next("service:status", monitor_is("Plex", "down"), timeout=5)
        assert own.socket_token_logins >= 1  # it came back with its token
    finally:
        await asyncio.to_thread(own.stop)


async def test_a_quick_kuma_restart_resumes_live_without_a_fallback(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    listeners: Callable[[], Listener],
) -> None:
    own = UptimeKumaSimulator()
    await asyncio.to_thread(own.start)
    try:
        # A new URL: the key is typed again (a saved one only goes to its own URL).
        await save_kuma(storage, alice, own.url, api_key=KUMA_API_KEY)
        app = await serve(live_settings)
        tab = await listeners().connect(app.url, await session_cookie(storage, alice))
        await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 10)

        await asyncio.to_thread(own.restart)
        await asyncio.sleep(2.5)  # the link reconnects with backoff (first wait about 1 s)
        own.set_monitor("Website", up=False)
        await tab.next("service:status", monitor_is("Website", "down"), timeout=5)

        assert not [
            d for d in tab.received("service:status") if d.get("source") == "polling"
        ]  # the restart was within the grace: nothing but live data shown
        assert own.socket_logins == 1 and own.socket_token_logins == 1
    finally:
        await asyncio.to_thread(own.stop)


async def test_two_instances_hold_one_kuma_link_and_both_instances_browsers_get_the_push(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    bob: User,
    kuma: UptimeKumaSimulator,
    redis_url: str | None,
    listeners: Callable[[], Listener],
) -> None:
    if redis_url is None:
        pytest.skip("needs Redis for the fan-out (run with --backend=postgres)")
    await save_kuma(storage, alice, kuma.url)
    instance_a = await serve(live_settings)
    instance_b = await serve(live_settings)
    on_a = await listeners().connect(instance_a.url, await session_cookie(storage, alice))
    on_b = await listeners().connect(instance_b.url, await session_cookie(storage, bob))
    for tab in (on_a, on_b):
        await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 15)
    await asyncio.sleep(1.5)  # a second instance would have signed in by now

    assert kuma.socket_logins == 1  # one instance holds the link
    kuma.set_monitor("Plex", up=False)
    for tab in (on_a, on_b):
        await tab.next("service:status", monitor_is("Plex", "down"), timeout=5)
    holders = [status_monitor_of(s.app.ctx).kuma_live.is_live() for s in (instance_a, instance_b)]
    assert sorted(holders) == [False, True]


async def test_the_card_shows_the_same_details_whether_kuma_is_live_or_polled(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    kuma: UptimeKumaSimulator,
    listeners: Callable[[], Listener],
) -> None:
    kuma.set_monitor("Overseerr", up=False)  # a down monitor: its details differ most
    await save_kuma(storage, alice, kuma.url, api_key=KUMA_API_KEY)
    app = await serve(live_settings)
    tab = await listeners().connect(app.url, await session_cookie(storage, alice))
    live = await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 10)

    async with session_scope(storage.ctx.session_factory) as session:  # the same Kuma, polled
        await services_service.update_service(
            session,
            box=storage.ctx.secret_box,
            name="uptime_kuma",
            change=ServiceUpdate(url=kuma.url, enabled=True, config={"source": "metrics"}),
            actor_id=alice.id,
            ip=None,
        )
    polled = await tab.next(
        "service:status", kuma_entry(lambda d: d.get("source") == "polling"), 10
    )

    def details(entry: dict[str, Any]) -> tuple[object, ...]:
        return (entry["status"], entry.get("error"), entry["monitors"])

    assert details(polled) == details(live)
    assert {m["name"]: m["status"] for m in live["monitors"]}["Overseerr"] == "down"


async def test_a_kuma_slow_to_answer_the_sign_in_is_signed_in_once_and_goes_live(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    kuma: UptimeKumaSimulator,
    listeners: Callable[[], Listener],
) -> None:
    # Kuma answers the link's login once afterLogin has sent everything (minutes on a big
    # Kuma, louislam/uptime-kuma#3497); here 7 s, past the 5 s grace after which the
    # fallback poll runs. No metrics key: a poll would sign in and make Kuma send it again.
    kuma.after_login_seconds = 7.0
    await save_kuma(storage, alice, kuma.url, api_key="")  # "": no key kept either
    app = await serve(live_settings)
    tab = await listeners().connect(app.url, await session_cookie(storage, alice))

    waiting = await tab.next(
        "service:status", kuma_entry(lambda d: d.get("source") == "polling"), 10
    )
    assert waiting["status"] == "online" and "still sending" in waiting["sourceNote"]
    live = await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 10)

    assert {m["name"] for m in live["monitors"]} == {"Plex", "Overseerr", "Website"}
    assert kuma.socket_logins == 1


async def test_a_monitor_deleted_in_kuma_leaves_an_open_dashboard_and_stays_gone(
    serve: Serve,
    live_settings: Settings,
    storage: Storage,
    alice: User,
    kuma: UptimeKumaSimulator,
    listeners: Callable[[], Listener],
) -> None:
    # Kuma 1.23: the whole list without it, then the heartbeat of the check that was
    # running (stop() clears only the timer). Before: that beat put a "Monitor 2" on the
    # card. Then a pause, which 1.23 also sends as the whole list.
    kuma.kuma_line = "1.23"
    await save_kuma(storage, alice, kuma.url)
    app = await serve(live_settings)
    tab = await listeners().connect(app.url, await session_cookie(storage, alice))
    await tab.next("service:status", kuma_entry(lambda d: d.get("source") == "live"), 10)

    kuma.delete_monitor("Overseerr", check_running=True)
    kuma.set_monitor("Plex", up=False)
    seen = await tab.next("service:status", monitor_is("Plex", "down"), timeout=5)
    assert {m["name"]: m["status"] for m in seen["monitors"]} == {"Plex": "down", "Website": "up"}

    kuma.pause_monitor("Website")  # paused: off the card, as the link's list says
    kuma.set_monitor("Plex", up=True)
    seen = await tab.next("service:status", monitor_is("Plex", "up"), timeout=5)
    assert [m["name"] for m in seen["monitors"]] == ["Plex"]
