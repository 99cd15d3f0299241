"""The live Kuma link while monitors change in Kuma (paused, resumed, renamed, deleted),
on both of Kuma's lines: 2.x sends one monitor at a time (`updateMonitorIntoList`,
`deleteMonitorFromList`), 1.23 the whole `monitorList` and answers the sign-in before it
sends any list. Real Socket.IO to the simulator over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from medianest.dashboard.kuma_live import RECONNECT_GRACE_SECONDS, live_monitor_statuses
from medianest.integrations.uptime_kuma_live import (
    KumaLiveLink,
    KumaSignIn,
    KumaSignInRefused,
    sign_in_once,
    socket_health,
)
from medianest_simulators import UptimeKumaSimulator
from tests.support.http_only_proxy import http_only_proxy
from tests.support.servers import ServedApp
from tests.support.socket_listener import unclosed_sessions


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def running_link(url: str, **options) -> tuple[KumaLiveLink, asyncio.Task[None]]:
    link = KumaLiveLink(url, username="admin", password="admin123", **options)
    task = asyncio.create_task(link.run())
    await until(lambda: link.state == "live", timeout=10)
    return link, task


@pytest.fixture
async def own_kuma() -> AsyncIterator[UptimeKumaSimulator]:
    """A simulator of this test's own, to hang or restart without disturbing others."""
    sim = UptimeKumaSimulator()
    await asyncio.to_thread(sim.start)
    yield sim
    await asyncio.to_thread(sim.stop)


def shown(link: KumaLiveLink) -> dict[str, str]:
    """What the dashboard shows: the link's monitors as `live_monitor_statuses` lists them."""
    return {m.name: m.status for m in live_monitor_statuses(link)}


@pytest.mark.parametrize("line", ["2", "1.23"])
async def test_a_monitor_deleted_while_its_check_runs_does_not_come_back(
    kuma: UptimeKumaSimulator, line: str
) -> None:
    # Kuma's deleteMonitor stops the monitor (clearTimeout) but not a check already under
    # way: on 1.23 that check's heartbeat (down: the service was removed) is emitted after
    # the monitor left the list (seen from a real 1.23.17; 2.x's beat fails before it is
    # sent). Before: the link made a "Monitor 2" of it, shown for good.
    kuma.kuma_line = line
    link, task = await running_link(kuma.url, connect_timeout=1)
    try:
        await until(lambda: shown(link) == {"Plex": "up", "Overseerr": "up", "Website": "up"})
        kuma.delete_monitor("Overseerr", check_running=True)
        kuma.set_monitor("Plex", up=False)  # sent after the late beat: the link has both
        await until(lambda: link.monitors[1].status == "down")

        assert shown(link) == {"Plex": "down", "Website": "up"}
        assert 2 not in link.monitors
    finally:
        await link.stop()
        await task


@pytest.mark.parametrize("line", ["2", "1.23"])
async def test_paused_renamed_and_resumed_monitors_follow_kuma_while_connected(
    kuma: UptimeKumaSimulator, line: str
) -> None:
    kuma.kuma_line = line
    link, task = await running_link(kuma.url, connect_timeout=1)
    try:
        await until(lambda: shown(link) == {"Plex": "up", "Overseerr": "up", "Website": "up"})
        kuma.pause_monitor("Website")
        await until(lambda: "Website" not in shown(link))
        kuma.rename_monitor("Plex", "Plex Media Server")
        await until(lambda: "Plex Media Server" in shown(link))
        kuma.pause_monitor("Website", paused=False)
        await until(lambda: "Website" in shown(link))

        assert shown(link) == {"Plex Media Server": "up", "Overseerr": "up", "Website": "up"}
        kuma.add_monitor("Sonarr")  # a new one: Kuma lists it, then its checks start
        kuma.set_monitor("Sonarr", up=False)
        await until(lambda: shown(link).get("Sonarr") == "down")
    finally:
        await link.stop()
        await task


async def test_test_connection_on_kuma_1_23_reports_its_version_and_monitors(
    kuma: UptimeKumaSimulator,
) -> None:
    # Kuma 1.23 answers the sign-in first and sends the lists after it (its afterLogin is
    # not awaited). Before: "Test connection" said online with 0 monitors and no version.
    kuma.kuma_line = "1.23"
    kuma.set_monitor("Overseerr", up=False)

    link = await sign_in_once(kuma.url, username="admin", password="admin123", wait_seconds=1.5)

    assert link.version == "1.23.17"
    assert shown(link) == {"Plex": "up", "Overseerr": "down", "Website": "up"}
    assert link.signed_in_by == "password"


async def test_kuma_1_23_with_auth_disabled_signs_in_by_auto_login_with_its_lists(
    kuma: UptimeKumaSimulator,
) -> None:
    kuma.kuma_line, kuma.disable_auth = "1.23", True  # autoLogin comes before the lists

    link = await sign_in_once(kuma.url, username="admin", password="not-it", wait_seconds=1.5)

    assert link.signed_in_by == "auto" and link.version == "1.23.17"
    assert len(shown(link)) == 3 and kuma.socket_logins == 0


@pytest.mark.parametrize(
    ("twofa", "password", "message"),
    [
        (False, "wrong", "Uptime Kuma refused the username or password."),
        (True, "admin123", "two-factor"),
    ],
)
async def test_kuma_1_23_refusals_read_as_clearly_as_2_x_ones(
    kuma: UptimeKumaSimulator, twofa: bool, password: str, message: str
) -> None:
    # 1.23 refuses in English ("Incorrect username or password."), 2.x with i18n keys.
    kuma.kuma_line = "1.23"
    kuma.set_account(twofa=twofa)
    with pytest.raises(KumaSignInRefused) as refused:
        await sign_in_once(kuma.url, username="admin", password=password, wait_seconds=1.5)
    assert message in refused.value.message


