"""yt-dlp that fetches only what the allow-list allows, redirects and feed items included.

Checking the submitted link is not enough: a feed's items, a page's embedded media and
any redirect name other URLs, and yt-dlp fetches them itself. Every request it makes
goes through `YoutubeDL.urlopen`, and every redirect through the urllib handler's
`redirect_request`; both are checked here against `urls.fetch_refusal` before a
connection is opened. Only the urllib handler is used (it is the one whose redirects
can be seen one hop at a time), and only native downloaders (an external one such as
ffmpeg would fetch on its own). `external_downloader: native` is not enough for that:
yt-dlp hands a live HLS stream to ffmpeg whatever it says
(`yt_dlp/downloader/__init__.py`, `_get_suitable_downloader`: `if info_dict.get('is_live'):
return FFmpegFD`), so `dl` refuses any downloader that is not native.

Imported only when a download runs: it imports yt-dlp (~25 MB).
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import yt_dlp
from yt_dlp.downloader import get_suitable_downloader
from yt_dlp.downloader.external import ExternalFD
from yt_dlp.networking._urllib import RedirectHandler, UrllibRH
from yt_dlp.networking.exceptions import RequestError

from medianest.core.logging import get_logger
from medianest.youtube.downloads.urls import fetch_refusal

log = get_logger(__name__)


class FetchRefused(RequestError):  # type: ignore[misc]  # yt-dlp is untyped
    """yt-dlp was about to fetch a URL outside the allow-list; nothing was sent there."""


class _Guard:
    def __init__(self, extra_hosts: tuple[str, ...]) -> None:
        self.extra_hosts = extra_hosts

    def check(self, url: str) -> None:
        reason = fetch_refusal(url, extra_hosts=self.extra_hosts)
        if reason is not None:
            log.warning("ytdlp_fetch_refused", url=url[:300], reason=reason)
            raise FetchRefused(f"refused to fetch {url[:200]}: {reason}")


def _check_redirects(handler: Any, guard: _Guard | None) -> None:
    """Wrap the opener's redirect handler: each new location is checked before it is
    requested (the opener holds this instance, so its own method is replaced)."""
    follow = handler.redirect_request

    def checked_redirect(req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if guard is None:
            raise FetchRefused("no allow-list is set for this download")
        guard.check(newurl)
        return follow(req, fp, code, msg, headers, newurl)

    handler.redirect_request = checked_redirect


class _GuardedUrllibRH(UrllibRH):  # type: ignore[misc]  # yt-dlp is untyped
    """yt-dlp's urllib handler whose redirects are checked before they are followed."""

    RH_NAME = "urllib-guarded"
    guard: _Guard | None = None

    def _create_instance(self, *args: Any, **kwargs: Any) -> urllib.request.OpenerDirector:
        opener: urllib.request.OpenerDirector = super()._create_instance(*args, **kwargs)
        for handler in getattr(opener, "handlers", []):
            if isinstance(handler, RedirectHandler):
                _check_redirects(handler, self.guard)
        return opener


class GuardedYoutubeDL(yt_dlp.YoutubeDL):  # type: ignore[misc]  # yt-dlp is untyped
    """`yt_dlp.YoutubeDL` that refuses, before connecting, any URL off the allow-list."""

    def __init__(self, params: dict[str, Any], *, extra_hosts: tuple[str, ...] | list[str]) -> None:
        self._fetch_guard = _Guard(tuple(extra_hosts))
        super().__init__(
            {
                **params,
                # A native downloader for every protocol: an external one (ffmpeg, aria2c)
                # would fetch URLs itself, past this guard.
                "external_downloader": {"default": "native"},
            }
        )

    def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
        director = super().build_request_director([_GuardedUrllibRH], preferences)
        for handler in director.handlers.values():
            handler.guard = self._fetch_guard
        return director

    def dl(
        self, name: str, info: dict[str, Any], subtitle: bool = False, test: bool = False
    ) -> Any:
        """yt-dlp's download step, refused (before anything is fetched) when the
        downloader it picks is an external program that would fetch past the guard."""
        chosen = get_suitable_downloader(info, self.params, to_stdout=(name == "-"))
        if isinstance(chosen, type) and issubclass(chosen, ExternalFD):
            program = chosen.__name__.removesuffix("FD").lower()  # FFmpegFD: ffmpeg
            log.warning("ytdlp_external_downloader_refused", downloader=program)
            raise yt_dlp.utils.DownloadError(
                f"refused to let {program} fetch this item (a live stream?)"
            )
        return super().dl(name, info, subtitle, test)

    def urlopen(self, req: Any) -> Any:
        url = req if isinstance(req, str) else getattr(req, "url", None)
        if url is None and isinstance(req, urllib.request.Request):
            url = req.full_url
        self._fetch_guard.check(str(url))
        return super().urlopen(req)

    def save_cookies(self) -> None:
        """yt-dlp's save on close (`YoutubeDL.close` -> `save_cookies` ->
        `YoutubeDLCookieJar.save`, which truncates the file and writes it line by line),
        made whole or nothing: written beside the file (0600) and moved over it. A save
        cut short (a full disk) leaves the lent jar as it was, so a cookie missing from
        what comes back is one the site deleted (`cookies/netscape.merge_run`)."""
        target = self.params.get("cookiefile")
        if target is None:
            return
        partial = f"{target}.saving"
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        self.cookiejar.save(partial)
        os.replace(partial, target)
