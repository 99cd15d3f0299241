"""yt-dlp fetches only allow-listed URLs, and file names carry no bidi tricks.

The attack: the URL allow-list checked only the submitted link, so an allowed host's
feed could list items on any other host, or redirect to one, and yt-dlp fetched them
(SSRF into the LAN). Here an allowed host (listed in MEDIANEST_YOUTUBE_EXTRA_HOSTS)
serves a feed whose items point at a host that is not allowed, directly and through a
redirect; that host is a listener that must see no connection at all. The real yt-dlp
runs in the app's in-process worker.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.settings import Settings
from medianest.youtube.downloads.files import safe_name
from medianest.youtube.downloads.urls import fetch_refusal
from medianest_simulators.media_server import ensure_clips
from tests.factories.users import signed_in_client
from tests.support.listener import Listener
from tests.support.servers import ServedApp
from tests.youtube.conftest import files_under, finished, wait_for_download

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


class HostileHost:
    """An allowed host whose feed lists items elsewhere: `forbidden` directly, through
    its own redirect, and one honest item of its own (a real clip)."""

    def __init__(self, forbidden: str, *, item_title: str = "Honest clip") -> None:
        self.forbidden = forbidden
        self.item_title = item_title
        self.clip = ensure_clips()[0]
        self.served = ServedApp(
            Starlette(
                routes=[
                    Route("/feed.xml", self._feed),
                    Route("/clip.mp4", self._clip),
                    Route("/hop.mp4", self._hop),
                    Route("/away.xml", self._away),
                ]
            )
        )
        self.netloc = urlsplit(self.served.url).netloc

    async def _feed(self, request: Request) -> Response:
        base = self.served.url
        items = [
            ("Elsewhere", f"{self.forbidden}/lan-admin.mp4"),
            ("Redirected", f"{base}/hop.mp4"),
            (self.item_title, f"{base}/clip.mp4"),
        ]
        entries = "".join(
            f"<item><title>{escape(title)}</title><guid>{n}</guid>"
            f'<enclosure url={quoteattr(url)} length="1000" type="video/mp4"/></item>'
            for n, (title, url) in enumerate(items)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>Hostile \u202efeed</title><link>{base}/</link>{entries}</channel></rss>"
        )
        return Response(body, media_type="application/rss+xml")

    async def _clip(self, request: Request) -> Response:
        return FileResponse(self.clip, media_type="video/mp4")

    async def _hop(self, request: Request) -> Response:
        return RedirectResponse(f"{self.forbidden}/redirected.mp4", status_code=302)

    async def _away(self, request: Request) -> Response:
        return RedirectResponse(f"{self.forbidden}/feed.xml", status_code=301)


@pytest.fixture
async def forbidden() -> Any:
    listener = Listener()
    await listener.start()
    yield listener
    await listener.stop()


@pytest.fixture
def hostile(forbidden: Listener) -> Iterator[HostileHost]:
    host = HostileHost(forbidden.url, item_title="clip\u202egpj.exe \u2066x\u2069")
    with host.served:
        yield host


@pytest.fixture
async def worker(
    app_factory: Callable[[Settings], Any],
    make_settings: Callable[..., Settings],
    hostile: HostileHost,
    tmp_path: Path,
) -> MediaNestApp:
    settings = make_settings(
        youtube_extra_hosts=hostile.netloc,  # the hostile host is allowed; its targets are not
        download_root=tmp_path / "downloads",
        download_min_free_bytes=0,
        run_worker_in_process=True,
        worker_poll_seconds=0.5,
        worker_heartbeat_seconds=0.5,
        download_retry_base_seconds=0.0,
        http_retry_attempts=1,
        rate_limit_api_per_minute=100_000,
    )
    started: MediaNestApp = await app_factory(settings)
    return started


@pytest.mark.timeout(120)
async def test_feed_items_and_redirects_off_the_allow_list_are_never_fetched(
    worker: MediaNestApp, alice: User, hostile: HostileHost, forbidden: Listener, tmp_path: Path
) -> None:
    async with await signed_in_client(worker, alice) as client:
        submitted = await client.post(
            "/api/youtube/download", json={"url": f"{hostile.served.url}/feed.xml"}
        )
        assert submitted.status_code in (200, 201, 202), submitted.text
        data = await wait_for_download(client, submitted.json()["data"]["id"], finished, timeout=90)

    assert forbidden.connections == 0, bytes(forbidden.received)
    items = {item["title"]: item for item in data["items"]}
    for title in ("Elsewhere", "Redirected"):
        assert items[title]["state"] == "failed"
        assert "not on the allow-list" in items[title]["error"]
    honest = [item for title, item in items.items() if title.startswith("clip")]
    assert honest[0]["state"] == "completed", data

    # The honest item's file name and its folder carry no bidi control.
    written = files_under(tmp_path / "downloads")
    assert len(written) == 1
    relative = written[0].relative_to(tmp_path / "downloads")
    assert not set(str(relative)) & set(BIDI_CONTROLS)
    assert "clipgpj.exe x" in written[0].name


@pytest.mark.timeout(120)
async def test_a_submitted_link_that_redirects_off_the_allow_list_is_not_followed(
    worker: MediaNestApp, alice: User, hostile: HostileHost, forbidden: Listener
) -> None:
    async with await signed_in_client(worker, alice) as client:
        submitted = await client.post(
            "/api/youtube/download", json={"url": f"{hostile.served.url}/away.xml"}
        )
        data = await wait_for_download(client, submitted.json()["data"]["id"], finished, timeout=90)
    assert data["status"] == "failed"
    assert "not on the allow-list" in (data.get("error") or ""), data
    assert forbidden.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://10.0.0.5/admin",
        "https://192.168.1.1/",
        "http://www.youtube.com/watch?v=aaaaaaaaaaa",  # YouTube, but not over https
        "https://www.youtube.com:8443/",
        "https://evil.example/youtube.com",
        "https://youtube.com.evil.example/",
        "https://user:pw@www.youtube.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
        "ftp://ftp.example/",
    ],
)
def test_the_fetch_allow_list_refuses_hosts_youtube_does_not_serve_from(url: str) -> None:
    assert fetch_refusal(url, extra_hosts=("media.lan:8080",)) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=aaaaaaaaaaa",
        "https://rr3---sn-abc.googlevideo.com/videoplayback?x=1",
        "https://i.ytimg.com/vi/x/hq.jpg",
        "http://media.lan:8080/feed.xml",
    ],
)
def test_the_fetch_allow_list_lets_youtube_media_and_listed_hosts_through(url: str) -> None:
    assert fetch_refusal(url, extra_hosts=("media.lan:8080",)) is None


def test_file_names_lose_every_bidi_control_and_keep_joiners() -> None:
    for control in BIDI_CONTROLS:
        name = safe_name(f"holiday{control}gpj.exe")
        assert name == "holidaygpj.exe", (control, name)
    assert safe_name("clip\u2028\x85part") == "clip part"  # separators and C1 controls
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert safe_name(f"{family} video") == f"{family} video"
    assert all(unicodedata.category(c) != "Cf" for c in safe_name("a\ufeffb\u200bc\u00ad"))
