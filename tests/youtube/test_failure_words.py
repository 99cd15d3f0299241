"""A failed download is told in plain words; yt-dlp's own text stays as the detail."""

from __future__ import annotations

import pytest

from medianest.youtube.ytdlp.failure_words import describe


@pytest.mark.parametrize(
    ("raw", "summary"),
    [
        (
            "[generic] 127.0.0: Unable to download webpage: HTTP Error 404: Not Found",
            "The link leads nowhere: the page or video was not found.",
        ),
        ("ERROR: [youtube] abc: Private video", "The video is private, removed or not available."),
        (
            "ERROR: [generic] Unsupported URL: http://x",
            "This link is not a video MediaNest can download.",
        ),
        ("ERROR: something nobody foresaw", "The download failed."),
    ],
)
def test_a_tools_message_becomes_a_sentence_and_stays_as_the_detail(raw: str, summary: str) -> None:
    failure = describe(raw)
    assert failure.summary == summary
    assert failure.detail == raw


def test_our_own_plain_messages_are_shown_as_they_are() -> None:
    failure = describe("The download was cancelled.")
    assert failure.summary == "The download was cancelled."
    assert failure.detail is None
