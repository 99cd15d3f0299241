"""The weekly byte quota guards each item's size, with the real yt-dlp against the media
server: an item bigger than what is left is stopped (at once when the server says its
length; an HLS recording, whose length nobody says, as soon as its fragments pass it) and
the job waits for the quota; one bigger than the whole weekly quota fails while the rest
of the playlist downloads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.limits.quotas import GB
from medianest.youtube.downloads import archive
from medianest.youtube.models import YoutubeDownload
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube.conftest import files_under
from tests.youtube_extras.conftest import all_finished, wait_for

BOUND = 40.0


async def set_weekly_bytes(admin_client: httpx.AsyncClient, limit: int) -> None:
    response = await admin_client.put(
        "/api/admin/config/youtube", json={"quotas": {"user": {"youtubeGbPerWeek": limit / GB}}}
    )
    assert response.status_code == 200, response.text


def paused_for_quota(rows: list[YoutubeDownload]) -> bool:
    """Paused for the quota, or ended (which it must not)."""
    if not rows:
        return False
    ended = rows[0].status in ("completed", "failed", "cancelled")
    return ended or (rows[0].status == "queued" and rows[0].pause_reason == "QUOTA")


async def paused_after_submitting(
    app: MediaNestApp, admin_client: httpx.AsyncClient, user: User, url: str, *, used: int
) -> YoutubeDownload:
    """`user` with `used` of a 100 kB weekly quota spent submits `url`; its download once
    paused for the quota (or ended, which the callers hold it must not)."""
    await set_weekly_bytes(admin_client, 100_000)
    async with session_scope(app.ctx.session_factory) as session:
        await archive.record(
            session, user_id=user.id, video_key="earlier", download_id=None, size=used
        )
    async with await signed_in_client(app, user) as client:
        response = await client.post("/api/youtube/download", json={"url": url})
        assert response.status_code == 201, response.text
        rows = await asyncio.wait_for(
            wait_for(app, paused_for_quota, user_id=user.id, timeout=BOUND), BOUND + 5
        )
    return rows[0]


async def test_an_item_bigger_than_the_quota_left_is_not_downloaded_and_the_job_waits(
    worker_app: MediaNestApp,
    admin_client: httpx.AsyncClient,
    alice: User,
    media: MediaServerSimulator,
    download_root: Path,
) -> None:
    first_clip = media.items["clip-one"].clip.stat().st_size
    assert first_clip > 10_000 * 1.1
    # 10 kB left
    job = await paused_after_submitting(
        worker_app, admin_client, alice, media.feed_url(), used=90_000
    )

    assert job.status == "queued" and job.pause_reason == "QUOTA", (job.status, job.error)
    assert "“Clip One”" in (job.error or "") and "left of your weekly quota" in (job.error or "")
    assert [i.state for i in job.items] == ["pending"] * 3
    assert files_under(download_root / str(alice.id)) == []  # nothing kept, not even a part


async def test_an_hls_recording_is_stopped_once_its_fragments_pass_the_quota_left(
    worker_app: MediaNestApp,
    admin_client: httpx.AsyncClient,
    alice: User,
    media: MediaServerSimulator,
    download_root: Path,
) -> None:
    media.add_feed("rec", "Recordings", [])
    media.add_live_item("Last Night", slug="last-night", feed="rec")
    media.end_live_item("last-night")
    recording = sum(p.stat().st_size for p in media.live.segments)
    assert recording > 60_000
    # 40 kB left
    job = await paused_after_submitting(
        worker_app, admin_client, alice, media.feed_url("rec"), used=60_000
    )

    assert job.status == "queued" and job.pause_reason == "QUOTA", (job.status, job.error)
    assert "“Last Night” (over " in (job.error or "")
    fetched = sum(1 for r in media.requests() if r.path.endswith(".ts"))
    assert 0 < fetched < len(media.live.segments)  # stopped midway, not fetched whole
    # Not a file with holes: yt-dlp's own `max_filesize` would skip each bigger fragment.
    assert files_under(download_root / str(alice.id)) == []


async def test_an_item_bigger_than_the_whole_weekly_quota_fails_and_the_rest_downloads(
    worker_app: MediaNestApp,
    admin_client: httpx.AsyncClient,
    alice: User,
    media: MediaServerSimulator,
    download_root: Path,
) -> None:
    big, small = (media.items[s].clip.stat().st_size for s in ("clip-one", "clip-two"))
    assert big > 20_000 > small
    await set_weekly_bytes(admin_client, 20_000)
    media.add_feed("two", "Two Clips", ["clip-one", "clip-two"])
    async with await signed_in_client(worker_app, alice) as client:
        url = media.feed_url("two")
        response = await client.post("/api/youtube/download", json={"url": url})
        assert response.status_code == 201, response.text
        rows = await asyncio.wait_for(
            wait_for(worker_app, all_finished(1), user_id=alice.id, timeout=BOUND), BOUND + 5
        )

    job = rows[0]
    assert job.status == "completed", job.error
    assert [(i.title, i.state, i.error_kind) for i in job.items] == [
        ("Clip One", "failed", "too_large"),
        ("Clip Two", "completed", None),
    ]
    assert "than your whole weekly quota (19.5 kB)" in (job.items[0].error or "")
    assert [p.name for p in files_under(download_root / str(alice.id))] == ["002 - Clip Two.mp4"]
