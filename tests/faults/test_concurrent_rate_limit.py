"""200 concurrent API requests by one user against a limit of 50 a minute: exactly 50
pass and exactly 150 get a 429 with Retry-After, on both backends (in-process limits on
the embedded default, Redis with --backend=postgres).

The app is served by `medianest serve` as its own process and reached over real HTTP
with 200 connections, so the requests truly overlap.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis as redis_sync

from medianest.auth.models import User
from medianest.settings import Settings
from tests.faults.support import AppProcess
from tests.support.http import http_client
from tests.support.rate_windows import room_in_the_window

LIMIT = 50
CONCURRENT = 200


@pytest.fixture
def served(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[AppProcess]:
    settings = make_settings(rate_limit_api_per_minute=LIMIT, log_level="WARNING")
    with AppProcess(settings, tmp_path / "server.log") as process:
        yield process


@pytest.mark.timeout(180)
async def test_200_concurrent_requests_against_a_limit_of_50_give_exactly_50_answers_and_150_429s(
    served: AppProcess,
    alice: User,
    alice_client: httpx.AsyncClient,
    redis_url: str | None,
) -> None:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with http_client(
        base_url=served.url, cookies=alice_client.cookies, limits=limits, timeout=60
    ) as http:
        # Everyone waits at the gate so the requests leave together.
        gate = asyncio.Event()

        async def one() -> httpx.Response:
            await gate.wait()
            return await http.get("/api/dashboard/status")

        tasks = [asyncio.create_task(one()) for _ in range(CONCURRENT)]
        await room_in_the_window()
        await asyncio.sleep(0)
        started = time.perf_counter()
        gate.set()
        answers = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started

    assert Counter(a.status_code for a in answers) == {200: LIMIT, 429: CONCURRENT - LIMIT}
    # Counted in leases (core/ratelimit.py) or not, each answer saw its own count.
    remaining = sorted(int(a.headers["X-RateLimit-Remaining"]) for a in answers if a.is_success)
    assert remaining == list(range(LIMIT))
    for answer in answers:
        assert answer.headers["X-RateLimit-Limit"] == str(LIMIT)
        assert "server" not in answer.headers  # `medianest serve` does not name its server
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
            assert 1 <= int(answer.headers["Retry-After"]) <= 60
            assert answer.json()["error"]["details"]["limit"] == LIMIT
    if redis_url is not None:  # the count lives in Redis, shared by every app instance
        keys = list(redis_sync.Redis.from_url(redis_url).scan_iter(match=f"*api:{alice.id}*"))
        assert keys
    assert "Traceback" not in served.log_text()
    print(
        f"rate limit: {CONCURRENT} concurrent requests answered in {elapsed:.2f} s "
        f"({CONCURRENT / elapsed:.0f}/s): {LIMIT} x 200, {CONCURRENT - LIMIT} x 429"
    )
