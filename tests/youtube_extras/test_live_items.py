"""Live streams in a playlist, with the real yt-dlp against the media server's HLS live
stream (a media playlist without #EXT-X-ENDLIST, which yt-dlp's generic extractor reports
as `is_live`): the rest of the playlist downloads in seconds, the live item waits without
a byte of it fetched, and a later run (the job's recheck, or a subscription's next check)
downloads it once the stream has ended."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.youtube.models import YoutubeDownload
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube.conftest import files_under
from tests.youtube_extras.conftest import all_finished, wait_for

CLIPS = ["Clip One", "Clip Two", "Clip Three"]
# A job that records the stream never ends by itself: every wait below is bounded.
BOUND = 40.0


def states(job: YoutubeDownload) -> dict[str, str]:
    return {item.title: item.state for item in job.items}


def segment_requests(media: MediaServerSimulator) -> int:
    return sum(1 for r in media.requests() if r.path.endswith(".ts"))


def waiting_live(rows: list[YoutubeDownload]) -> bool:
    """The live item waits and the job is back in the queue (or it ended, a failure)."""
    if not rows or rows[0].status in ("completed", "failed", "cancelled"):
        return bool(rows)
    return rows[0].pause_reason == "LIVE" and states(rows[0]).get("Live Show") == "waiting"


async def test_a_live_item_waits_while_the_playlist_downloads_and_comes_once_the_stream_ends(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    media.add_live_item("Live Show", slug="live-show")
    started = time.monotonic()
    async with await signed_in_client(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert response.status_code == 201, response.text
        download_id = response.json()["data"]["id"]
        rows = await asyncio.wait_for(
            wait_for(worker_app, waiting_live, user_id=alice.id, timeout=BOUND), BOUND + 5
        )
        took = time.monotonic() - started
        seen = (await client.get(f"/api/youtube/downloads/{download_id}")).json()["data"]
        row = await client.get(f"/youtube/downloads/{download_id}/row")

    job = rows[0]
    assert states(job) == {**dict.fromkeys(CLIPS, "completed"), "Live Show": "waiting"}
    assert took < 20, took  # seconds, not the stream's length
    assert segment_requests(media) == 0  # not a byte of the stream was fetched
    # Not failed: back in the queue to look again, with what it has kept and delivered.
    assert job.status == "queued" and job.pause_reason == "LIVE", (job.status, job.error)
    assert "Live now" in (job.error or "")
    live = next(i for i in seen["items"] if i["title"] == "Live Show")
    assert live["state"] == "waiting" and live["error"] is None
    assert live["note"] == "Live now — downloads once the stream has ended."
    assert seen["waitingItems"] == 1 and seen["failedItems"] == 0
    # The page says so in plain words, not as a failure.
    assert row.status_code == 200 and 'data-field="waiting"' in row.text
    assert "Live now — downloads once the stream has ended." in row.text
    assert 'data-field="failure"' not in row.text
    folder = download_root / str(alice.id) / "Loopback Test Channel"
    assert [p.name for p in files_under(folder)] == [
        "001 - Clip One.mp4",
        "002 - Clip Two.mp4",
        "003 - Clip Three.mp4",
    ]

    media.end_live_item("live-show")
    done = await asyncio.wait_for(
        wait_for(worker_app, all_finished(1), user_id=alice.id, timeout=BOUND), BOUND + 5
    )
    assert done[0].status == "completed", done[0].error
    assert states(done[0]) == {**dict.fromkeys(CLIPS, "completed"), "Live Show": "completed"}
    assert done[0].error is None and done[0].pause_reason is None
    recording = folder / "004 - Live Show.mp4"
    assert recording in files_under(folder) and recording.stat().st_size > 20_000
    assert segment_requests(media) == 6  # the whole recording, once


async def test_a_subscription_completes_with_the_live_item_waiting_and_gets_it_next_check(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    media.add_live_item("Live Show", slug="live-show")
    async with await signed_in_client(worker_app, alice) as client:
        created = await client.post(
            "/api/youtube/subscriptions", json={"url": media.feed_url(), "intervalHours": 24}
        )
        assert created.status_code == 201, created.text
        path = f"/api/youtube/subscriptions/{created.json()['data']['id']}"
        first = await asyncio.wait_for(
            wait_for(worker_app, all_finished(1), user_id=alice.id, timeout=BOUND), BOUND + 5
        )
        # Done (not failed, not active: the subscription's next check is not held back).
        assert first[0].status == "completed", first[0].error
        assert states(first[0]) == {**dict.fromkeys(CLIPS, "completed"), "Live Show": "waiting"}
        assert "Live now" in (first[0].error or "")
        assert segment_requests(media) == 0

        media.end_live_item("live-show")
        assert (await client.post(f"{path}/check")).status_code == 202
        rows = await asyncio.wait_for(
            wait_for(worker_app, all_finished(2), user_id=alice.id, timeout=BOUND), BOUND + 5
        )

    assert rows[1].status == "completed", rows[1].error
    assert states(rows[1]) == {"Live Show": "completed"}  # only what was missing
    folder = download_root / str(alice.id) / "Loopback Test Channel"
    assert "004 - Live Show.mp4" in [p.name for p in files_under(folder)]
