"""Redis misbehaving under the live parts: Socket.IO fan-out and the download queue's
nudges. A served app (its own event loop and port) with a browser tab on a socket; the
Redis is a private `redis-server` of the test, reached directly or through a `TcpProxy`.

- Redis hung (SIGSTOP): a request that pushes to sockets (mark notifications read)
  must still answer, not wait until Redis answers again.
- Redis's host goes dark and Redis restarts meanwhile (no reset reaches the app): the
  subscriptions must notice and subscribe again, or pushes from a separate worker
  process and job nudges stay lost until MediaNest is restarted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest
import redis as redis_sync
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from medianest.auth.models import User
from medianest.auth.sessions.cache import ALL, SessionCache
from medianest.auth.sessions.relay import RedisInvalidationRelay
from medianest.core.pubsub import channel
from medianest.core.realtime import external_emitter
from medianest.settings import Settings
from medianest.youtube.jobs.signals import CANCEL, QueueSignals, queue_signals
from tests.faults.support import RedisServer, TcpProxy, timed
from tests.support.http import http_client
from tests.support.served_apps import LoopServedApp, Serve, Storage, session_cookie
from tests.support.socket_listener import Listener

# A push to sockets on a request path may wait for one Redis socket timeout (2 s), once.
PUSH_REQUEST_SECONDS = 4.0
# From Redis being reachable again to the subscriptions working again.
RESUBSCRIBED_WITHIN = 20.0


async def _pushed_from_worker(redis_url: str, user: User, tab: Listener, within: float) -> float:
    """Emit as a separate worker process does (straight to Redis) until `tab` gets it;
    the seconds it took."""
    emitter = external_emitter(redis_url)
    started = time.monotonic()
    try:
        while True:
            probe = uuid.uuid4().hex
            await emitter.emit_to_user(user.id, "probe", {"id": probe})
            try:
                await tab.next("probe", lambda data, p=probe: data["id"] == p, timeout=0.5)
                return time.monotonic() - started
            except TimeoutError:
                if time.monotonic() - started > within:
                    raise AssertionError(f"no push reached the tab within {within} s") from None
    finally:
        await emitter.aclose()


async def _nudged(redis_url: str, server: LoopServedApp, within: float) -> float:
    """Publish a cancel nudge (as the web app does for a separate worker) until the served
    app's queue signals hear it; the seconds it took."""
    heard: list[str] = []
    signals = queue_signals(server.app.ctx)
    signals.cancel_handlers.append(heard.append)
    client = redis_sync.Redis.from_url(redis_url, socket_timeout=2)
    started = time.monotonic()
    try:
        while True:
            probe = uuid.uuid4().hex
            client.publish(channel(redis_url, CANCEL), probe)
            await asyncio.sleep(0.5)
            if probe in heard:
                return time.monotonic() - started
            if time.monotonic() - started > within:
                raise AssertionError(f"no nudge was heard within {within} s")
    finally:
        signals.cancel_handlers.remove(heard.append)
        client.close()


@pytest.mark.timeout(120)
async def test_a_push_on_a_request_path_does_not_wait_for_a_hung_redis(
    redis_server: RedisServer,
    make_settings: Callable[..., Settings],
    serve: Serve,
    storage: Storage,
    carol: User,
    listeners: Callable[[], Listener],
) -> None:
    tab = listeners()
    server = await serve(make_settings(redis_url=redis_server.url))
    cookie = await session_cookie(storage, carol)
    await tab.connect(server.url, cookie)
    await _pushed_from_worker(redis_server.url, carol, tab, within=10)  # healthy first
    async with http_client(base_url=server.url, timeout=30) as browser:
        browser.headers["Cookie"] = cookie + "; csrftoken=t"
        browser.headers["X-CSRF-Token"] = "t"
        redis_server.pause()
        try:
            seconds: list[float] = []
            for _ in range(3):
                answer, took = await timed(
                    browser.post("/api/notifications/read", json={"all": True})
                )
                assert answer.status_code == 200, answer.text
                seconds.append(took)
            # This instance's own tab is told at once, Redis or not.
            assert (await tab.wait_for("notification:read", 3, timeout=5))[-1] == {"unread": 0}
        finally:
            redis_server.resume()
        print(f"hung Redis: mark-read answered in {', '.join(f'{s:.2f}' for s in seconds)} s")
        assert max(seconds) < PUSH_REQUEST_SECONDS
        assert sum(seconds[1:]) < 1.0  # only the first meets the hang; then Redis is skipped
    # Once it answers again, a worker's push reaches the tab through Redis again.
    await _pushed_from_worker(redis_server.url, carol, tab, within=RESUBSCRIBED_WITHIN)


