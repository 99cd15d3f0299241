"""Deleting a download while its worker, unaware yet, finishes an item: no file is left.

The worker is a separate one (`medianest worker`'s run_standalone) whose cancel nudge
does not arrive (pub/sub loses messages; here it has no Redis at all): only the database
tells it. The moments are placed, not raced: the media server holds the item until the
deleting request has removed the files it knew of and waits on Plex's rescan (slowed);
the item then lands and the worker stores the finished job before the record goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.worker import run_standalone
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from tests.youtube.conftest import client_for, files_under

RESCAN_HOLD_SECONDS = 8.0  # the deleting request waits this long on Plex's rescan


@pytest.mark.timeout(90)
async def test_deleting_a_download_as_its_item_finishes_leaves_no_file(
    app: MediaNestApp,
    alice: User,
    youtube_settings: Callable[..., Settings],
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    media.add_feed("single", "Single Clip", ["clip-one"])
    media.hold_item("clip-one")
    stop = asyncio.Event()
    worker = asyncio.create_task(run_standalone(youtube_settings(redis_url=None), stop=stop))
    try:
        async with await client_for(app, alice) as client:
            response = await client.post(
                "/api/youtube/download", json={"url": media.feed_url("single")}
            )
            assert response.status_code == 201, response.text
            download_id = response.json()["data"]["id"]
            await _until(app, lambda row: _item_state(row) == "downloading")

            refresh = "/library/sections/3/refresh"
            plex.set_fault("slow", delay=RESCAN_HOLD_SECONDS, path_prefix=refresh, times=1)
            deleting = asyncio.create_task(client.delete(f"/api/youtube/downloads/{download_id}"))
            await _until_true(lambda: plex.request_count(refresh) >= 1)  # files removed, rescan
            media.release_item("clip-one")
            # The worker finishes the job while the record still exists.
            await _until(app, lambda row: row is not None and row.status == "completed")
            assert not deleting.done(), "the request did not wait where the test placed it"
            assert (await deleting).status_code == 204

        assert await _row(app) is None
        await asyncio.sleep(1.0)  # anything the worker still does after the record went
        assert files_under(download_root) == []
    finally:
        media.release_item("clip-one")
        stop.set()
        await asyncio.wait_for(worker, 30.0)


async def _row(app: MediaNestApp) -> YoutubeDownload | None:
    async with session_scope(app.ctx.session_factory) as session:
        row: YoutubeDownload | None = await session.scalar(select(YoutubeDownload))
    return row


def _item_state(row: YoutubeDownload | None) -> str | None:
    return row.items[0].state if row is not None and row.items else None


async def _until(app: MediaNestApp, condition: Callable[[YoutubeDownload | None], bool]) -> None:
    deadline = time.monotonic() + 30.0
    row = await _row(app)
    while not condition(row):
        assert time.monotonic() < deadline, f"never reached; last seen {row and row.items}"
        await asyncio.sleep(0.05)
        row = await _row(app)


async def _until_true(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30.0
    while not condition():
        assert time.monotonic() < deadline, "never reached"
        await asyncio.sleep(0.02)
