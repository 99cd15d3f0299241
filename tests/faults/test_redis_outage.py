"""Redis killed mid-run: the app keeps serving (health says degraded, the cache misses,
rate limits fall back to the process) and uses Redis again once it is back.

The app talks to a private `redis-server` of this test (SIGKILLed and started again on
the same port); the database is the backend's (SQLite, or PostgreSQL with
--backend=postgres).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.dashboard.service import CACHE_KEY
from medianest.settings import Settings
from tests.factories.users import create_user, make_client, signed_in_client
from tests.faults.support import RedisServer, timed

API_LIMIT = 8
STATUS_CACHE_KEY = "medianest:cache:" + CACHE_KEY
# Without Redis every call should still answer at loopback speed, not wait on a timeout.
FAST_SECONDS = 1.0


async def _wait_until(condition: Callable[[], Any], timeout: float) -> float:
    """Poll `condition` (sync or async) until true; the seconds it took."""
    started = time.monotonic()
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        await asyncio.sleep(0.1)


@pytest.fixture
async def redis_app(
    redis_server: RedisServer,  # first: it must outlive the app (stopped after it)
    make_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
) -> MediaNestApp:
    settings = make_settings(
        redis_url=redis_server.url,
        rate_limit_api_per_minute=API_LIMIT,
        health_check_interval_seconds=0.3,
    )
    started: MediaNestApp = await app_factory(settings)
    return started


@pytest.mark.housekeeping
@pytest.mark.timeout(120)
async def test_the_app_keeps_serving_without_redis_and_uses_it_again_when_it_returns(
    redis_app: MediaNestApp, redis_server: RedisServer
) -> None:
    alice: User = await create_user(redis_app, "alice", plex_id="1002", plex_token="t")
    async with (
        await signed_in_client(redis_app, alice) as alice_client,
        make_client(redis_app) as anonymous,
    ):
        # Healthy: Redis holds the status cache and counts the API limit.
        assert (await anonymous.get("/api/health")).status_code == 200
        await _wait_until(lambda: redis_server.keys(STATUS_CACHE_KEY), timeout=10)
        assert (await alice_client.get("/api/auth/session")).status_code == 200
        assert redis_server.keys(f"*api:{alice.id}*")

        redis_server.kill()

        health, health_seconds = await timed(anonymous.get("/api/health"))
        assert health.status_code == 503
        body = health.json()
        assert body["data"]["status"] == "degraded"
        assert body["data"]["checks"]["redis"]["status"] == "error"
        assert body["data"]["checks"]["database"]["status"] == "ok"
        assert health_seconds < FAST_SECONDS + 2  # the ping gives up after its 2 s budget

        session, session_seconds = await timed(alice_client.get("/api/auth/session"))
        assert session.status_code == 200
        assert session.json()["data"]["user"]["username"] == "alice"
        status, status_seconds = await timed(alice_client.get("/api/dashboard/status"))
        assert status.status_code == 200  # the cache misses: read from the database
        assert {s["service"] for s in status.json()["data"]} == {
            "plex",
            "overseerr",
            "uptime_kuma",
        }
        assert max(session_seconds, status_seconds) < FAST_SECONDS

        # The limit is still enforced, by the in-process fallback (which started at zero).
        burst = [await alice_client.get("/api/auth/session") for _ in range(API_LIMIT)]
        assert [r.status_code for r in burst] == [200] * (API_LIMIT - 2) + [429] * 2
        assert all(int(r.headers["Retry-After"]) >= 1 for r in burst[-2:])

        redis_server.start()

        recovery = await _wait_until(lambda: _health_ok(anonymous), timeout=10)
        assert recovery < 5
        # Redis is used again: the monitor re-caches the status, the limit counts there.
        await _wait_until(lambda: redis_server.keys(STATUS_CACHE_KEY), timeout=10)
        again = await alice_client.get("/api/auth/session")
        assert again.status_code == 200  # the restarted Redis has an empty window
        assert redis_server.keys(f"*api:{alice.id}*")
    print(
        f"redis outage: health {health_seconds:.3f} s, session {session_seconds:.3f} s, "
        f"dashboard {status_seconds:.3f} s; healthy again {recovery:.2f} s after restart"
    )


async def _health_ok(client: httpx.AsyncClient) -> bool:
    return (await client.get("/api/health")).status_code == 200
