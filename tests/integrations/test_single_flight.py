"""Cached reads in flight are shared: when a cached answer expires under load, the
requests that find it expired send one read to the service, not one each (seen as a
stampede of Plex reads behind `/plex` on PostgreSQL + Redis, docs/performance.md)."""

from __future__ import annotations

import asyncio
import time

import pytest

from medianest.core.cache import MemoryCache
from medianest.core.errors import ServiceUnavailable

PAGE = "/api/status-page/medianest"


async def expired_entry(client, kuma) -> None:
    """A cached answer that a `fresh_ttl` of 0.01 s finds expired."""
    await client.get_json(PAGE, cache_key="page")
    await asyncio.sleep(0.02)
    kuma.log.clear()


async def test_requests_finding_an_expired_answer_share_one_read(kuma, make_resilient):
    client = make_resilient(kuma.url, cache=MemoryCache())
    await expired_entry(client, kuma)
    kuma.set_fault("slow", delay=0.3)

    answers = await asyncio.gather(
        *(client.get_json(PAGE, cache_key="page", fresh_ttl=0.01) for _ in range(20))
    )

    assert kuma.request_count(PAGE) == 1
    assert all(a.data == answers[0].data and not a.stale for a in answers)


async def test_different_keys_are_read_separately(kuma, make_resilient):
    client = make_resilient(kuma.url, cache=MemoryCache())
    kuma.set_fault("slow", delay=0.2)

    await asyncio.gather(*(client.get_json(PAGE, cache_key=f"user:{n}") for n in range(3)))

    assert kuma.request_count(PAGE) == 3


async def test_a_read_begun_before_a_change_does_not_answer_for_after_it(kuma, make_resilient):
    client = make_resilient(kuma.url, cache=MemoryCache())
    kuma.set_fault("slow", delay=0.3)
    before = asyncio.ensure_future(client.get_json(PAGE, cache_key="page", fresh_ttl=60))
    await asyncio.sleep(0.1)  # that read is under way
    changed_at = time.time()

    after = await client.get_json(PAGE, cache_key="page", fresh_ttl=60, changed_at=changed_at)
    await before

    assert kuma.request_count(PAGE) == 2
    assert after.stale is False


async def test_a_caller_gone_does_not_cancel_the_read_for_the_others(kuma, make_resilient):
    client = make_resilient(kuma.url, cache=MemoryCache())
    kuma.set_fault("slow", delay=0.3)
    first = asyncio.ensure_future(client.get_json(PAGE, cache_key="page"))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(client.get_json(PAGE, cache_key="page"))
    await asyncio.sleep(0.05)
    first.cancel()  # the first request's client went away

    answer = await second

    assert answer.data is not None and not answer.stale
    assert kuma.request_count(PAGE) == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_failed_read_fails_every_caller_that_shared_it(kuma, make_resilient):
    client = make_resilient(kuma.url, cache=MemoryCache(), settings=None)
    kuma.set_fault("unavailable")

    results = await asyncio.gather(
        *(client.get_json(PAGE, cache_key="page") for _ in range(5)), return_exceptions=True
    )

    assert all(isinstance(r, ServiceUnavailable) for r in results), results
    tries = kuma.request_count(PAGE)
    assert 1 <= tries <= 3  # one read, with its retries, for all five
