"""The live Kuma link against the simulator's Socket.IO server (Kuma 2.x's events and
payloads): sign-in, heartbeats, token reconnects after a restart, and the refusals."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from medianest.integrations.uptime_kuma_live import (
    NO_SOCKET_LOGIN,
    TWO_FACTOR_REFUSAL,
    KumaLiveLink,
    KumaSignInRefused,
    sign_in_once,
)
from medianest.integrations.uptime_kuma_transport import socket_endpoint
from medianest_simulators import UptimeKumaSimulator
from medianest_simulators.uptime_kuma import MAINTENANCE
from tests.support.socket_listener import unclosed_sessions


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def own_kuma() -> AsyncIterator[UptimeKumaSimulator]:
    """A simulator of this test's own, to restart without disturbing others."""
    sim = UptimeKumaSimulator()
    await asyncio.to_thread(sim.start)
    yield sim
    await asyncio.to_thread(sim.stop)


async def running_link(url: str, **options) -> tuple[KumaLiveLink, asyncio.Task[None]]:
    changed = asyncio.Event()
    link = KumaLiveLink(
        url, username="admin", password="admin123", on_change=changed.set, **options
    )
    task = asyncio.create_task(link.run())
    await until(lambda: link.state == "live")
    return link, task


async def test_sign_in_gets_the_version_every_monitor_and_its_last_status(kuma) -> None:
    kuma.set_monitor("Overseerr", up=False)

    link = await sign_in_once(kuma.url, username="admin", password="admin123")

    assert link.version == "2.5.3"  # only the info sent after the login carries it
    assert {m.name: m.status for m in link.monitors.values()} == {
        "Plex": "up",
        "Overseerr": "down",
        "Website": "up",
    }
    assert link.monitors[1].uptime_24h == 1.0 and link.monitors[1].ping == 12
    assert link.token and link.token.startswith("simjwt.")


async def test_each_heartbeat_reaches_the_link_within_a_fraction_of_a_second(kuma) -> None:
    link, task = await running_link(kuma.url)
    try:
        for status, name in ((0, "down"), (MAINTENANCE, "maintenance"), (1, "up")):
            started = time.perf_counter()
            kuma.set_monitor("Plex", status=status)
            await until(lambda name=name: link.monitors[1].status == name)
            assert time.perf_counter() - started < 0.5
            # Kuma leaves `ping` out of a beat that got no answer: no stale ping kept.
            assert (link.monitors[1].ping is None) == (name != "up")
    finally:
        await link.stop()
        await task
    assert link.state == "stopped"


async def test_after_kuma_restarts_the_link_comes_back_with_its_token_not_the_password(
    own_kuma,
) -> None:
    link, task = await running_link(own_kuma.url)
    try:
        assert own_kuma.socket_logins == 1
        await asyncio.to_thread(own_kuma.restart)
        await until(lambda: link.state != "live", timeout=3)
        await until(lambda: link.state == "live", timeout=10)
        assert link.sessions == 2 and link.signed_in_by == "token"
        assert own_kuma.socket_logins == 1 and own_kuma.socket_token_logins == 1
        own_kuma.set_monitor("Website", up=False)
        await until(lambda: link.monitors[3].status == "down")
    finally:
        await link.stop()
        await task


async def test_a_changed_password_revokes_the_token_and_the_link_signs_in_again(own_kuma) -> None:
    link, task = await running_link(own_kuma.url)
    try:
        own_kuma.set_account(password="admin123")  # same password: the token still works
        await asyncio.to_thread(own_kuma.restart)
        await until(lambda: link.sessions == 2, timeout=10)
        assert own_kuma.socket_logins == 1
        own_kuma.set_account(password="rotated-pass1")
        await asyncio.to_thread(own_kuma.restart)
        await until(lambda: link.state == "refused", timeout=10)
        assert link.error == "Uptime Kuma refused the username or password."
        assert link.token is None  # the revoked token is not tried again
    finally:
        await link.stop()
        await task


async def test_a_kuma_with_auth_disabled_signs_the_link_in_without_asking(kuma) -> None:
    kuma.disable_auth = True  # Kuma's "Disable Auth": it sends the lists, then autoLogin

    link = await sign_in_once(kuma.url, username="admin", password="not-the-password")

    assert link.signed_in_by == "auto" and link.version == "2.5.3"
    assert {m.name for m in link.monitors.values()} == {"Plex", "Overseerr", "Website"}
    assert kuma.socket_logins == 0  # never asked: a login would have checked the password


async def test_wrong_password_is_refused_with_kumas_reason(kuma) -> None:
    with pytest.raises(KumaSignInRefused) as refused:
        await sign_in_once(kuma.url, username="admin", password="wrong")
    assert refused.value.message == "Uptime Kuma refused the username or password."


async def test_an_account_with_two_factor_is_refused_clearly(kuma) -> None:
    kuma.set_account(twofa=True)
    with pytest.raises(KumaSignInRefused) as refused:
        await sign_in_once(kuma.url, username="admin", password="admin123")
    assert refused.value.message == TWO_FACTOR_REFUSAL
    assert "two-factor" in TWO_FACTOR_REFUSAL