@pytest.mark.timeout(120)
async def test_subscriptions_come_back_after_redis_restarts_behind_a_silent_network(
    redis_server: RedisServer,
    make_settings: Callable[..., Settings],
    serve: Serve,
    storage: Storage,
    carol: User,
    listeners: Callable[[], Listener],
) -> None:
    tab = listeners()
    proxy = TcpProxy("127.0.0.1", redis_server.port)
    await proxy.start()
    try:
        proxied = f"redis://127.0.0.1:{proxy.port}/0"
        # The download workers in this process listen for nudges (as a separate worker does).
        server = await serve(make_settings(redis_url=proxied, run_worker_in_process=True))
        await tab.connect(server.url, await session_cookie(storage, carol))
        await _pushed_from_worker(redis_server.url, carol, tab, within=10)
        await _nudged(redis_server.url, server, within=10)

        # Redis's host goes dark; Redis restarts (empty: no persistence) before it is back.
        await proxy.blackhole()
        redis_server.kill()
        redis_server.start()
        await asyncio.sleep(3.0)
        await proxy.restore()

        pushed, nudged = await asyncio.gather(
            _pushed_from_worker(redis_server.url, carol, tab, RESUBSCRIBED_WITHIN),
            _nudged(redis_server.url, server, RESUBSCRIBED_WITHIN),
            return_exceptions=True,
        )
        print(f"silent Redis restart: pushes back after {pushed} s, nudges after {nudged} s")
        assert isinstance(pushed, float) and isinstance(nudged, float)
    finally:
        await proxy.close()


async def _until(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _retrying_client(url: str) -> Redis:
    """A client whose connections retry a failed command (redis-py's default for
    `Redis(...)`: 10 tries; the app's `from_url` clients try once, so their errors reach
    the listener): its PubSub connects and subscribes again inside the read, silently."""
    backoff = ExponentialWithJitterBackoff(base=0.01, cap=1)
    return Redis.from_url(url, socket_timeout=2, retry=Retry(backoff, 10))


@pytest.mark.timeout(60)
async def test_a_subscription_redis_py_renews_by_itself_drops_the_session_cache(
    redis_server: RedisServer,
) -> None:
    """An invalidation published while the connection was down never arrives: the
    instance must take everything as invalidated, as after its own resubscribe."""
    proxy = TcpProxy("127.0.0.1", redis_server.port)
    await proxy.start()
    here = _retrying_client(f"redis://127.0.0.1:{proxy.port}/0")
    there = Redis.from_url(redis_server.url, socket_timeout=2)  # another instance's
    cache, other_cache = SessionCache(60), SessionCache(60)
    invalidated: list[set[str]] = []
    cache.on_invalidate(invalidated.append)
    stops = [
        await RedisInvalidationRelay(cache, here, "here").start(),
        await RedisInvalidationRelay(other_cache, there, "there").start(),
    ]
    try:
        other_cache.invalidate({"user-1"})
        assert await _until(lambda: {"user-1"} in invalidated, 5)  # the relay works
        invalidated.clear()
        accepted = proxy.accepted
        await proxy.cut()  # Redis restarts: every connection reset
        other_cache.invalidate({"user-2"})  # lost: nothing is subscribed here now
        await asyncio.sleep(0.3)
        await proxy.restore()
        assert await _until(lambda: proxy.accepted > accepted, 10), "nothing connected again"
        # Before: redis-py subscribed again inside its read and nothing was told.
        assert await _until(lambda: {ALL} in invalidated, 10), invalidated
        invalidated.clear()
        other_cache.invalidate({"user-3"})  # and the renewed subscription hears
        assert await _until(lambda: {"user-3"} in invalidated, 5), invalidated
    finally:
        for stop in stops:
            await stop()
        for client in (here, there):
            await client.aclose()
        await proxy.close()


@pytest.mark.timeout(60)
async def test_a_subscription_redis_py_renews_by_itself_wakes_the_download_workers(
    redis_server: RedisServer,
) -> None:
    """A "job queued" nudge may have been lost meanwhile: the workers look at the queue
    at once rather than at their next slow poll."""
    proxy = TcpProxy("127.0.0.1", redis_server.port)
    await proxy.start()
    client = _retrying_client(f"redis://127.0.0.1:{proxy.port}/0")
    signals = QueueSignals(client)
    signals.start_listening()
    try:
        for _ in range(50):  # until it listens: its own nudge comes back over Redis
            await signals.job_added()
            signals.wake_event.clear()
            if await _until(signals.wake_event.is_set, 0.2):
                break
        await asyncio.sleep(0.3)
        signals.wake_event.clear()
        accepted = proxy.accepted
        await proxy.cut()
        await asyncio.sleep(0.3)
        await proxy.restore()
        assert await _until(lambda: proxy.accepted > accepted, 10), "nothing connected again"
        # Before: no nudge came, so nothing woke the workers.
        assert await _until(signals.wake_event.is_set, 10)
    finally:
        await signals.stop_listening()
        await client.aclose()
        await proxy.close()
