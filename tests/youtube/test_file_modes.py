"""The umask downloads run under: yt-dlp's files are 0640 from their first byte."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from medianest.youtube.downloads import files


def test_overlapping_downloads_keep_the_download_umask_until_the_last_one_ends(
    tmp_path: Path,
) -> None:
    """Downloads run in several threads; the umask is the process's. The first one to end
    must not give the old umask back while another is still writing its files."""
    before = os.umask(0o077)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    modes: dict[str, int] = {}

    def download(name: str, entered: threading.Event, leave_after: threading.Event | None) -> None:
        with files.download_umask():
            entered.set()
            second_in.wait(5)
            if leave_after is not None:
                leave_after.wait(5)  # the other download has already finished
            target = tmp_path / f"{name}.part"
            target.write_bytes(b"x")
            modes[name] = stat.S_IMODE(target.stat().st_mode)

    try:
        first = threading.Thread(target=download, args=("first", first_in, None))
        second = threading.Thread(target=download, args=("second", second_in, first_out))
        first.start()
        first_in.wait(5)
        second.start()
        first.join(5)
        first_out.set()
        second.join(5)
        after = os.umask(0o077)
    finally:
        os.umask(before)
    assert modes == {"first": 0o640, "second": 0o640}
    assert after == 0o077  # the last one out gave the process its umask back
