"""Media host simulator: RSS feeds and clips that the real yt-dlp reads and downloads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
import yt_dlp

from medianest_simulators import MediaServerSimulator


def ydl(**options: object) -> yt_dlp.YoutubeDL:
    return yt_dlp.YoutubeDL(
        {"quiet": True, "no_warnings": True, "noprogress": True, "ignoreerrors": True} | options
    )


def test_the_feed_is_rss_with_enclosures(media: MediaServerSimulator, http: httpx.Client) -> None:
    answer = http.get(media.feed_url())
    assert answer.headers["content-type"].startswith("application/rss+xml")
    channel = ET.fromstring(answer.content).find("channel")
    assert channel is not None and channel.findtext("title") == "Loopback Test Channel"
    enclosures = [item.find("enclosure") for item in channel.findall("item")]
    assert len(enclosures) == 3
    assert all(e is not None and e.get("type") == "video/mp4" for e in enclosures)


def test_media_is_served_with_length_and_ranges(
    media: MediaServerSimulator, http: httpx.Client
) -> None:
    full = http.get(media.item_url("clip-one"))
    assert full.status_code == 200
    assert int(full.headers["content-length"]) == len(full.content) > 1000
    assert full.content[4:8] == b"ftyp"
    part = http.get(media.item_url("clip-one"), headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == full.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(full.content)}"
    head = http.head(media.item_url("clip-one"))
    assert head.headers["content-length"] == str(len(full.content))


@pytest.mark.parametrize("status", [404, 403, 429])
def test_an_item_can_be_made_to_fail(
    media: MediaServerSimulator, http: httpx.Client, status: int
) -> None:
    http.post(media.url + "/__sim/items/clip-two/status", json={"status": status})
    assert http.get(media.item_url("clip-two")).status_code == status
    media.set_item_status("clip-two", None)
    assert http.get(media.item_url("clip-two")).status_code == 200


def test_yt_dlp_reads_the_feed_as_a_playlist(media: MediaServerSimulator) -> None:
    media.add_item("Clip Four")
    media.set_feed_title("My Channel")
    with ydl() as client:
        info = client.extract_info(media.feed_url(), download=False)
    assert info["_type"] == "playlist"
    assert info["title"] == "My Channel"
    entries = list(info["entries"])
    assert [e["id"] for e in entries] == ["clip-one", "clip-two", "clip-three", "clip-four"]
    assert [e["title"] for e in entries][:2] == ["Clip One", "Clip Two"]


def test_a_failing_item_is_skipped_by_yt_dlp_with_ignoreerrors(
    media: MediaServerSimulator,
) -> None:
    media.set_item_status("clip-three", 404)
    with ydl() as client:
        info = client.extract_info(media.feed_url(), download=False)
    assert [e["id"] if e else None for e in info["entries"]] == ["clip-one", "clip-two", None]


def test_yt_dlp_downloads_a_throttled_item_with_progress(
    media: MediaServerSimulator, tmp_path: Path
) -> None:
    media.set_throttle(40_000)
    updates: list[dict] = []
    template = str(tmp_path / "%(playlist_title)s" / "%(title)s.%(ext)s")
    with ydl(
        outtmpl=template, progress_hooks=[updates.append], ignoreerrors=False, playlist_items="2"
    ) as client:
        client.extract_info(media.feed_url(), download=True)
    files = list(tmp_path.rglob("*.mp4"))
    assert [f.name for f in files] == ["Clip Two.mp4"]
    assert files[0].parent.name == "Loopback Test Channel"
    assert files[0].stat().st_size == media.items["clip-two"].clip.stat().st_size
    assert sum(1 for u in updates if u["status"] == "downloading") >= 3
    assert updates[-1]["status"] == "finished"


def test_a_throttled_download_can_be_cancelled(media: MediaServerSimulator, tmp_path: Path) -> None:
    media.set_throttle(10_000)

    def cancel(update: dict) -> None:
        if update["status"] == "downloading" and (update.get("downloaded_bytes") or 0) > 2000:
            raise yt_dlp.utils.DownloadCancelled("stop")

    with (
        ydl(
            outtmpl=str(tmp_path / "%(title)s.%(ext)s"), progress_hooks=[cancel], ignoreerrors=False
        ) as client,
        pytest.raises(yt_dlp.utils.DownloadCancelled),
    ):
        client.extract_info(media.item_url("clip-one"), download=True)
    assert not (tmp_path / "clip-one.mp4").exists()


def test_items_and_feeds_are_added_over_http(
    media: MediaServerSimulator, http: httpx.Client
) -> None:
    http.post(media.url + "/__sim/feeds/other", json={"title": "Other", "items": []})
    added = http.post(media.url + "/__sim/items", json={"title": "Extra Clip", "feed": "other"})
    assert added.status_code == 201
    feed = ET.fromstring(http.get(media.feed_url("other")).content)
    assert [i.findtext("title") for i in feed.iter("item")] == ["Extra Clip"]
    assert http.get(added.json()["url"]).status_code == 200
