"""Two deployments on one Redis server, each on its own database, must not hear each
other: pub/sub channels ignore the database number, so each channel carries it
(core/pubsub.py). Seen in the wild as a test run receiving another run's pushes; in a
home it would be a cancel of "download 5" stopping the other deployment's download 5."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from medianest.auth.sessions.cache import SessionCache
from medianest.auth.sessions.relay import RedisInvalidationRelay
from medianest.core.pubsub import channel, redis_database
from medianest.core.realtime import ExternalEmitter, Realtime
from medianest.youtube.jobs.signals import QueueSignals
from tests.support import databases


@pytest.mark.parametrize(
    ("url", "database"),
    [
        ("redis://127.0.0.1:6379/7", 7),
        ("redis://127.0.0.1:6379", 0),
        ("redis://h/?db=3", 3),
        ("unix:///run/redis.sock?db=2", 2),
        ("rediss://user:secret@h:1/11", 11),
    ],
)
def test_the_database_is_read_from_a_url_as_redis_py_reads_it(url: str, database: int) -> None:
    assert redis_database(url) == database
    assert redis_database(Redis.from_url(url)) == database
    assert channel(url, "x") == f"medianest:{database}:x"


@pytest.fixture
async def two_databases(redis_url: str | None) -> AsyncIterator[tuple[str, str]]:
    if redis_url is None:
        pytest.skip("needs Redis (the postgres backend)")
    # Not the next number: under pytest -n that is another worker's, whose apps publish.
    yield redis_url, f"{databases.REDIS_URL}/{databases.REDIS_QUIET_DB}"


async def listening(signals: QueueSignals, cancelled: list[str]) -> None:
    signals.cancel_handlers.append(cancelled.append)
    signals.start_listening()
    await asyncio.sleep(0.3)  # subscribed


async def test_a_cancel_reaches_its_own_deployment_only(two_databases: tuple[str, str]) -> None:
    ours, theirs = two_databases
    clients = [Redis.from_url(url) for url in (ours, ours, theirs)]
    sender, same, other = (QueueSignals(client) for client in clients)
    heard_same: list[str] = []
    heard_other: list[str] = []
    try:
        await listening(same, heard_same)
        await listening(other, heard_other)
        await sender.cancel("5")
        for _ in range(50):
            if heard_same:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # time enough for a stray message to arrive as well
        assert heard_same == ["5"]
        assert heard_other == []
    finally:
        for signals in (same, other):
            await signals.stop_listening()
        for client in clients:
            await client.aclose()


async def test_a_session_invalidation_stays_in_its_deployment(
    two_databases: tuple[str, str],
) -> None:
    ours, theirs = two_databases
    clients = [Redis.from_url(url) for url in (ours, ours, theirs)]
    caches = [SessionCache(60) for _ in clients]
    relays = [
        RedisInvalidationRelay(cache, client, f"instance-{n}")
        for n, (cache, client) in enumerate(zip(caches, clients, strict=True))
    ]
    seen: list[list[set[str]]] = [[], [], []]
    for cache, heard in zip(caches, seen, strict=True):
        cache.on_invalidate(heard.append)
    stops = [await relay.start() for relay in relays]
    try:
        for heard in seen:
            heard.clear()  # the start's own "everything" invalidation
        caches[0].invalidate({"user-3"})
        for _ in range(50):
            if seen[1]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert seen[1] == [{"user-3"}]
        assert seen[2] == []
    finally:
        for stop in stops:
            await stop()
        for client in clients:
            await client.aclose()


def test_socket_events_use_the_deployments_channel(two_databases: tuple[str, str]) -> None:
    ours, theirs = two_databases
    servers = [Realtime(url) for url in (ours, theirs)]
    channels = [server.sio.manager.channel for server in servers]
    assert channels[0] != channels[1]
    assert ExternalEmitter(ours).manager.channel == channels[0]
