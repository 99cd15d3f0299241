"""yt-dlp as a library: expand a playlist into items, download one item with progress.

Everything here blocks (network, ffmpeg) and is meant to run in a worker thread
(`asyncio.to_thread`), never on the event loop. Progress is written into a
`ProgressState` the async side reads and throttles; cancellation is a
`threading.Event` checked from yt-dlp's progress hook, which is the one place yt-dlp
lets a caller stop a download midway.
"""

from __future__ import annotations

import errno
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from medianest.core.logging import get_logger
from medianest.youtube.downloads.files import (
    NOT_WRITABLE_ERRNOS,
    download_umask,
    restrict_file,
)
from medianest.youtube.ytdlp.challenge_notice import JS_CHALLENGE
from medianest.youtube.ytdlp.cookie_file import CookieLease, private_cookie_file
from medianest.youtube.ytdlp.freshness import OUTDATED, says_it_is_outdated
from medianest.youtube.ytdlp.item_checks import ItemChecks, ItemWaiting, is_upcoming_error
from medianest.youtube.ytdlp.js_solver import ytdlp_params

log = get_logger(__name__)


def _yt_dlp() -> Any:
    """yt-dlp, imported on first use: it adds ~25 MB to a process that may never download."""
    import yt_dlp

    return yt_dlp


def _youtube_dl(options: dict[str, Any], extra_hosts: tuple[str, ...]) -> Any:
    """A YoutubeDL that fetches nothing off the allow-list (see youtube/ytdlp/guard.py);
    imported on first use for the same reason as `_yt_dlp`."""
    from medianest.youtube.ytdlp.guard import GuardedYoutubeDL

    return GuardedYoutubeDL(options, extra_hosts=extra_hosts)


FORMATS = {
    "best": "bv*+ba/b",
    # `<=?` also accepts formats of unknown height (direct links, podcasts).
    "1080p": "bv*[height<=?1080]+ba/b[height<=?1080]",
    "720p": "bv*[height<=?720]+ba/b[height<=?720]",
    "audio": "ba/b",
}
SMUGGLE_MARK = "#__youtubedl_smuggle="
# Not the item's fault: the disk (or the download user's disk quota) is full.
DISK_FULL = "disk_full"
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# Not the item's fault either: the folder refuses the file (permissions, read-only mount).
NOT_WRITABLE = "not_writable"
# OUTDATED (youtube/ytdlp/freshness.py): yt-dlp says one of its extractors broke, the
# site changed under this release. Not the item's fault, and another try gives the same.
# yt-dlp could not solve YouTube's JavaScript challenges (no runtime, or no solver scripts:
# youtube/ytdlp/js_solver.py) and said so in a warning before the error it raised.
# yt-dlp's warnings for it (yt_dlp/extractor/youtube/_video.py: "n challenge solving
# failed", "Signature solving failed", "No supported JavaScript runtime could be found").
_CHALLENGE_WARNING = re.compile(
    r"(n challenge|signature) solving failed|no supported javascript runtime", re.IGNORECASE
)
CHALLENGE_MARK = "YouTube's JavaScript challenge was not solved"


class DownloadStopped(Exception):
    """The user cancelled (or deleted) the download while an item was running."""


class ItemFailed(Exception):
    """yt-dlp could not fetch one item; `kind` classifies the reason for the record."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class PlaylistEntry:
    key: str  # a stable id of the video (YouTube id, or the media URL)
    title: str
    url: str
    live_status: str | None = None  # as the flat playlist says ("is_live", ...), if it does


@dataclass(frozen=True)
class Expanded:
    title: str
    entries: list[PlaylistEntry]
    is_playlist: bool


@dataclass
class ProgressState:
    """Written by yt-dlp's thread, read by the reporter; plain attributes, last write wins."""

    fraction: float = 0.0
    speed: float | None = None
    eta: int | None = None
    downloaded_bytes: int = 0
    changed_at: float = 0.0


class _YtDlpLogger:
    """Route yt-dlp's chatter to our logs at debug level, errors at info; keeps the first
    warning that YouTube's challenges went unsolved (`_explained` adds it to the error)."""

    def __init__(self) -> None:
        self.challenge: str | None = None

    def debug(self, msg: str) -> None:
        if not msg.startswith("[download]"):
            log.debug("ytdlp", message=msg[:300])

    def info(self, msg: str) -> None:
        log.debug("ytdlp", message=msg[:300])

    def warning(self, msg: str) -> None:
        log.debug("ytdlp_warning", message=msg[:300])
        said = _CHALLENGE_WARNING.search(msg)
        if self.challenge is None and said:  # its first sentence, without "[youtube] id:"
            self.challenge = msg[said.start() :].split(". ", 1)[0][:200]

    def error(self, msg: str) -> None:
        log.info("ytdlp_error", message=msg[:300])


