"""The durable queue on the real database: claims within limits, no double claims,
stale jobs picked up again, attempts exhausted, retries with backoff."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.downloads import service as youtube_service
from medianest.youtube.jobs.queue import JobQueue
from medianest.youtube.models import YoutubeDownload
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import create_user
from tests.youtube.conftest import client_for, finished, wait_for_download


async def add_job(app: MediaNestApp, user: User, url: str, **values: Any) -> uuid.UUID:
    async with session_scope(app.ctx.session_factory) as session:
        job = YoutubeDownload(user_id=user.id, url=url, items=[], **values)
        session.add(job)
    return job.id


def queue_of(app: MediaNestApp, worker: str = "test-worker") -> JobQueue:
    return JobQueue(app.ctx.session_factory, app.ctx.settings, worker_id=worker)


async def test_claims_respect_per_user_and_global_concurrency(
    app: MediaNestApp, alice: User, bob: User
) -> None:
    carol = await create_user(app, "carol", plex_id="1004")
    alice_first = await add_job(app, alice, "https://x/1")
    alice_second = await add_job(app, alice, "https://x/2")
    bobs = await add_job(app, bob, "https://x/3")
    carols = await add_job(app, carol, "https://x/4")
    queue = queue_of(app)

    assert await queue.claim() == alice_first
    assert await queue.claim() == bobs  # alice already runs one (per-user limit 1)
    assert await queue.claim() is None  # two running (global limit 2)

    await queue.finish(alice_first, status="completed")
    assert await queue.claim() == alice_second  # oldest due job whose owner is free
    await queue.finish(bobs, status="completed")
    assert await queue.claim() == carols


async def test_concurrent_claimers_never_take_the_same_job(
    app_factory: Callable[[Settings], Any], youtube_settings: Callable[..., Settings]
) -> None:
    app: MediaNestApp = await app_factory(youtube_settings(worker_concurrency=50))
    users = [await create_user(app, f"user{n}", plex_id=str(2000 + n)) for n in range(12)]
    jobs = {await add_job(app, user, f"https://x/{n}") for n, user in enumerate(users)}
    queues = [queue_of(app, f"worker-{n}") for n in range(6)]

    async def drain(queue: JobQueue) -> list[uuid.UUID]:
        taken = []
        while (job := await queue.claim()) is not None:
            taken.append(job)
        return taken

    results = await asyncio.gather(*(drain(q) for q in queues))
    claimed = [job for taken in results for job in taken]
    assert sorted(claimed) == sorted(jobs)  # each exactly once


async def test_a_job_not_yet_due_is_not_claimed(app: MediaNestApp, alice: User) -> None:
    later = utcnow() + timedelta(minutes=5)
    await add_job(app, alice, "https://x/later", next_attempt_at=later)
    assert await queue_of(app).claim() is None


async def test_a_job_whose_worker_died_is_picked_up_again_and_completes(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator
) -> None:
    job_id = await add_job(
        worker_app,
        alice,
        media.feed_url(),
        status="downloading",
        claimed_by="dead-host:1:worker",
        heartbeat_at=utcnow() - timedelta(minutes=10),
        attempts=1,
    )
    async with await client_for(worker_app, alice) as client:
        data = await wait_for_download(client, str(job_id), finished)
    assert data["status"] == "completed", data
    assert data["attempts"] == 2
    assert data["completedItems"] == 3


async def test_a_job_that_keeps_losing_its_worker_fails_with_the_reason(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator
) -> None:
    job_id = await add_job(
        worker_app,
        alice,
        media.feed_url(),
        status="downloading",
        claimed_by="dead-host:1:worker",
        heartbeat_at=utcnow() - timedelta(minutes=10),
        attempts=3,
    )
    async with await client_for(worker_app, alice) as client:
        data = await wait_for_download(client, str(job_id), finished)
    assert data["status"] == "failed"
    assert "stopped responding" in data["error"] and "3 attempts" in data["error"]
    assert media.request_count() == 0


async def test_a_link_that_fails_to_load_once_is_retried_and_completes(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator
) -> None:
    media.set_fault("error", path_prefix="/feed.xml", times=1)
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        data = await wait_for_download(client, response.json()["data"]["id"], finished)
    assert data["status"] == "completed", data
    assert data["attempts"] == 2
    assert media.request_count("/feed.xml") == 2


async def test_a_link_that_never_loads_fails_after_the_last_attempt(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator
) -> None:
    media.set_fault("error", path_prefix="/feed.xml")
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        data = await wait_for_download(client, response.json()["data"]["id"], finished)
    assert data["status"] == "failed"
    assert data["attempts"] == 3 and "gave up after 3 attempts" in data["error"]
    assert "Could not read the link" in data["error"]


async def test_a_failed_download_gives_its_hourly_download_back_and_a_completed_one_does_not(
    app_factory: Callable[[Settings], Any],
    youtube_settings: Callable[..., Settings],
    media: MediaServerSimulator,
) -> None:
    app: MediaNestApp = await app_factory(
        youtube_settings(run_worker_in_process=True, rate_limit_youtube_per_hour=2)
    )
    alice = await create_user(app, "alice", plex_id="1002")
    media.set_fault("error", path_prefix="/feed.xml")
    async with await client_for(app, alice) as client:
        failing = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert failing.status_code == 201, failing.text
        assert (await youtube_service.hourly_left(app.ctx, alice)).remaining == 1
        data = await wait_for_download(client, failing.json()["data"]["id"], finished)
        assert data["status"] == "failed"
        # Given back once the failure is committed (so just after it shows as failed).
        for _ in range(100):
            if (await youtube_service.hourly_left(app.ctx, alice)).remaining == 2:
                break
            await asyncio.sleep(0.05)
        assert (await youtube_service.hourly_left(app.ctx, alice)).remaining == 2
        media.clear_fault()
        # Both downloads of the hour are hers again; a completed one keeps its count.
        first = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert first.status_code == 201, first.text
        done = await wait_for_download(client, first.json()["data"]["id"], finished)
        assert done["status"] == "completed", done
        second = await client.post(
            "/api/youtube/download", json={"url": media.item_url("clip-one")}
        )
        assert second.status_code == 201, second.text
        third = await client.post("/api/youtube/download", json={"url": media.item_url("clip-two")})
        assert third.status_code == 429, third.text
