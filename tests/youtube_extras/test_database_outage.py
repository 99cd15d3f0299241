"""A database outage while a job runs (PostgreSQL restarted under it, a locked SQLite
file): the runner's own way out (back to the queue) needs the database too, so the job
is left claimed by this process. It must still be picked up again once its heartbeat is
stale, not stay "downloading" until the app restarts (and hold the owner's only slot)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.youtube.jobs import job_hooks
from medianest.youtube.jobs.worker import workers_of
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import all_finished, wait_for


def outage() -> OperationalError:
    return OperationalError("UPDATE youtube_downloads", {}, ConnectionRefusedError(111))


async def test_a_job_whose_runner_lost_the_database_is_run_again_not_left_running(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workers = workers_of(worker_app.ctx)
    assert workers is not None
    failures = {"after_item": 1, "retry_later": 1}  # the outage: these calls find no database
    real_after_item, real_retry_later = job_hooks.after_item, workers.queue.retry_later

    async def after_item(*args: Any, **kwargs: Any) -> None:
        if failures["after_item"]:
            failures["after_item"] -= 1
            raise outage()
        await real_after_item(*args, **kwargs)

    async def retry_later(*args: Any, **kwargs: Any) -> bool:
        if failures["retry_later"]:
            failures["retry_later"] -= 1
            raise outage()
        return await real_retry_later(*args, **kwargs)

    monkeypatch.setattr(job_hooks, "after_item", after_item)
    monkeypatch.setattr(workers.queue, "retry_later", retry_later)
    async with await signed_in_client(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert response.status_code == 201, response.text
    # The stale time is 5 s: well within this, unless the job is never looked at again.
    rows = await wait_for(worker_app, all_finished(1), user_id=alice.id, timeout=25.0)
    assert failures == {"after_item": 0, "retry_later": 0}
    assert rows[0].status == "completed", rows[0].error
    assert [i.state for i in rows[0].items] == ["completed"] * 3
    assert workers.running == {}
