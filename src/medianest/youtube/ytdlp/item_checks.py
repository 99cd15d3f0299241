"""What is looked at before an item's bytes are fetched: is it live or not yet aired, and
does it fit in what its owner's quota has left.

- Live status: yt-dlp reports `live_status` ('is_live', 'is_upcoming', 'post_live',
  'was_live', 'not_live'). A live stream would be recorded until it ends (hours, a worker
  held, the disk and the quota filled); an upcoming one fails with "Premieres in …". Such
  an item waits (`ItemWaiting`) and is tried again by a later run. The check is yt-dlp's
  `match_filter` (`YoutubeDL._match_entry`), which runs after extraction and before any
  download, and YouTube's flat playlist entries often carry the status already.
- Size: a format whose size the extractor knows (`filesize`, `filesize_approx`, as
  YouTube's formats mostly have) is refused by the match filter, before any download; the
  progress hook stops the rest at their first block when the server says the length
  (`total_bytes`), else as soon as the bytes pass the limit (HLS fragments, chunked).
  yt-dlp's own `max_filesize` is not used: its HTTP downloader gives up quietly (returns
  False, "File is larger than max-filesize … Aborting.", `yt_dlp/downloader/http.py`,
  `download()`), and every HLS/DASH fragment is fetched by an `HttpQuietDownloader` built
  with the same params (`yt_dlp/downloader/fragment.py`), so each fragment bigger than
  the limit is refused, retried and skipped: an HLS item then "succeeds" with holes (on
  the media server's 6-fragment stream and a 10 kB limit: 3 fragments kept, 20 of 68 kB).
"""

from __future__ import annotations

import re
from typing import Any

WAITING_STATUSES = frozenset({"is_live", "is_upcoming", "post_live"})
_MESSAGES = {
    "is_live": "Live now — downloads once the stream has ended.",
    "is_upcoming": "Premieres later — downloads once it has aired.",
    "post_live": "The stream just ended and is still being processed — downloads later.",
}
# YouTube's playability reasons for a stream or premiere that has not begun
# (`yt_dlp/extractor/youtube/_video.py` raises them as the "no formats" error).
_UPCOMING_RE = re.compile(r"premieres? in|premiere will begin|live event will begin", re.I)


class ItemWaiting(Exception):
    """Live now, or not aired yet: nothing was downloaded; a later run tries again."""

    def __init__(self, live_status: str) -> None:
        super().__init__(waiting_message(live_status))
        self.live_status = live_status


class ItemTooLarge(Exception):
    """Bigger than the bytes its owner's quota has left; `size` is exact or a lower bound."""

    def __init__(self, size: int, limit: int, *, exact: bool) -> None:
        super().__init__(f"{size} bytes, more than the {limit} bytes left")
        self.size = size
        self.limit = limit
        self.exact = exact  # False: `size` is what had come when it was stopped


def waiting_message(live_status: str) -> str:
    return _MESSAGES.get(live_status, _MESSAGES["is_upcoming"])


def is_upcoming_error(message: str) -> bool:
    """yt-dlp's error for a premiere or stream that has not begun (YouTube words)."""
    return bool(_UPCOMING_RE.search(message))


class ItemChecks:
    """One item's checks; the first refusal is kept (yt-dlp only learns "skip this")."""

    def __init__(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self.refused: Exception | None = None

    def match_filter(self, info: dict[str, Any], *, incomplete: Any = False) -> str | None:
        """yt-dlp's `match_filter`: a reason skips the item before anything is downloaded."""
        status = info.get("live_status")
        if status in WAITING_STATUSES:
            self.refused = self.refused or ItemWaiting(str(status))
            return waiting_message(str(status))
        size = info.get("filesize") or info.get("filesize_approx")
        if self.max_bytes is not None and size and int(size) > self.max_bytes:
            self.refused = self.refused or ItemTooLarge(int(size), self.max_bytes, exact=True)
            return "larger than the quota left"
        return None

    def passed_limit(self, downloaded: int, total: int | None) -> bool:
        """From the progress hook (`total`: the length the server said): True, and why
        kept, once the item cannot fit."""
        if self.max_bytes is None:
            return False
        size = max(downloaded, total or 0)
        if size <= self.max_bytes:
            return False
        exact = total is not None and total >= downloaded
        self.refused = self.refused or ItemTooLarge(size, self.max_bytes, exact=exact)
        return True
