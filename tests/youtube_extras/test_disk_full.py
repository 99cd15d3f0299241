"""The disk filling up in the middle of an item (ENOSPC from the kernel, not the guard's
threshold): the item is not lost as "failed", the job waits for space like the guard's
DISK_LOW, the quota counts only what was written, and the job finishes once space returns.

`/dev/full` answers every write with ENOSPC: the item's `.part` file pointing there is a
disk that fills up as yt-dlp writes, on any filesystem the tests run on."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.models import YoutubeArchiveEntry
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import wait_for

FULL = Path("/dev/full")


async def archived(app: MediaNestApp, user: User) -> int:
    async with session_scope(app.ctx.session_factory) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(YoutubeArchiveEntry)
            .where(YoutubeArchiveEntry.user_id == user.id)
        )
    return int(count or 0)


async def test_a_disk_that_fills_up_mid_item_pauses_the_job_and_loses_no_item(
    app_factory: Callable[[Settings], Any],
    extras_settings: Callable[..., Settings],
    alice: User,
    media: MediaServerSimulator,
    download_root: Path,
) -> None:
    # The pause holds 3 s, not the suite's 0.5 s recheck: the folder is looked at while the
    # job waits, not while a recheck's own try (and its temporary files) is under way.
    worker_app: MediaNestApp = await app_factory(
        extras_settings(run_worker_in_process=True, download_retry_base_seconds=3.0)
    )
    folder = download_root / str(alice.id) / "Loopback Test Channel"
    folder.mkdir(parents=True)
    full_part = folder / "002 - Clip Two.mp4.part"
    os.symlink(FULL, full_part)  # writing the second item fails with ENOSPC
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
        rows = await wait_for(
            worker_app,
            lambda r: bool(r) and (r[0].pause_reason == "DISK_LOW" or r[0].status == "completed"),
            user_id=alice.id,
        )
    job = rows[0]
    assert (job.status, job.pause_reason) == ("queued", "DISK_LOW"), (job.error, job.items)
    assert "disk is full" in (job.error or "")
    assert [i.state for i in job.items] == ["completed", "pending", "pending"]
    assert job.items[1].error is None
    assert await archived(worker_app, alice) == 1  # the quota counts only what was written
    assert not any(p.is_file() for p in folder.glob("002 - *"))  # no partial file left

    full_part.unlink()  # the admin frees space
    rows = await wait_for(worker_app, lambda r: r[0].status == "completed", user_id=alice.id)
    job = rows[0]
    assert [i.state for i in job.items] == ["completed"] * 3
    assert (job.pause_reason, job.error) == (None, None)
    assert await archived(worker_app, alice) == 3
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["001 - Clip One.mp4", "002 - Clip Two.mp4", "003 - Clip Three.mp4"]