def _base_options(extractors: tuple[str, ...], js: dict[str, Any]) -> dict[str, Any]:
    return {
        **js,  # js_runtimes, remote_components: youtube/ytdlp/js_solver.py
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _YtDlpLogger(),
        "allowed_extractors": list(extractors),
        "socket_timeout": 30,
        "retries": 3,
        "fragment_retries": 3,
        "ignoreerrors": False,
        "noplaylist": False,
        "color": {"stdout": "no_color", "stderr": "no_color"},
    }


def _with(options: dict[str, Any], cookie_file: Path | None) -> dict[str, Any]:
    """`options` reading (and, on close, saving) the admin's cookies from `cookie_file`."""
    return options if cookie_file is None else {**options, "cookiefile": str(cookie_file)}


def _explained(options: dict[str, Any], message: str) -> str:
    """`message`, led by yt-dlp's warning when YouTube's challenges went unsolved first
    (the error itself then only says "Requested format is not available", or 403)."""
    challenge = options["logger"].challenge
    return f"{CHALLENGE_MARK} ({challenge}): {message}"[:500] if challenge else message


def classify_error(message: str) -> str:
    """A coarse kind for a yt-dlp error, stored per item (and used to back off later)."""
    text = message.lower()
    if "no space left" in text or "disk quota exceeded" in text or "[errno 28]" in text:
        return DISK_FULL
    if CHALLENGE_MARK.lower() in text:  # before 403: not YouTube pushing back
        return JS_CHALLENGE
    if "sign in to confirm" in text or "not a bot" in text:
        return "bot_check"
    if "429" in text or "too many requests" in text:
        return "http_429"
    if "403" in text or "forbidden" in text:
        return "http_403"
    if says_it_is_outdated(text):
        return OUTDATED
    if "private" in text:
        return "private"
    if "unavailable" in text or "404" in text or "not found" in text or "removed" in text:
        return "unavailable"
    return "other"


def _entry_key(entry: dict[str, Any], url: str) -> str:
    if entry.get("id") and entry.get("ie_key", "").lower().startswith("youtube"):
        return str(entry["id"])
    return unquote(url.split(SMUGGLE_MARK, 1)[0])


def expand(
    url: str,
    *,
    extractors: tuple[str, ...],
    extra_hosts: tuple[str, ...],
    cookies: CookieLease | None = None,
    js_runtime: str | None = None,
    remote_components: str = "",
) -> Expanded:
    """The playlist's title and entries without downloading anything (flat extraction).
    `js_runtime`, `remote_components`: the admin's settings (youtube/ytdlp/js_solver.py)."""
    js = ytdlp_params(js_runtime, remote_components)
    options = {
        **_base_options(extractors, js),
        "extract_flat": "in_playlist",
        "lazy_playlist": False,
    }
    yt_dlp = _yt_dlp()
    try:
        with (
            private_cookie_file(cookies) as jar,
            _youtube_dl(_with(options, jar), extra_hosts) as ydl,
        ):
            info = ydl.extract_info(url, download=False, process=False)
            if info is None:
                raise ItemFailed("nothing found at this link", "unavailable")
            if info.get("_type") in ("playlist", "multi_video"):
                raw = [e for e in (info.get("entries") or []) if e]
                entries = []
                for n, entry in enumerate(raw):
                    entry_url = str(entry.get("url") or entry.get("webpage_url") or "")
                    if not entry_url:
                        continue
                    title = str(entry.get("title") or f"Item {n + 1}")
                    key, status = _entry_key(entry, entry_url), entry.get("live_status")
                    entries.append(PlaylistEntry(key, title, entry_url, status and str(status)))
                title = str(info.get("title") or info.get("id") or "Playlist")
                return Expanded(title, entries, True)
            video_url = str(info.get("webpage_url") or info.get("url") or url)
            title = str(info.get("title") or info.get("id") or "Video")
            return Expanded(
                title, [PlaylistEntry(_entry_key(info, video_url), title, video_url)], False
            )
    except yt_dlp.utils.YoutubeDLError as exc:
        message = _explained(options, _clean(str(exc)))
        raise ItemFailed(message, classify_error(message)) from exc


def _progress_hook(
    yt_dlp: Any, *, cancel: threading.Event, progress: ProgressState, checks: ItemChecks
) -> Callable[[dict[str, Any]], None]:
    """yt-dlp's progress hook: writes `progress`, and stops the download once `cancel` is set
    or the bytes pass the quota left (raising from the hook is the one way yt-dlp lets a
    caller stop midway)."""

    def hook(status: dict[str, Any]) -> None:
        if cancel.is_set():
            raise yt_dlp.utils.DownloadCancelled("cancelled by the user")
        if status.get("status") == "downloading":
            total = status.get("total_bytes") or status.get("total_bytes_estimate") or 0
            done = int(status.get("downloaded_bytes") or 0)
            if checks.passed_limit(done, status.get("total_bytes")):
                raise yt_dlp.utils.DownloadCancelled("larger than the quota left")
            progress.downloaded_bytes = done
            progress.fraction = min(1.0, done / total) if total else progress.fraction
            progress.speed = status.get("speed")
            eta = status.get("eta")
            progress.eta = int(eta) if eta is not None else None
            progress.changed_at = time.monotonic()
        elif status.get("status") == "finished":
            progress.fraction = 1.0
            progress.changed_at = time.monotonic()

    return hook


