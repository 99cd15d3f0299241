"""The fetch guard never lets an external program download: yt-dlp hands a live HLS
stream to ffmpeg even with `external_downloader: native`, and ffmpeg fetches the playlist
and segments itself, past the allow-list, recording until the stream ends. Real yt-dlp
against the media server's live stream, without the live check in front of it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yt_dlp

from medianest.youtube.ytdlp.guard import GuardedYoutubeDL
from medianest_simulators.media_server import MediaServerSimulator


def download(url: str, folder: Path, host: str) -> None:
    options = {"quiet": True, "noprogress": True, "outtmpl": str(folder / "live.%(ext)s")}
    with GuardedYoutubeDL(options, extra_hosts=(host,)) as ydl:
        ydl.extract_info(url, download=True)


async def test_a_live_stream_is_not_handed_to_ffmpeg_past_the_guard(
    media: MediaServerSimulator, tmp_path: Path
) -> None:
    media.add_live_item("Live Show", slug="live-show", feed=None)
    url = f"{media.url}/live/live-show.m3u8"
    started = time.monotonic()
    with pytest.raises(yt_dlp.utils.DownloadError, match="refused to let ffmpeg"):
        # Bounded: a recording would go on as long as the stream (here: forever).
        await asyncio.wait_for(
            asyncio.to_thread(download, url, tmp_path, urlsplit(media.url).netloc), 20
        )
    assert time.monotonic() - started < 10
    assert [r.path for r in media.requests() if r.path.endswith(".ts")] == []
    assert list(tmp_path.iterdir()) == []
