"""Rate limits and cache: the same cases against the in-process and the Redis backend."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from medianest.core.cache import MemoryCache, RedisCache
from medianest.core.ratelimit import RateLimiter
from tests.conftest import redis_reachable, unavailable
from tests.support.databases import REDIS_URL

REDIS_TEST_URL = REDIS_URL + "/2"


@pytest.fixture(params=["memory", "redis"])
async def limiter(request):
    if request.param == "memory":
        yield RateLimiter(None, namespace=f"t{uuid.uuid4().hex}")
        return
    if not redis_reachable(REDIS_TEST_URL):
        unavailable("Redis")
    yield RateLimiter(REDIS_TEST_URL, namespace=f"t{uuid.uuid4().hex}")


@pytest.fixture(params=["memory", "redis"])
async def cache(request):
    if request.param == "memory":
        yield MemoryCache()
        return
    if not redis_reachable(REDIS_TEST_URL):
        unavailable("Redis")
    redis = Redis.from_url(REDIS_TEST_URL)
    yield RedisCache(redis, prefix=f"t{uuid.uuid4().hex}:")
    await redis.aclose()


async def test_200_concurrent_hits_on_a_limit_of_50_allow_exactly_50(limiter):
    results = await asyncio.gather(
        *[limiter.hit("user-1", limit=50, window_seconds=60) for _ in range(200)]
    )
    assert sum(result.allowed for result in results) == 50
    assert limiter.backend in ("memory", "redis")


async def test_limits_are_per_key(limiter):
    for _ in range(3):
        assert (await limiter.hit("a", limit=3, window_seconds=60)).allowed
    assert not (await limiter.hit("a", limit=3, window_seconds=60)).allowed
    assert (await limiter.hit("b", limit=3, window_seconds=60)).allowed


async def test_a_refused_hit_reports_retry_after_and_headers(limiter):
    await limiter.hit("k", limit=1, window_seconds=30)
    refused = await limiter.hit("k", limit=1, window_seconds=30)
    assert not refused.allowed
    assert 1 <= refused.reset_after_seconds <= 30
    assert refused.headers["Retry-After"] == str(refused.reset_after_seconds)
    assert refused.headers["X-RateLimit-Remaining"] == "0"


async def test_the_window_slides_open_again(limiter):
    assert (await limiter.hit("w", limit=1, window_seconds=1)).allowed
    assert not (await limiter.hit("w", limit=1, window_seconds=1)).allowed
    await asyncio.sleep(1.2)
    assert (await limiter.hit("w", limit=1, window_seconds=1)).allowed


async def test_peek_does_not_consume(limiter):
    for _ in range(5):
        assert (await limiter.peek("p", limit=1, window_seconds=60)).allowed
    assert (await limiter.hit("p", limit=1, window_seconds=60)).allowed
    assert not (await limiter.peek("p", limit=1, window_seconds=60)).allowed


async def test_cache_round_trips_json_values(cache):
    await cache.set("k", {"a": [1, 2], "b": "c"}, ttl_seconds=10)
    assert await cache.get("k") == {"a": [1, 2], "b": "c"}
    await cache.delete("k")
    assert await cache.get("k") is None


async def test_cache_entries_expire(cache):
    await cache.set("short", 1, ttl_seconds=0.2)
    await asyncio.sleep(0.35)
    assert await cache.get("short") is None


async def test_redis_cache_outage_is_a_miss_not_an_error():
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    cache = RedisCache(dead)
    await cache.set("k", 1, ttl_seconds=5)
    assert await cache.get("k") is None
    await dead.aclose()


async def test_api_rate_limit_headers_on_authenticated_routes(alice_client):
    response = await alice_client.get("/api/auth/session")
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "100"
    assert int(response.headers["X-RateLimit-Remaining"]) == 99


async def test_api_rate_limit_refuses_the_101st_request_in_a_minute(alice_client):
    statuses = [(await alice_client.get("/api/auth/session")).status_code for _ in range(101)]
    assert statuses[:100] == [200] * 100
    assert statuses[100] == 429
