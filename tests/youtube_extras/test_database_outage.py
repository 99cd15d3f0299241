"""A database outage while a job runs (PostgreSQL restarted under it): the runner's own
way out (back to the queue) needs the database too, so the job is left claimed by this
process. It must still be picked up again once its heartbeat is stale, not stay
"downloading" until the app restarts (and hold the owner's only slot).

The outage is real: the app reaches a fresh database through a loopback TCP proxy
(tests/faults), which is cut (every connection reset, new ones refused, as while the
server restarts) while an item is downloading, and restored a few seconds later. The
item's media is held by the media server until the cut, so the item ends, and the
runner writes its result, while the database is away. Only with --backend=postgres: a
SQLite file has no server to lose, and a lock held past its 30 s busy timeout would make
a test of minutes, not an outage of seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest.worker import run_standalone
from medianest.youtube.jobs.worker import workers_of
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN
from tests.factories.users import create_user, signed_in_client
from tests.faults.conftest import proxied_pg_url  # noqa: F401  (the proxied database)
from tests.faults.support import TcpProxy
from tests.youtube_extras.conftest import all_finished, wait_for

OUTAGE_SECONDS = 3.0  # the cut lasts this long after the runner gave up


@pytest.mark.timeout(90)
async def test_a_job_whose_runner_lost_the_database_is_run_again_not_left_running(
    proxied_pg_url: tuple[str, TcpProxy],  # noqa: F811
    app_factory: Callable[[Settings], Any],
    extras_settings: Callable[..., Settings],
    media: MediaServerSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, proxy = proxied_pg_url
    app: MediaNestApp = await app_factory(
        extras_settings(run_worker_in_process=True, database_url=url)
    )
    workers = workers_of(app.ctx)
    assert workers is not None
    alice = await create_user(app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)
    media.hold_item("clip-one")  # the first item downloads until the database is away
    async with await signed_in_client(app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert response.status_code == 201, response.text
    await wait_for(app, first_item_downloading, user_id=alice.id, timeout=20.0)

    await proxy.cut()
    media.release_item("clip-one")
    # The item ends; its result and then the way back to the queue find no database.
    await _until(lambda: "youtube_job_runner_died" in caplog.text, timeout=20.0)
    await asyncio.sleep(OUTAGE_SECONDS)
    await proxy.restore()

    # The stale time is 5 s: well within this, unless the job is never looked at again.
    rows = await wait_for(app, all_finished(1), user_id=alice.id, timeout=30.0)
    assert rows[0].status == "completed", rows[0].error
    assert [i.state for i in rows[0].items] == ["completed"] * 3
    assert workers.running == {}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("outage", ["cut", "blackhole"])
async def test_a_separate_worker_claims_jobs_again_once_postgres_is_back(
    outage: str,
    proxied_pg_url: tuple[str, TcpProxy],  # noqa: F811
    app_factory: Callable[[Settings], Any],
    extras_settings: Callable[..., Settings],
    media: MediaServerSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`medianest worker`'s code (run_standalone, as its process runs it) through a
    PostgreSQL restart (cut: connections reset; blackhole: its host silent meanwhile):
    it neither exits nor stops claiming."""
    url, proxy = proxied_pg_url
    settings = extras_settings(database_url=url)  # no workers in the app: the worker's own
    app: MediaNestApp = await app_factory(settings)
    alice = await create_user(app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)
    media.add_feed("second", "Second Channel", ["clip-two"])
    stop = asyncio.Event()
    worker = asyncio.create_task(run_standalone(settings, stop=stop))
    try:
        async with await signed_in_client(app, alice) as client:
            response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
            assert response.status_code == 201, response.text
            await wait_for(app, all_finished(1), user_id=alice.id, timeout=30.0)

            started = time.monotonic()
            await (proxy.cut() if outage == "cut" else proxy.blackhole())
            # Silent: a statement caught in flight waits out its 30 s command timeout.
            await _until(lambda: "youtube_worker_loop_failed" in caplog.text, timeout=45.0)
            print(f"worker loop failed {time.monotonic() - started:.1f} s into the {outage}")
            await asyncio.sleep(OUTAGE_SECONDS)  # a few more of its rounds fail
            assert not worker.done()
            await proxy.restore()

            second = await client.post(
                "/api/youtube/download", json={"url": media.feed_url("second")}
            )
            assert second.status_code == 201, second.text
            rows = await wait_for(app, all_finished(2), user_id=alice.id, timeout=30.0)
        assert [row.status for row in rows] == ["completed", "completed"]
        assert not worker.done()
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30.0)


def first_item_downloading(rows: list[Any]) -> bool:
    return bool(rows and rows[0].items and rows[0].items[0].state == "downloading")


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the outage was never noticed"
        await asyncio.sleep(0.05)
