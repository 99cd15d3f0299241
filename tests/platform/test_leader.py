"""The leader lease: one holder at a time, renewal by the holder, takeover after expiry or
release; on Redis (postgres backend) and on the `leases` table (sqlite backend)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from medianest.app import build_context, close_context
from medianest.context import AppContext
from medianest.core.realtime import Realtime
from medianest.platform.leader import LeaderLease
from medianest.settings import Settings

MakeContext = Callable[[], Coroutine[Any, Any, AppContext]]


@pytest.fixture(params=["redis_when_configured", "database_table"])
async def make_context(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> AsyncIterator[MakeContext]:
    """Contexts of distinct app instances on the same storage: the backend's Redis when it
    has one, and the `leases` table of its database in every case."""
    settings = (
        make_settings()
        if request.param == "redis_when_configured"
        else make_settings(redis_url=None)
    )
    made: list[AppContext] = []

    async def make() -> AppContext:
        ctx = await build_context(settings, Realtime(None), run_migrations=False)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        await close_context(ctx)


async def test_only_one_instance_holds_a_lease_at_a_time(make_context: MakeContext) -> None:
    first = LeaderLease(await make_context(), "job", ttl_seconds=30)
    second = LeaderLease(await make_context(), "job", ttl_seconds=30)

    assert await first.try_acquire() is True
    assert await second.try_acquire() is False
    assert first.held and not second.held


async def test_the_holder_renews_its_lease(make_context: MakeContext) -> None:
    lease = LeaderLease(await make_context(), "job", ttl_seconds=30)

    assert await lease.try_acquire() is True
    assert await lease.try_acquire() is True


async def test_leases_with_different_names_are_independent(make_context: MakeContext) -> None:
    ctx_a, ctx_b = await make_context(), await make_context()

    assert await LeaderLease(ctx_a, "monitor", ttl_seconds=30).try_acquire() is True
    assert await LeaderLease(ctx_b, "scheduler", ttl_seconds=30).try_acquire() is True


async def test_another_instance_takes_over_an_expired_lease(make_context: MakeContext) -> None:
    first = LeaderLease(await make_context(), "job", ttl_seconds=0.3)
    # The taker's own lease is long: on a loaded machine a 0.3 s one could run out
    # before the first asks again (seen in CI: the first took it back).
    second = LeaderLease(await make_context(), "job", ttl_seconds=60)
    assert await first.try_acquire() is True

    await asyncio.sleep(0.5)

    assert await second.try_acquire() is True
    assert await first.try_acquire() is False


async def test_a_released_lease_is_taken_at_once_by_another_instance(
    make_context: MakeContext,
) -> None:
    first = LeaderLease(await make_context(), "job", ttl_seconds=60)
    second = LeaderLease(await make_context(), "job", ttl_seconds=60)
    assert await first.try_acquire() is True

    await first.release()

    assert await second.try_acquire() is True


async def test_releasing_a_lease_held_by_another_instance_leaves_it_alone(
    make_context: MakeContext,
) -> None:
    first = LeaderLease(await make_context(), "job", ttl_seconds=0.3)
    second = LeaderLease(await make_context(), "job", ttl_seconds=60)
    assert await first.try_acquire() is True
    await asyncio.sleep(0.5)
    assert await second.try_acquire() is True

    await first.release()  # first still believes it holds the lease

    assert await second.try_acquire() is True
    third = LeaderLease(await make_context(), "job", ttl_seconds=60)
    assert await third.try_acquire() is False


async def test_instances_racing_for_a_new_lease_elect_exactly_one(
    make_context: MakeContext,
) -> None:
    leases = [LeaderLease(await make_context(), "race", ttl_seconds=30) for _ in range(5)]

    won = await asyncio.gather(*(lease.try_acquire() for lease in leases))

    assert sorted(won) == [False, False, False, False, True]