def _download_options(
    *,
    folder: Path,
    stem: str,
    quality: str,
    extractors: tuple[str, ...],
    hook: Callable[[dict[str, Any]], None],
    checks: ItemChecks,
    js: dict[str, Any],
) -> dict[str, Any]:
    """yt-dlp's options for one item: the quality's format, `folder/stem.<ext>`, ffmpeg,
    and the checks made before a byte of it is fetched (live status, size)."""
    options: dict[str, Any] = {
        **_base_options(extractors, js),
        "match_filter": checks.match_filter,  # not `max_filesize`: see item_checks.py
        "format": FORMATS.get(quality, FORMATS["best"]),
        "outtmpl": {"default": str(folder / f"{stem}.%(ext)s")},
        "noplaylist": True,
        "progress_hooks": [hook],
        "merge_output_format": "mp4/mkv",
        "continuedl": True,
        "overwrites": False,
    }
    ffmpeg = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
    if Path(ffmpeg).exists():
        options["ffmpeg_location"] = ffmpeg
    if quality == "audio":
        options["postprocessors"] = [{"key": "FFmpegExtractAudio", "preferredcodec": "m4a"}]
    return options


def download_item(
    entry: PlaylistEntry,
    *,
    folder: Path,
    stem: str,
    quality: str,
    extractors: tuple[str, ...],
    extra_hosts: tuple[str, ...],
    cancel: threading.Event,
    progress: ProgressState,
    gid: int | None = None,
    max_bytes: int | None = None,
    cookies: CookieLease | None = None,
    js_runtime: str | None = None,
    remote_components: str = "",
) -> Path:
    """Download one entry to `folder/stem.<ext>`; returns the file (0640, group `gid`).
    `ItemWaiting` when it is live or not aired yet, `ItemTooLarge` past `max_bytes`."""
    yt_dlp = _yt_dlp()
    checks = ItemChecks(max_bytes)
    hook = _progress_hook(yt_dlp, cancel=cancel, progress=progress, checks=checks)
    options = _download_options(
        folder=folder,
        stem=stem,
        quality=quality,
        extractors=extractors,
        hook=hook,
        checks=checks,
        js=ytdlp_params(js_runtime, remote_components),
    )
    if cancel.is_set():
        raise DownloadStopped()
    try:
        with (
            private_cookie_file(cookies) as jar,
            download_umask(),
            _youtube_dl(_with(options, jar), extra_hosts) as ydl,
        ):
            info = ydl.extract_info(entry.url, download=True)
    except yt_dlp.utils.DownloadCancelled as exc:
        if checks.refused is not None and not cancel.is_set():
            raise checks.refused from exc
        raise DownloadStopped() from exc
    except yt_dlp.utils.YoutubeDLError as exc:
        if cancel.is_set():
            raise DownloadStopped() from exc
        message = _explained(options, _clean(str(exc)))
        if is_upcoming_error(message):  # YouTube refuses formats before a premiere
            raise ItemWaiting("is_upcoming") from exc
        raise ItemFailed(message, _write_failure(exc) or classify_error(message)) from exc
    if checks.refused is not None:  # skipped by the match filter
        raise checks.refused
    path = _final_path(info, folder, stem)
    restrict_file(path, gid=gid)
    return path


def _final_path(info: dict[str, Any] | None, folder: Path, stem: str) -> Path:
    for requested in (info or {}).get("requested_downloads") or []:
        candidate = Path(str(requested.get("filepath") or ""))
        if candidate.is_file() and candidate.parent == folder:
            return candidate
    finished = [p for p in folder.glob(f"{_glob_escape(stem)}.*") if p.suffix != ".part"]
    if not finished:
        raise ItemFailed("yt-dlp reported success but wrote no file", "other")
    return max(finished, key=lambda p: p.stat().st_mtime)


def _write_failure(exc: BaseException) -> str | None:
    """DISK_FULL or NOT_WRITABLE when a write failed for want of space or of permission:
    yt-dlp keeps the OSError it reported (`exc_info`); ffmpeg's failure only says so in its
    text (`classify_error`). A refused file has a name; a refused socket has none."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:  # chains can loop
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return DISK_FULL
        refused_file = isinstance(current, OSError) and current.filename is not None
        if refused_file and getattr(current, "errno", None) in NOT_WRITABLE_ERRNOS:
            return NOT_WRITABLE
        wrapped = getattr(current, "exc_info", None)
        if isinstance(wrapped, tuple) and len(wrapped) > 1 and wrapped[1] is not None:
            pending.append(wrapped[1])
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return None


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def _clean(message: str) -> str:
    return message.removeprefix("ERROR: ").strip()[:500] or "download failed"
