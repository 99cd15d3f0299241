"""What is looked at before an item is fetched, for the states the media server cannot
show: YouTube's words for a premiere or stream that has not begun (the playability reason
yt-dlp's YouTube extractor raises, `yt_dlp/extractor/youtube/_video.py`), and every
`live_status` value yt-dlp documents (`yt_dlp/extractor/common.py`)."""

from __future__ import annotations

import pytest

from medianest.youtube.ytdlp.item_checks import ItemChecks, ItemWaiting, is_upcoming_error


@pytest.mark.parametrize(
    "message",
    [
        "[youtube] abc: Premieres in 5 hours",
        "[youtube] abc: This live event will begin in 3 days.",
        "[youtube] abc: Premiere will begin shortly",
    ],
)
def test_youtubes_not_yet_aired_errors_count_as_upcoming(message: str) -> None:
    assert is_upcoming_error(message)


def test_other_errors_are_not_upcoming() -> None:
    assert not is_upcoming_error("[youtube] abc: Video unavailable")
    assert not is_upcoming_error("HTTP Error 404: Not Found")


@pytest.mark.parametrize("status", ["is_live", "is_upcoming", "post_live"])
def test_live_upcoming_and_still_processed_items_wait(status: str) -> None:
    checks = ItemChecks(None)
    assert checks.match_filter({"live_status": status}, incomplete=False) is not None
    assert isinstance(checks.refused, ItemWaiting) and checks.refused.live_status == status


@pytest.mark.parametrize("status", ["was_live", "not_live", None])
def test_ended_and_ordinary_items_download(status: str | None) -> None:
    checks = ItemChecks(1000)
    assert checks.match_filter({"live_status": status, "filesize": 999}) is None
    assert checks.refused is None
