"""The cookies file yt-dlp reads for one expansion or one item: private, and gone after.

yt-dlp takes cookies as a file name (`cookiefile`), loads it when it first needs its
jar and, on close, writes the jar back to the same file (`YoutubeDL.close` ->
`save_cookies` -> `YoutubeDLCookieJar.save`), with whatever YouTube set meanwhile
(it rotates its session cookies, and a cookie a site deleted is not in it). That save is
made whole or nothing (`guard.GuardedYoutubeDL.save_cookies`). So each use gets a fresh directory only this user
can enter (0700, `tempfile.mkdtemp`) holding one 0600 file; when yt-dlp is done, the
file as it left it is read back into the lease (`rotated`) and the directory removed,
whether the download succeeded, failed or was cancelled. Blocking: runs in the
download's worker thread, after yt-dlp has closed, so nothing is removed under it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "cookies.txt"
DIR_PREFIX = "medianest-cookies-"


@dataclass
class CookieLease:
    """The stored cookies lent to one yt-dlp run (`text`), and what it saved (`rotated`)."""

    text: str
    generation: str  # which admin save they come from: a rotation is kept only for it
    rotated: str | None = None


@contextlib.contextmanager
def private_cookie_file(lease: CookieLease | None) -> Iterator[Path | None]:
    """A 0600 file holding `lease.text` in a 0700 directory, for `cookiefile`; None when
    there are no cookies. Afterwards `lease.rotated` is the file's last content."""
    if lease is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))  # 0700, a name nobody can guess
    path = folder / FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(lease.text)
        yield path
    finally:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            lease.rotated = path.read_text(encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
