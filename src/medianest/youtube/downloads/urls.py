"""Which URLs MediaNest will hand to yt-dlp: the SSRF guard of the download API.

Only https YouTube playlist, video and youtu.be URLs pass, plus the hosts an operator
lists in `MEDIANEST_YOUTUBE_EXTRA_HOSTS` (exact host[:port]; http allowed there,
which is how tests reach a loopback media server). Everything else is refused with a
reason before anything is fetched.

`fetch_refusal` is the same allow-list for every request yt-dlp then makes (pages,
feeds, feed items, manifests, media, each redirect): YouTube's own domains over https,
or an operator-listed host; see `youtube/ytdlp/guard.py`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

from medianest.core.errors import ValidationFailed

YOUTUBE_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be"}
)
MAX_URL_LENGTH = 2048
VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
PLAYLIST_ID_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
# Paths under which a YouTube host serves a single video.
VIDEO_PATH_RE = re.compile(r"^/(?:shorts|live|embed)/([A-Za-z0-9_-]{11})/?$")


# Where YouTube serves its pages, API, images and media from (subdomains included).
YOUTUBE_FETCH_DOMAINS = (
    "youtube.com",
    "youtu.be",
    "youtube-nocookie.com",
    "googlevideo.com",
    "ytimg.com",
    "ggpht.com",
    "googleusercontent.com",
    "googleapis.com",
    "google.com",
)


@dataclass(frozen=True)
class AcceptedUrl:
    """A URL that passed the allow-list; `extractors` limits which yt-dlp extractors run."""

    url: str
    kind: str  # "playlist" | "video" | "extra"
    extractors: tuple[str, ...]


def _refuse(reason: str) -> ValidationFailed:
    return ValidationFailed(f"This URL cannot be downloaded: {reason}.", details={"field": "url"})


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def validate_download_url(raw: str, *, extra_hosts: list[str]) -> AcceptedUrl:
    """The normalized URL when it may be downloaded; `ValidationFailed` (400) otherwise."""
    url = raw.strip()
    if not url:
        raise _refuse("it is empty")
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"it is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in url):
        raise _refuse("it contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("it is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _refuse("only https:// links are accepted")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refuse("links with credentials are not accepted")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise _refuse("it has no host")
    netloc = f"{host}:{port}" if port is not None else host
    if netloc in extra_hosts or (port is None and host in extra_hosts):
        # An operator-listed host (a local media server): any path, http allowed.
        return AcceptedUrl(
            urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")), "extra", ("generic",)
        )
    if _is_ip_literal(host):
        raise _refuse("IP addresses are not accepted, only YouTube links")
    if host not in YOUTUBE_HOSTS:
        raise _refuse("only YouTube links (youtube.com, youtu.be) are accepted")
    if scheme != "https":
        raise _refuse("only https:// links are accepted")
    if port not in (None, 443):
        raise _refuse("YouTube links do not name a port")
    return _youtube_url(host, parts.path, parse_qs(parts.query))


def _youtube_url(host: str, path: str, query: dict[str, list[str]]) -> AcceptedUrl:
    """Rebuild the link from the parts that matter, so nothing else reaches yt-dlp."""
    extractors = ("youtube", "youtube:tab", "youtube:playlist")
    video = (query.get("v") or [""])[0]
    playlist = (query.get("list") or [""])[0]
    if host == "youtu.be":
        video_id = path.strip("/")
        if not VIDEO_ID_RE.match(video_id):
            raise _refuse("a youtu.be link needs a video id")
        return AcceptedUrl(f"https://www.youtube.com/watch?v={video_id}", "video", extractors)
    if path.rstrip("/") == "/playlist":
        if not PLAYLIST_ID_RE.match(playlist):
            raise _refuse("a playlist link needs a valid list= id")
        return AcceptedUrl(
            f"https://www.youtube.com/playlist?list={playlist}", "playlist", extractors
        )
    if path.rstrip("/") == "/watch":
        if playlist and PLAYLIST_ID_RE.match(playlist) and not video:
            return AcceptedUrl(
                f"https://www.youtube.com/playlist?list={playlist}", "playlist", extractors
            )
        if not VIDEO_ID_RE.match(video):
            raise _refuse("a watch link needs a valid v= video id")
        return AcceptedUrl(f"https://www.youtube.com/watch?v={video}", "video", extractors)
    match = VIDEO_PATH_RE.match(path)
    if match:
        return AcceptedUrl(f"https://www.youtube.com/watch?v={match.group(1)}", "video", extractors)
    raise _refuse("only YouTube playlist and video links are accepted")


def fetch_refusal(url: str, *, extra_hosts: list[str] | tuple[str, ...]) -> str | None:
    """Why yt-dlp must not fetch `url`, or None when it may: an operator-listed host
    (exact host[:port], http or https), or a YouTube domain over https by name."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    scheme = parts.scheme.lower()
    if scheme == "data":
        return None  # inline content (a manifest yt-dlp built itself): nothing is fetched
    if scheme not in ("http", "https"):
        return f"the {scheme or 'missing'} scheme is not allowed"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL"
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return "no host"
    netloc = f"{host}:{port}" if port is not None else host
    if netloc in extra_hosts or (port is None and host in extra_hosts):
        return None
    if scheme != "https" or port not in (None, 443) or _is_ip_literal(host):
        return f"{netloc} is not on the allow-list"
    if _is_youtube_domain(host):
        return None
    return f"{netloc} is not on the allow-list"


def _is_youtube_domain(host: str) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in YOUTUBE_FETCH_DOMAINS)


def cookie_domain_allowed(domain: str, *, extra_hosts: list[str] | tuple[str, ...]) -> bool:
    """Whether a cookie for `domain` (a cookies.txt domain, leading dot or not) is only
    ever sent where `fetch_refusal` lets yt-dlp fetch: a YouTube domain (or below), or an
    operator-listed host by name (a cookie names no port)."""
    host = domain.strip().lower().removeprefix(".").rstrip(".")
    if not host:
        return False
    if any(extra == host or extra.rsplit(":", 1)[0] == host for extra in extra_hosts):
        return True
    return not _is_ip_literal(host) and _is_youtube_domain(host)
