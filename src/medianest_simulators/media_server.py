"""A loopback media host for yt-dlp tests: small real MP4 clips (made once with ffmpeg and
cached) and RSS feeds whose <enclosure> items yt-dlp's generic extractor reads as a playlist.

Items can be made to fail (404/403/429) and downloads throttled, so progress hooks fire
several times and cancellation can be tested. A feed can also list an HLS live stream
(`media_live.py`) that is on the air until the test ends it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import Simulator, ok, read_json
from medianest_simulators.media_changed import DASH_TYPE, ChangedPages
from medianest_simulators.media_live import HLS_TYPE, LiveStreams
from medianest_simulators.media_session import (
    CookieChange,
    HostCookies,
    SessionCookie,
    with_cookies,
)

CLIP_SOURCES = ("testsrc", "smptebars", "rgbtestsrc")
CACHE_ENV = "MEDIANEST_SIM_MEDIA_CACHE"
_generate_lock = threading.Lock()
QUIET = ("-hide_banner", "-loglevel", "error", "-y")
VIDEO = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
AUDIO = ("-c:a", "aac", "-b:a", "32k", "-shortest", "-movflags", "+faststart")
RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)$")


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "medianest-sim-media-v1")


def ensure_clips(cache_dir: Path | None = None) -> list[Path]:
    """The clip files (2 s, 160x120, 10 fps, H.264 + AAC), generated on first use."""
    cache = cache_dir or default_cache_dir()
    clips = [cache / f"clip-{n}.mp4" for n in range(len(CLIP_SOURCES))]
    with _generate_lock:
        missing = [(n, p) for n, p in enumerate(clips) if not p.is_file()]
        if not missing:
            return clips
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is needed to generate the media simulator's clips")
        cache.mkdir(parents=True, exist_ok=True)
        for n, path in missing:
            partial = path.with_name(f".{path.name}.{os.getpid()}.mp4")
            source = ("-f", "lavfi", "-i", f"{CLIP_SOURCES[n]}=duration=2:size=160x120:rate=10")
            tone = ("-f", "lavfi", "-i", f"sine=frequency={440 + 110 * n}:duration=2")
            subprocess.run(
                [ffmpeg, *QUIET, *source, *tone, *VIDEO, *AUDIO, str(partial)],
                check=True,
                capture_output=True,
                timeout=60,
            )
            partial.replace(path)  # atomic: parallel test processes never see half a file
    return clips


@dataclass
class MediaItem:
    slug: str
    title: str
    clip: Path
    description: str = ""
    status: int | None = None  # forced error answer (404, 403, 429...) or None
    held: threading.Event | None = None  # set: the answer goes out (a slow host)
    waited: int = 0  # requests that reached a hold (the download is in its item's run)


@dataclass
class Feed:
    title: str
    slugs: list[str]


class MediaServerSimulator(Simulator):
    """Serves `/feed.xml`, `/feeds/{name}.xml` and `/media/{slug}.mp4` (Range supported)."""

    name = "media"

    def __init__(self, *, port: int = 0, cache_dir: Path | None = None) -> None:
        self.clips = ensure_clips(cache_dir)
        self.live = LiveStreams(self.clips, cache_dir or default_cache_dir())
        self.items: dict[str, MediaItem] = {}
        self.feeds: dict[str, Feed] = {}
        self.bytes_per_second: int | None = None
        self.changed = ChangedPages()  # pages yt-dlp can no longer read
        self.cookies = HostCookies()
        super().__init__(port=port)

    def reset_state(self) -> None:
        for item in self.items.values():  # no request waits on a gate nobody can open
            if item.held is not None:
                item.held.set()
        self.items = {}
        self.feeds = {"default": Feed("Loopback Test Channel", [])}
        self.bytes_per_second = None
        self.changed.reset()
        self.cookies = HostCookies()
        self.live.reset()
        for title in ("Clip One", "Clip Two", "Clip Three"):
            self.add_item(title)

    # --- control (in-process) -----------------------------------------------------------
    def add_item(
        self,
        title: str,
        *,
        slug: str | None = None,
        clip: int | None = None,
        feed: str | None = "default",
        description: str = "",
    ) -> str:
        """Add a video (one of the clips) and list it in `feed`; returns its slug."""
        with self.lock:
            slug = slug or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "item"
            index = len(self.items) if clip is None else clip
            self.items[slug] = MediaItem(
                slug,
                title,
                self.clips[index % len(self.clips)],
                description or f"{title}, a generated test clip.",
            )
            if feed is not None:
                self.feeds.setdefault(feed, Feed(feed, []))
                if slug not in self.feeds[feed].slugs:
                    self.feeds[feed].slugs.append(slug)
            return slug

    def add_live_item(self, title: str, *, slug: str, feed: str | None = "default") -> str:
        """Put an HLS live stream on the air and list it in `feed` (an RSS item whose
        enclosure is its playlist); `end_live_item` ends it. Returns its slug."""
        self.live.add(slug, title)
        with self.lock:
            if feed is not None:
                self.feeds.setdefault(feed, Feed(feed, []))
                self.feeds[feed].slugs.append(slug)
        return slug

    def add_changed_item(self, title: str, *, slug: str, feed: str | None = "default") -> str:
        """List an item whose page changed format under this yt-dlp (media_changed.py):
        its extractor fails and says it may be out of date. Returns its slug."""
        self.changed.add(slug, title)
        with self.lock:
            if feed is not None:
                self.feeds.setdefault(feed, Feed(feed, []))
                self.feeds[feed].slugs.append(slug)
        return slug

    def changed_item_url(self, slug: str) -> str:
        return self.url + ChangedPages.path(slug)

    def end_live_item(self, slug: str) -> None:
        """The stream is over: its playlist now lists the whole recording and ends."""
        self.live.end(slug)

    def add_feed(self, name: str, title: str, slugs: list[str] | None = None) -> None:
        with self.lock:
            self.feeds[name] = Feed(title, list(slugs or []))

    def set_feed_title(self, title: str, feed: str = "default") -> None:
        with self.lock:
            self.feeds[feed].title = title

    def set_item_status(self, slug: str, status: int | None) -> None:
        """Make an item's media answer `status` (404, 403, 429, ...); None restores it."""
        with self.lock:
            self.items[slug].status = status

    def hold_item(self, slug: str) -> None:
        """Keep requests for an item's media waiting (a host slow to answer) until
        `release_item`."""
        with self.lock:
            self.items[slug].held = threading.Event()

    def held_requests(self, slug: str) -> int:
        """How many requests for the item's media have reached its hold so far."""
        with self.lock:
            return self.items[slug].waited

    def release_item(self, slug: str) -> None:
        with self.lock:
            gate, self.items[slug].held = self.items[slug].held, None
        if gate is not None:
            gate.set()

    def set_throttle(self, bytes_per_second: int | None) -> None:
        """Send media at about this rate (None: as fast as possible)."""
        with self.lock:
            self.bytes_per_second = bytes_per_second

    def require_cookie(
        self, name: str, value: str, *, rotate: bool = False, feeds: bool = False
    ) -> None:
        """Refuse media (and with `feeds`, feed) requests without the cookie `name=value`
        (403); see `media_session.SessionCookie`."""
        with self.lock:
            self.cookies.session = SessionCookie(name, value, rotate, feeds)

    @property
    def session_cookie(self) -> SessionCookie | None:
        return self.cookies.session

    def change_cookie(self, change: CookieChange) -> None:
        """Renew or delete a cookie in the answers to `change.on` (a path such as
        `/feeds/x.xml`), as `media_session.CookieChange` says."""
        with self.lock:
            self.cookies.changes.append(change)

    def _cookie_answer(self, request: Request, *, feed: bool) -> tuple[Response | None, list[str]]:
        with self.lock:
            cookie_header = request.headers.get("cookie", "")
            return self.cookies.answer(request.url.path, cookie_header, feed=feed)

    def feed_url(self, feed: str = "default") -> str:
        return f"{self.url}/feed.xml" if feed == "default" else f"{self.url}/feeds/{feed}.xml"

    def item_url(self, slug: str) -> str:
        return f"{self.url}/media/{slug}.mp4"

    # --- HTTP API -----------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/feed.xml", self._feed, methods=["GET", "HEAD"]),
            Route("/feeds/{name}.xml", self._feed, methods=["GET", "HEAD"]),
            Route("/media/{slug}.mp4", self._media, methods=["GET", "HEAD"]),
            *self.changed.routes(),
            *self.live.routes(),
        ]

    async def _feed(self, request: Request) -> Response:
        refused, set_cookies = self._cookie_answer(request, feed=True)
        if refused is not None:
            return refused
        name = request.path_params.get("name", "default")
        base = str(request.base_url).rstrip("/")
        with self.lock:
            feed = self.feeds.get(name)
            if feed is None:
                return Response("Not Found", status_code=404, media_type="text/plain")
            listed = [(s, self.items.get(s)) for s in feed.slugs]
            title = feed.title
        with self.live.lock:
            live = {s: stream.title for s, stream in self.live.streams.items()}
        changed = self.changed.listed()
        entries = []
        for n, (slug, item) in enumerate(listed):
            if item is not None:
                url, kind, size = f"{base}/media/{slug}.mp4", "video/mp4", item.clip.stat().st_size
                name, description = item.title, item.description
            elif slug in changed:
                url, kind, size = base + ChangedPages.path(slug), DASH_TYPE, 0
                name, description = changed[slug], f"{changed[slug]}, in a changed format."
            elif slug in live:  # a live stream: its length is not known yet
                url, kind, size = f"{base}/live/{slug}.m3u8", HLS_TYPE, 0
                name, description = live[slug], f"{live[slug]}, a live stream."
            else:
                continue
            entries.append(
                "<item>"
                f"<title>{escape(name)}</title>"
                f'<guid isPermaLink="false">{escape(slug)}</guid>'
                f"<description>{escape(description)}</description>"
                f"<pubDate>{formatdate(1_700_000_000 + n * 86_400, usegmt=True)}</pubDate>"
                f'<enclosure url={quoteattr(url)} length="{size}" type="{kind}"/>'
                + ("<itunes:duration>2</itunes:duration>" if item is not None else "")
                + "</item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
            f"<channel><title>{escape(title)}</title><link>{escape(base)}/</link>"
            f"<description>{escape(title)} (simulated)</description>"
            + "".join(entries)
            + "</channel></rss>\n"
        )
        return with_cookies(
            Response(body, media_type="application/rss+xml; charset=utf-8"), set_cookies
        )

    async def _media(self, request: Request) -> Response:
        with self.lock:
            item = self.items.get(request.path_params["slug"])
            rate = self.bytes_per_second
        if item is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        gate = item.held  # a threading.Event: opened from the test's thread, not this loop
        if gate is not None:
            with self.lock:
                item.waited += 1
        while gate is not None and not gate.is_set() and not self._stopping.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        refused, set_cookies = self._cookie_answer(request, feed=False)
        if refused is not None:
            return refused
        if item.status is not None:
            headers = {"Retry-After": "1"} if item.status == 429 else {}
            return Response(
                f"HTTP {item.status}",
                status_code=item.status,
                media_type="text/plain",
                headers=headers,
            )
        data = item.clip.read_bytes()
        size, start, end, status = len(data), 0, len(data) - 1, 200
        headers = {"Accept-Ranges": "bytes", "Content-Type": "video/mp4"}
        match = RANGE_RE.match(request.headers.get("Range", "").strip())
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:
                start = max(size - int(match.group(2)), 0)
            if start >= size or start > end:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        body = data[start : end + 1]
        headers["Content-Length"] = str(len(body))
        if request.method == "HEAD" or rate is None:
            response = Response(b"" if request.method == "HEAD" else body, status, headers)
        else:
            response = StreamingResponse(self._throttled(body, rate), status, headers)
        return with_cookies(response, set_cookies)

    async def _throttled(self, body: bytes, rate: int) -> AsyncIterator[bytes]:
        chunk = max(256, rate // 10)
        for offset in range(0, len(body), chunk):
            if self._stopping.is_set():
                return
            yield body[offset : offset + chunk]
            await asyncio.sleep(chunk / rate)

    # --- control (HTTP) ------------------------------------------------------------------
    def control_routes(self) -> list[BaseRoute]:
        return [
            Route("/__sim/items", self._http_add_item, methods=["POST"]),
            Route("/__sim/items/{slug}/status", self._http_item_status, methods=["POST"]),
            Route("/__sim/throttle", self._http_throttle, methods=["POST"]),
            Route("/__sim/feeds/{name}", self._http_feed, methods=["POST"]),
        ]

    async def _http_add_item(self, request: Request) -> Response:
        body = await read_json(request)
        if not body.get("title"):
            return ok({"message": "title is required"}, status=400)
        slug = self.add_item(
            str(body["title"]),
            slug=body.get("slug"),
            clip=body.get("clip"),
            feed=body.get("feed", "default"),
        )
        return ok(
            {"slug": slug, "url": f"{str(request.base_url).rstrip('/')}/media/{slug}.mp4"},
            status=201,
        )

    async def _http_item_status(self, request: Request) -> Response:
        body = await read_json(request)
        slug = request.path_params["slug"]
        if slug not in self.items:
            return ok({"message": "unknown item"}, status=404)
        status = body.get("status")
        self.set_item_status(slug, int(status) if status is not None else None)
        return ok()

    async def _http_throttle(self, request: Request) -> Response:
        body = await read_json(request)
        rate = body.get("bytesPerSecond")
        self.set_throttle(int(rate) if rate else None)
        return ok()

    async def _http_feed(self, request: Request) -> Response:
        body = await read_json(request)
        name = request.path_params["name"]
        if name in self.feeds and "items" not in body:
            self.set_feed_title(str(body.get("title") or name), name)
        else:
            self.add_feed(name, str(body.get("title") or name), body.get("items"))
        return ok()
