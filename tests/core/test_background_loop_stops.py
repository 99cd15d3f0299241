"""Background loops stop even when a round turns the stop's cancellation into an error, as
redis-py does when a cancel arrives in the middle of a read (core/loops.py, `stop_loop`).
Before, such a round's `except Exception` caught it, the loop ran on and the app's stop
waited for ever (a suite run hung 120 s in the Plex audience sweep's stop)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from medianest.auth.plex_sign_in import access
from medianest.auth.sessions import maintenance
from medianest.core import loops
from medianest.core.pubsub import Heartbeat
from medianest.core.redis_guard import RedisGuard
from medianest.settings import Settings
from medianest.youtube.jobs import signals as signals_module
from medianest.youtube.jobs.signals import QueueSignals


def cancel_turned_into_an_error(calls: list[int]) -> Callable[..., Any]:
    """A round that waits, and answers the first cancellation with an ordinary error (a
    cancel landing mid-read); later ones end it as usual."""

    async def round_(*_args: Any, **_kwargs: Any) -> int:
        calls.append(1)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if len(calls) > 1:
                raise
            raise ConnectionError("Connection closed by server.") from None
        return 0

    return round_


@pytest.mark.parametrize(
    ("module", "round_name", "starter_name", "interval_setting"),
    [
        (access, "sweep_round", "start_audience_sweep", "plex_audience_refresh_seconds"),
        (maintenance, "purge_expired", "start_expired_purge", "session_purge_interval_seconds"),
    ],
)
async def test_a_loop_whose_round_swallows_the_cancel_still_stops(
    monkeypatch: pytest.MonkeyPatch,
    app_factory: Callable[..., Any],
    make_settings: Callable[..., Settings],
    module: Any,
    round_name: str,
    starter_name: str,
    interval_setting: str,
) -> None:
    app = await app_factory(make_settings(**{interval_setting: 0.05}))
    calls: list[int] = []
    monkeypatch.setattr(module, round_name, cancel_turned_into_an_error(calls))
    monkeypatch.setattr(loops, "STOP_LOOP_SECONDS", 2.0)
    stop = await getattr(module, starter_name)(app.ctx)
    for _ in range(100):
        if calls:
            break
        await asyncio.sleep(0.02)
    assert calls, "the loop never ran a round"
    stopping = asyncio.create_task(stop())
    done, _ = await asyncio.wait({stopping}, timeout=4.0)  # (asyncio.wait cancels nothing)
    if not done:
        stopping.cancel()  # reaches the loop through the awaited task
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
    assert done, "the stop did not return: the loop ran on after its round caught the cancel"


class HeartbeatThatDropsACancel(Heartbeat):
    """A subscription's read that returns "no message" on the first cancellation, as
    redis-py's ping does when the cancel comes in the turn its write finished (its
    `asyncio.wait_for`, Python 3.11, CPython gh-86296); later ones end it as usual."""

    reads: list[int] = []  # (replaced, never appended to, per test)
    dropped: list[int] = []

    async def get_message(self, wait_seconds: float = 1.0) -> dict[str, Any] | None:
        HeartbeatThatDropsACancel.reads = [*self.reads, 1]
        try:
            return await super().get_message(wait_seconds)
        except asyncio.CancelledError:
            if self.dropped:
                raise
            HeartbeatThatDropsACancel.dropped = [1]
            return None


async def test_the_download_queue_listener_stops_when_a_read_drops_the_cancel(
    monkeypatch: pytest.MonkeyPatch, redis_url: str | None
) -> None:
    """The download workers' stop (`medianest worker`, the app's shutdown) stops the
    listener of job nudges: one cancel waited for ever when the listener's read dropped it."""
    if redis_url is None:
        pytest.skip("the queue's nudges go over Redis (runs on the postgres backend)")
    monkeypatch.setattr(signals_module, "Heartbeat", HeartbeatThatDropsACancel)
    monkeypatch.setattr(HeartbeatThatDropsACancel, "reads", [])
    monkeypatch.setattr(HeartbeatThatDropsACancel, "dropped", [])
    monkeypatch.setattr(loops, "STOP_LOOP_SECONDS", 2.0)
    redis = Redis.from_url(redis_url, socket_timeout=2)
    signals = QueueSignals(redis)
    try:
        signals.start_listening()
        for _ in range(250):
            if HeartbeatThatDropsACancel.reads:
                break
            await asyncio.sleep(0.02)
        assert HeartbeatThatDropsACancel.reads, "the listener never read"
        stopping = asyncio.create_task(signals.stop_listening())
        done, _ = await asyncio.wait({stopping}, timeout=4.0)  # (asyncio.wait cancels nothing)
        if not done:
            stopping.cancel()  # reaches the listener through the awaited task
            with contextlib.suppress(asyncio.CancelledError):
                await stopping
        assert HeartbeatThatDropsACancel.dropped, "the stop's cancel never reached the read"
        assert done, "the stop did not return: the listener ran on after its read dropped it"
    finally:
        await redis.aclose()


async def test_the_redis_probe_stops_in_any_turn_of_a_refused_ping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While Redis is away its guard pings it now and then; the app's stop cancels that
    prober. A real client pinging a port nobody listens on: a stop in each of the first
    turns of a ping must end the prober (one cancel was dropped in some turns, where the
    refused ping's error then counted as "still away" and the prober ran on, and the
    stop waited for ever)."""
    monkeypatch.setattr(loops, "STOP_LOOP_SECONDS", 2.0)
    loop = asyncio.get_running_loop()
    with socket.socket() as probe:  # a port that was free a moment ago: refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for turns in range(8):
        client = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=2)
        stops: list[asyncio.Future[None]] = []
        guards: list[RedisGuard] = []
        armed: list[int] = []

        def stop_after(left: int) -> None:
            if left:
                loop.call_soon(stop_after, left - 1)
            else:  # the app's stop (close_context)
                stops.append(asyncio.ensure_future(guards[0].aclose()))

        async def ping(turns: int = turns, client: Redis = client) -> None:
            if not armed:  # one stop per guard, in its first ping
                armed.append(1)
                loop.call_soon(stop_after, turns)
            await client.ping()

        guards.append(RedisGuard(ping=ping, retry_seconds=0.01))
        guards[0].failed("test", ConnectionError("Redis is away"))
        deadline = loop.time() + 5
        while not stops and loop.time() < deadline:
            await asyncio.sleep(0.01)
        done, _ = await asyncio.wait(stops, timeout=4.0)
        await client.aclose()
        assert stops and done, f"the prober ran on after a stop {turns} turns into a ping"
