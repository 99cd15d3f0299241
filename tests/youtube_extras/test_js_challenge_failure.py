"""An item YouTube serves only once its JavaScript challenge is solved, on a server where
yt-dlp cannot solve it: yt-dlp warns "n challenge solving failed: Some formats may be
missing" (yt_dlp/extractor/youtube/_video.py) and then fails with what followed, a 403
from the media host or "Requested format is not available". That item fails saying so in
plain words (not "the site refused the download"), the rest of the playlist downloads,
and the queue breaker does not open: the site is not pushing back, the server lacks a
runtime.

The loopback media server stands in for YouTube (yt-dlp's generic extractor reads it); for
the one item, the extractor says yt-dlp's own warning, read from yt-dlp's source, before
the 403, as YouTube's extractor does."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import yt_dlp.extractor.generic
import yt_dlp.extractor.youtube._video

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.youtube.models import YoutubeDownload
from medianest.youtube.ytdlp.downloader import classify_error
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import wait_for

SOURCE = inspect.getsource(yt_dlp.extractor.youtube._video)


def _yt_dlps_warning() -> str:
    """The n-challenge warning as yt-dlp words it (its f-string, the help text filled in)."""
    found = re.search(r"f'(n challenge solving failed: [^']*)\{help_message\}'", SOURCE)
    assert found is not None, "yt-dlp no longer words the warning this way"
    return found.group(1) + "Ensure you have a supported JavaScript runtime and ..."


@pytest.fixture
def unsolvable(monkeypatch: pytest.MonkeyPatch) -> None:
    real = yt_dlp.extractor.generic.GenericIE._real_extract
    warning = _yt_dlps_warning()

    def extract(self: Any, url: str) -> Any:
        if "challenged" not in url:
            return real(self, url)
        self.report_warning(warning, video_id="challenged", only_once=True)
        raise yt_dlp.utils.ExtractorError(
            "Unable to download video data: HTTP Error 403: Forbidden", expected=True
        )

    monkeypatch.setattr(yt_dlp.extractor.generic.GenericIE, "_real_extract", extract)


async def test_an_item_whose_challenge_went_unsolved_says_so_and_does_not_trip_the_breaker(
    unsolvable: None,
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    media: MediaServerSimulator,
) -> None:
    media.add_item("Challenged Clip", slug="challenged")
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
        rows: list[YoutubeDownload] = await wait_for(
            worker_app,
            lambda r: bool(r) and all(d.status in ("completed", "failed") for d in r),
            user_id=alice.id,
        )
        page = (await client.get("/youtube")).text
    items = rows[0].items
    assert [(i.title, i.state, i.error_kind) for i in items] == [
        ("Clip One", "completed", None),
        ("Clip Two", "completed", None),
        ("Clip Three", "completed", None),
        ("Challenged Clip", "failed", "js_challenge"),
    ]
    assert (items[-1].error or "").startswith(
        "YouTube's JavaScript challenge was not solved (n challenge solving failed: "
    )
    assert "HTTP Error 403" in (items[-1].error or "")  # what followed, kept as the detail
    assert "could not solve YouTube&#39;s JavaScript challenge" in page
    async with await signed_in_client(worker_app, admin) as admin_client:
        system = (await admin_client.get("/api/admin/system")).json()["data"]
    assert system["queueBreaker"]["state"] == "closed"
    assert system["queueBreaker"]["recentErrors"] == 0


def test_each_of_yt_dlps_challenge_warnings_is_recognised() -> None:
    """The three ways yt-dlp says it: unsolved n, unsolved signature, no runtime at all."""
    from medianest.youtube.ytdlp.downloader import _YtDlpLogger

    for said in (
        "n challenge solving failed",
        "Signature solving failed",
        "No supported JavaScript runtime could be found",
    ):
        assert said in SOURCE
        logger = _YtDlpLogger()
        logger.warning("[youtube] abc: Some other warning")
        logger.warning(f"[youtube] abc: {said}: Some formats may be missing. Ensure ...")
        assert logger.challenge is not None and said in logger.challenge
    assert classify_error("ERROR: [youtube] abc: HTTP Error 403: Forbidden") == "http_403"
