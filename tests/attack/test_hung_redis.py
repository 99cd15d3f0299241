"""H1: a hung Redis (SIGSTOP: connections open, nothing answers) must not stall pages.

Before: 15 of 48 requests answered 500 and the dashboard took 17 s. Now every Redis
call on a request path has a 2 s deadline, and after one times out the app stops
asking Redis (the cache misses, limits count in-process) until a background ping is
answered, instead of waiting again on every call. 100 requests are sampled, so the
p99 is a percentile and not just the first request that met the hang.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from medianest.auth.models import User
from medianest.settings import Settings
from tests.attack.support import LIST_PAGES, WAITED_FOR_A_POOL, Bystander
from tests.conftest import unavailable
from tests.faults.support import AppProcess, RedisServer
from tests.support.http import http_client

PAGES = (*LIST_PAGES, "/api/dashboard/status", "/api/auth/session")


@pytest.fixture
def stopped_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server (never the shared one) that the test may SIGSTOP."""
    if not RedisServer.available():
        unavailable("redis-server")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir)
    server.start()
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.kill()


@pytest.mark.timeout(240)
async def test_a_hung_redis_leaves_pages_answering_200_within_a_second(
    serve: Callable[..., Awaitable[AppProcess]],
    attack_settings: Callable[..., Settings],
    stopped_redis: RedisServer,
    alice: User,
    alice_client: httpx.AsyncClient,
) -> None:
    served = await serve(attack_settings(redis_url=stopped_redis.url))
    async with http_client(base_url=served.url, cookies=alice_client.cookies) as http:
        for path in PAGES:  # healthy first: Redis holds the cache and the limits
            assert (await http.get(path)).status_code == 200, path
    assert stopped_redis.process is not None
    os.kill(stopped_redis.process.pid, signal.SIGSTOP)
    try:
        with Bystander(served.url, alice_client.cookies, paths=PAGES, minimum=100) as bystander:
            probe = await bystander.finish()
    finally:
        os.kill(stopped_redis.process.pid, signal.SIGCONT)
    print(f"hung Redis: {probe.summary()}")
    assert set(probe.statuses) == {200}, probe.statuses
    assert probe.slowest < WAITED_FOR_A_POOL, probe.summary()