async def test_a_kuma_without_socket_login_is_told_apart_from_an_outage(kuma) -> None:
    kuma.kuma3 = True
    started = time.perf_counter()
    with pytest.raises(KumaSignInRefused) as refused:
        await sign_in_once(kuma.url, username="admin", password="admin123", wait_seconds=1.5)
    assert refused.value.message == NO_SOCKET_LOGIN
    assert time.perf_counter() - started < 5


async def test_an_unreachable_kuma_is_a_connection_error_not_a_refusal(own_kuma) -> None:
    url = own_kuma.url
    await asyncio.to_thread(own_kuma.stop)
    link = KumaLiveLink(url, username="admin", password="admin123", connect_timeout=1)
    task = asyncio.create_task(link.run())
    try:
        await until(lambda: link.state == "disconnected" and link.error is not None)
        assert link.error == "Uptime Kuma is unreachable."
    finally:
        await link.stop()
        await task


async def test_kumas_login_limit_is_a_passing_refusal(kuma) -> None:
    for _ in range(20):
        await sign_in_once(kuma.url, username="admin", password="admin123")
    with pytest.raises(KumaSignInRefused) as refused:
        await sign_in_once(kuma.url, username="admin", password="admin123")
    assert refused.value.retry_soon is True


def test_a_kuma_under_a_path_prefix_serves_its_socket_there() -> None:
    assert socket_endpoint("https://kuma.example.org") == ("https://kuma.example.org", "socket.io")
    assert socket_endpoint("https://example.org/kuma/") == ("https://example.org", "kuma/socket.io")


async def test_garbage_from_kuma_changes_nothing_and_keeps_the_link_up(kuma) -> None:
    link, task = await running_link(kuma.url)
    try:
        before = {m.id: (m.name, m.status) for m in link.monitors.values()}
        socket = kuma.socket
        assert socket is not None
        for event, payload in (
            ("heartbeat", "garbage"),
            ("heartbeat", {"monitorID": "x; DROP", "status": 0}),
            ("heartbeat", {"monitorID": True, "status": 0}),
            ("heartbeatList", ("1", "not a list", False)),
            ("monitorList", ["not", "an", "object"]),
            ("updateMonitorIntoList", {"9": {"id": None, "name": "nameless"}}),
            ("uptime", ("1", 24, "lots")),
            ("deleteMonitorFromList", {"id": 1}),
        ):
            kuma.submit(lambda e=event, p=payload: socket.sio.emit(e, p, room="1"))
        kuma.set_monitor("Plex", up=False)  # a real heartbeat after the garbage
        await until(lambda: link.monitors[1].status == "down")

        after = {m.id: (m.name, m.status) for m in link.monitors.values()}
        assert after == before | {1: ("Plex", "down")}
        assert link.state == "live"
        assert isinstance(link.monitors[1].uptime_24h, float)  # not "lots"
    finally:
        await link.stop()
        await task


async def test_a_kuma_slow_to_send_its_lists_is_waited_for_not_taken_for_kuma_3(kuma) -> None:
    # Kuma answers `login` only after afterLogin has sent every list and history: seconds
    # to minutes on a big or slow Kuma (louislam/uptime-kuma#3497, #7079), longer than the
    # wait for an answer from a Kuma that has no socket login (here 1 s, 2.5 s of lists).
    kuma.after_login_seconds = 2.5
    link, task = await running_link(kuma.url, ack_timeout=1, connect_timeout=2)
    try:
        assert link.signed_in_by == "password" and link.token is not None
        assert link.error is None and kuma.socket_logins == 1
        assert {m.name: m.status for m in link.monitors.values()} == {
            "Plex": "up",
            "Overseerr": "up",
            "Website": "up",
        }
    finally:
        await link.stop()
        await task


async def test_a_bounded_check_on_a_slow_kuma_is_a_timeout_not_a_refusal(kuma) -> None:
    kuma.after_login_seconds = 2.5
    with pytest.raises(TimeoutError):  # "did not answer in time", not "Kuma 3"
        await sign_in_once(kuma.url, username="admin", password="admin123", wait_seconds=1)


async def test_a_beat_during_the_sign_in_is_not_undone_by_the_older_history(kuma) -> None:
    # afterLogin puts the socket in the user's room, then reads each monitor's history and
    # sends it; Monitor.beat emits a heartbeat before storing it, so a beat in between
    # arrives first and the history after it ends one beat earlier (a Kuma restart: its
    # monitors' first checks run while MediaNest signs in again).
    kuma.after_login_seconds = 1.0
    link = KumaLiveLink(kuma.url, username="admin", password="admin123")
    task = asyncio.create_task(link.run())
    try:
        await until(lambda: 1 in link.monitors)  # the list is in; the histories are not
        kuma.set_monitor("Plex", up=False)
        await until(lambda: link.state == "live")

        assert link.monitors[1].status == "down"
        assert link.monitors[1].beat_time == kuma.monitors["Plex"].beats[-1]["time"]
    finally:
        await link.stop()
        await task


async def test_a_link_cancelled_again_while_it_disconnects_leaves_no_session_open(kuma) -> None:
    before = {id(s) for s in unclosed_sessions()}
    _link, task = await running_link(kuma.url)
    task.cancel()
    await asyncio.sleep(0)  # session() is in its finally, disconnecting
    task.cancel()  # as a shutdown cancels what still runs
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # Before: the session stayed open, held by engineio's list of connected clients, and
    # the process's exit printed "Unclosed client session".
    assert [s for s in unclosed_sessions() if id(s) not in before] == []
