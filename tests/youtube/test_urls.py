"""The URL allow-list: the SSRF guard in front of yt-dlp."""

from __future__ import annotations

import httpx
import pytest

from medianest.core.errors import ValidationFailed
from medianest.youtube.downloads.urls import validate_download_url
from medianest_simulators.media_server import MediaServerSimulator

EXTRA = ["media.local:8080"]

BAD_URLS = [
    ("https://vimeo.com/123456", "only YouTube links"),
    ("https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ", "only YouTube links"),
    ("https://evil.example/?u=https://youtube.com/watch?v=dQw4w9WgXcQ", "only YouTube links"),
    ("https://notyoutube.com/watch?v=dQw4w9WgXcQ", "only YouTube links"),
    ("http://www.youtube.com/watch?v=dQw4w9WgXcQ", "https"),
    ("ftp://youtube.com/watch?v=dQw4w9WgXcQ", "https"),
    ("file:///etc/passwd", "https"),
    ("javascript:alert(1)", "https"),
    ("https://user:pw@www.youtube.com/watch?v=dQw4w9WgXcQ", "credentials"),
    ("https://www.youtube.com@evil.example/watch?v=dQw4w9WgXcQ", "credentials"),
    ("https://127.0.0.1/watch?v=dQw4w9WgXcQ", "IP addresses"),
    ("https://[::1]/watch?v=dQw4w9WgXcQ", "IP addresses"),
    ("https://169.254.169.254/latest/meta-data/", "IP addresses"),
    ("http://localhost:8000/api/health", "only YouTube links"),
    ("https://www.youtube.com:8443/watch?v=dQw4w9WgXcQ", "port"),
    ("https://www.youtube.com/watch?v=short", "video id"),
    ("https://www.youtube.com/channel/UC123", "playlist and video links"),
    ("https://www.youtube.com/playlist?list=", "list= id"),
    ("https://youtu.be/", "video id"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ\nHost: evil", "control characters"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ\\@evil.example", "backslashes"),
    ("http://media.local:9999/feed.xml", "only YouTube links"),  # extra host, other port
    ("https://" + "a" * 2100 + ".youtube.com/", "longer than"),
    ("not a url", "control characters"),
    ("", "empty"),
]

GOOD_URLS = [
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("https://youtube.com/watch?v=dQw4w9WgXcQ&t=42", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("https://m.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("https://youtu.be/dQw4w9WgXcQ?si=abc", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    (
        "https://www.youtube.com/playlist?list=PLabcdefghijklmnop",
        "https://www.youtube.com/playlist?list=PLabcdefghijklmnop",
    ),
    (
        "https://music.youtube.com/playlist?list=OLAK5uy_abc",
        "https://www.youtube.com/playlist?list=OLAK5uy_abc",
    ),
    ("HTTPS://WWW.YOUTUBE.COM./watch?v=dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("http://media.local:8080/feeds/x.xml", "http://media.local:8080/feeds/x.xml"),
]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_links_outside_the_allow_list_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_download_url(url, extra_hosts=EXTRA)
    assert reason in refused.value.message


@pytest.mark.parametrize(("url", "normalized"), GOOD_URLS)
def test_youtube_links_and_listed_hosts_are_accepted_and_normalized(
    url: str, normalized: str
) -> None:
    assert validate_download_url(url, extra_hosts=EXTRA).url == normalized


def test_youtube_links_run_only_youtube_extractors_and_extra_hosts_only_the_generic_one() -> None:
    youtube = validate_download_url("https://youtu.be/dQw4w9WgXcQ", extra_hosts=EXTRA)
    assert all(e.startswith("youtube") for e in youtube.extractors)
    extra = validate_download_url("http://media.local:8080/f.xml", extra_hosts=EXTRA)
    assert extra.extractors == ("generic",)


async def test_the_api_refuses_other_hosts_with_400_and_fetches_nothing(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    other_port = media.url.rsplit(":", 1)[0] + ":1/feed.xml"
    for url in ("https://vimeo.com/1", "http://127.0.0.1:9/feed.xml", other_port):
        response = await alice_client.post("/api/youtube/download", json={"url": url})
        assert response.status_code == 400, url
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["message"].startswith("This URL cannot be downloaded")
        assert error["details"]["field"] == "url"
    assert (await alice_client.get("/api/youtube/downloads")).json()["data"] == []
