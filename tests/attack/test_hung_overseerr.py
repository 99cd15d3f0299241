"""H1: a hung Overseerr must not take the database pool (or anyone's pages) with it.

Before: Overseerr hanging + 30 concurrent searches from one user gave 15 times 500 and
other users' requests waited 30 s, then 500. Now a request gives its idle database
connection back before any outbound call, searches end in a 503 envelope (timeouts,
then the open breaker) and another user's list pages stay fast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from medianest.auth.models import User
from medianest.settings import Settings
from medianest_simulators.suite import SimulatorSuite
from tests.attack.support import WAITED_FOR_A_POOL, Bystander, flood, many_connections
from tests.faults.support import AppProcess
from tests.support.http import http_client

SEARCHES = 30
HANG_SECONDS = 20.0  # each hung call ends by itself, bounded


@pytest.fixture
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorSuite]:
    with SimulatorSuite(youtube_dir=tmp_path_factory.mktemp("youtube")) as started:
        yield started


@pytest.mark.timeout(240)
async def test_a_hung_overseerr_under_30_searches_leaves_other_users_pages_fast_and_no_500(
    serve: Callable[..., Awaitable[AppProcess]],
    attack_settings: Callable[..., Settings],
    suite: SimulatorSuite,
    alice: User,
    alice_client: httpx.AsyncClient,
    bob: User,
    bob_client: httpx.AsyncClient,
) -> None:
    served = await serve(attack_settings(**suite.info.settings_values(), http_timeout_seconds=3.0))
    suite.overseerr.set_fault("hang", delay=HANG_SECONDS)
    async with http_client(
        base_url=served.url,
        cookies=alice_client.cookies,
        limits=many_connections(SEARCHES),
        timeout=120,
    ) as alice_http:
        # Every 50 ms: ~20 page loads a second across the seconds the searches hang show a
        # wait on the pool as well as the default 5 ms did (1,600 loads, 4 s of CPU).
        with Bystander(served.url, bob_client.cookies, interval=0.05) as bystander:

            async def search(index: int) -> httpx.Response:
                return await alice_http.get("/api/media/search", params={"query": f"dune {index}"})

            statuses, answers = await flood(SEARCHES, search)
            probe = await bystander.finish()
    suite.overseerr.clear_fault()

    print(f"hung Overseerr, {SEARCHES} searches: {dict(statuses)}; {probe.summary()}")
    assert set(statuses) == {503}, statuses
    assert {a.json()["error"]["code"] for a in answers} == {"SERVICE_UNAVAILABLE"}
    assert set(probe.statuses) == {200}, probe.statuses
    assert probe.slowest < WAITED_FOR_A_POOL, probe.summary()