async def test_kuma_1_23_restarting_takes_the_token_back(kuma: UptimeKumaSimulator) -> None:
    kuma.kuma_line = "1.23"
    link, task = await running_link(kuma.url, connect_timeout=1)
    try:
        await asyncio.to_thread(kuma.restart)
        await until(lambda: link.sessions == 2, timeout=15)
        assert link.signed_in_by == "token" and kuma.socket_logins == 1
        await until(lambda: len(shown(link)) == 3)
    finally:
        await link.stop()
        await task


async def test_a_kuma_that_hangs_with_the_socket_open_is_left_and_rejoined(
    own_kuma: UptimeKumaSimulator,
) -> None:
    # A hung Kuma (its event loop blocked: the socket stays open, nothing comes) sends no
    # Engine.IO ping: the link gives it up after Kuma's ping interval + timeout (socket.io's
    # 25 s + 20 s in a real Kuma; 1 s + 1 s here) and signs in again once Kuma is back.
    own_kuma.ping_seconds = (1.0, 1.0)
    await asyncio.to_thread(own_kuma.restart)
    link, task = await running_link(own_kuma.url)
    try:

        async def hang() -> None:
            time.sleep(4)  # blocks the simulator's loop, as a busy or stopped Node would

        own_kuma.submit(hang)
        started = time.monotonic()
        await until(lambda: link.state != "live", timeout=6)
        given_up = time.monotonic() - started
        await until(lambda: link.state == "live" and link.sessions == 2, timeout=15)
        print(f"given up after {given_up:.2f} s")
        assert 1.5 < given_up < 4.5, given_up
        assert link.signed_in_by == "token"
    finally:
        await link.stop()
        await task


async def test_a_dropped_link_to_kuma_1_23_is_back_within_the_dashboards_grace(
    kuma: UptimeKumaSimulator,
) -> None:
    # Kuma 1.23 never says `loginRequired`: the link waited its whole connect timeout
    # (5 s) for it on every connection, so a WebSocket a proxy dropped came back after the
    # dashboard's 5 s reconnect grace and the card fell back to polling each time.
    kuma.kuma_line = "1.23"
    link, task = await running_link(kuma.url)  # the default timeouts
    try:
        assert link.version == "1.23.17"
        socket = kuma.socket
        assert socket is not None
        for sid in list(kuma.signed_in_sids):  # the proxy closes the WebSocket
            kuma.submit(lambda sid=sid: socket.sio.disconnect(sid))
        await until(lambda: link.state != "live", timeout=5)
        dropped = time.monotonic()
        await until(lambda: link.sessions == 2 and link.state == "live", timeout=15)
        back_in = time.monotonic() - dropped
        print(f"1.23 link back in {back_in:.2f} s")
        assert back_in < RECONNECT_GRACE_SECONDS, back_in
        assert link.signed_in_by == "token" and len(shown(link)) == 3
    finally:
        await link.stop()
        await task


async def test_a_history_stamped_with_a_zone_after_a_live_beat_is_still_read(
    kuma: UptimeKumaSimulator,
) -> None:
    # Kuma stamps beats "YYYY-MM-DD HH:MM:SS.mmm" in UTC without a zone (monitor.js:455);
    # a history row with one ("...Z": a proxy's or a future Kuma's ISO form) after a live
    # beat was compared naive against aware, a TypeError in the handler: row dropped.
    link, task = await running_link(kuma.url)
    try:
        kuma.set_monitor("Plex", up=False)  # a live beat: the link keeps its time
        await until(lambda: link.monitors[1].status == "down")
        socket = kuma.socket
        assert socket is not None
        row = {"status": 1, "time": "2099-01-01T00:00:00.000Z", "msg": "", "ping": 9}
        kuma.submit(lambda: socket.sio.emit("heartbeatList", ("1", [row], False), room="1"))
        await until(lambda: link.monitors[1].status == "up")
        assert link.monitors[1].ping == 9 and link.state == "live"
    finally:
        await link.stop()
        await task


async def test_a_kuma_behind_a_proxy_without_websocket_is_reached_by_long_polling(
    own_kuma: UptimeKumaSimulator,
) -> None:
    kuma = own_kuma
    # Kuma's UI connects with Socket.IO's default transports (polling, then an upgrade)
    # since 1.23.10 (louislam/uptime-kuma#4216; src/mixins/socket.js `io(url)`), so it
    # works behind such a proxy; the link spoke WebSocket only: "unreachable" for good.
    before = {id(s) for s in unclosed_sessions()}
    async with ServedApp(http_only_proxy(kuma.url)) as proxy:
        health, _ = await socket_health(KumaSignIn(proxy.url, "admin", "admin123"))
        assert health.status == "online" and health.monitor_count == 3  # Test connection
        link, task = await running_link(proxy.url, connect_timeout=3)
        try:
            assert len(shown(link)) == 3 and link.version == "2.5.3"
            started = time.monotonic()
            kuma.set_monitor("Plex", up=False)
            await until(lambda: link.monitors[1].status == "down")
            print(f"push over long-polling: {time.monotonic() - started:.3f} s")
            assert link.polling is True
            await asyncio.to_thread(kuma.restart)  # back by long-polling, with the token
            await until(lambda: link.sessions == 2 and link.state == "live", timeout=15)
            assert link.signed_in_by == "token" and len(shown(link)) == 3
        finally:
            await link.stop()
            await task
    assert [s for s in unclosed_sessions() if id(s) not in before] == []  # none left open
