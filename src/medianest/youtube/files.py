"""Where downloads land on disk: `{download_root}/{user_id}/{playlist}/`, owner-only.

Titles come from the internet, so every name is sanitized into one path component that
cannot climb out of its folder ("..", "/", NUL, reserved names, absurd lengths), and
every resolved path is checked to stay under the user's directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import unicodedata
import uuid
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
MAX_NAME_BYTES = 150  # leaves room for " [id].ext.part" under the usual 255-byte limit
# Characters that are unsafe or awkward on common filesystems (and yt-dlp's % templates).
UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|%]+')
WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


class UnsafePath(ValueError):
    """A computed path would leave the directory it belongs to."""


def safe_name(title: str | None, *, fallback: str = "untitled") -> str:
    """One harmless path component from an arbitrary title (unicode kept, NFC)."""
    text = unicodedata.normalize("NFC", title or "")
    text = UNSAFE_CHARS.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip(" .")  # no leading/trailing dots: no "..", no ".x"
    if not text or WINDOWS_RESERVED.match(text):
        text = f"{fallback} {text}".strip() if text else fallback
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        text = encoded[:MAX_NAME_BYTES].decode("utf-8", errors="ignore").rstrip(" .")
    return text or fallback


def item_stem(index: int, title: str | None) -> str:
    """The file name (without extension) of a playlist's item: "003 - Title"; the index
    keeps names unique within the folder and the order visible in Plex."""
    return f"{index + 1:03d} - {safe_name(title, fallback='item')}"


def user_dir(download_root: Path, user_id: uuid.UUID) -> Path:
    return download_root / str(user_id)


def ensure_dir(path: Path, *, root: Path) -> Path:
    """Create `path` (and parents up to `root`) with 0700, refusing anything outside root."""
    resolved = path.resolve()
    if not is_within(resolved, root.resolve()):
        raise UnsafePath(f"{path} is outside {root}")
    root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    current = root.resolve()
    for part in resolved.relative_to(current).parts:
        current = current / part
        current.mkdir(exist_ok=True, mode=DIR_MODE)
        os.chmod(current, DIR_MODE)  # mkdir's mode is filtered by the umask
    return resolved


def is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def free_bytes(path: Path) -> int:
    """Free space on the filesystem holding `path` (its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def restrict_file(path: Path) -> None:
    if path.is_file():
        os.chmod(path, FILE_MODE)


def remove_item_files(folder: Path, stem: str) -> None:
    """Remove every file of one item, finished or partial (`.part`, `.f137.mp4`, `.ytdl`).

    Item stems start with a unique index ("003 - Title"), so no other item matches."""
    if not folder.is_dir():
        return
    for candidate in folder.iterdir():
        if candidate.is_file() and (
            candidate.stem == stem or candidate.name.startswith(stem + ".")
        ):
            candidate.unlink(missing_ok=True)


def remove_dir_if_empty(folder: Path) -> None:
    # Not empty (another download of the same playlist) or already gone: leave it.
    with contextlib.suppress(OSError):
        folder.rmdir()
