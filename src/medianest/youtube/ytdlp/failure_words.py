"""What a failed download means, in plain words: yt-dlp's messages ("[generic] host:
Unable to download webpage: HTTP Error 404: Not Found") are for logs. The page shows the
sentence and keeps the original behind a "Details" toggle."""

from __future__ import annotations

import re
from dataclasses import dataclass

from medianest.youtube.ytdlp.freshness import BUG_REPORT_MARK

# First match wins; each pattern is searched in yt-dlp's message, case-insensitively.
_PLAIN = [
    (
        # downloader.py's JS_CHALLENGE: the message then also names the error it led to
        r"javascript challenge was not solved|challenge solving failed|no supported javascript",
        "MediaNest could not solve YouTube's JavaScript challenge, so YouTube gave no usable "
        "format: the server's JavaScript runtime (Deno) or solver scripts are missing or not "
        "working. An admin sees the fix on the System page; retry after it.",
    ),
    (
        re.escape(BUG_REPORT_MARK),  # first: the message may also name the error's cause
        "MediaNest's downloader (yt-dlp) could not read this page: the site has changed "
        "since this version. An admin has been told; it works again once MediaNest is updated.",
    ),
    (r"HTTP Error 404|not found", "The link leads nowhere: the page or video was not found."),
    (
        r"HTTP Error 40[13]|forbidden|sign in to confirm|login required",
        "The site refused the download (it may need an account or block downloads).",
    ),
    (
        r"HTTP Error 429|too many requests",
        "The site is limiting downloads right now. Try again later.",
    ),
    (
        r"private video|video unavailable|removed|no longer available|copyright",
        "The video is private, removed or not available.",
    ),
    (
        r"unsupported url|no video formats|is not a valid url",
        "This link is not a video MediaNest can download.",
    ),
    (r"HTTP Error 5\d\d", "The site had an error. Try again later."),
    (r"timed out|timeout", "The site took too long to answer. Try again later."),
    (
        r"unable to download webpage|connection|name or service not known|resolve|unreachable",
        "The site could not be reached.",
    ),
    (r"no space left|disk", "The server ran out of space for downloads. Ask an admin."),
]
_COMPILED = [(re.compile(pattern, re.IGNORECASE), words) for pattern, words in _PLAIN]
# Messages MediaNest wrote itself are already plain; these markers say the text is a tool's.
_TOOL_MARKERS = re.compile(
    r"^\s*(ERROR:|\[[\w:.-]+\])|Traceback|yt-dlp|youtube-dl|HTTP Error|Unable to", re.IGNORECASE
)


@dataclass(frozen=True)
class Failure:
    summary: str
    detail: str | None


def describe(message: str | None) -> Failure:
    """The plain sentence for a stored error, with the original kept as the detail."""
    text = (message or "").strip()
    if not text:
        return Failure("The download failed.", None)
    if not _TOOL_MARKERS.search(text):
        return Failure(text, None)
    for pattern, words in _COMPILED:
        if pattern.search(text):
            return Failure(words, text)
    return Failure("The download failed.", text)
