"""Where downloads land on disk: `{download_root}/{user_id}/{playlist}/`.

Folders are 2750 and files 0640, owned by the download group (`MEDIANEST_DOWNLOAD_GID`,
the group Plex runs with; default our own): Plex reads every user's folder, other local
users read none. The setgid bit makes what yt-dlp creates inside inherit the group. A
folder MediaNest makes is 2750 with that group or not there at all: a group the process
is not in (chown(2) refuses it, EPERM) is `DownloadGroupRefused`, naming group and fix.

Titles come from the internet, so every name is sanitized into one path component that
cannot climb out of its folder ("..", "/", NUL, reserved names, absurd lengths) nor
disguise itself (bidi controls and other invisible characters are dropped), and
every resolved path is checked to stay under the user's directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medianest.youtube.models import JobItem

DIR_MODE = 0o2750
FILE_MODE = 0o640
# What yt-dlp creates (`.part`, `.ytdl`, fragments, the merged file) is opened with 0666
# and filtered by the umask: 027 makes it 0640 from the first byte, not only once finished.
DOWNLOAD_UMASK = 0o027
MAX_NAME_BYTES = 150  # leaves room for " [id].ext.part" under the usual 255-byte limit
# Characters that are unsafe or awkward on common filesystems (and yt-dlp's % templates).
UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|%]+')
# Joiners shape scripts and emoji; every other invisible format character goes, above all
# the bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C): "clip\u202egpj.exe"
# would show in a file manager or Plex as "clipexe.jpg".
KEPT_FORMAT_CHARS = frozenset({"\u200c", "\u200d"})
NUMBERED = re.compile(r"^(\d{3,}) - ")
# Device names Windows refuses, with any extension (Microsoft Learn, "Naming Files, Paths,
# and Namespaces": the superscripts count as digits): an SMB share applies its rules.
WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)


# What Plex's video scanner leaves out by name (Scanners.bundle Common/VideoFiles.py and
# Filter.py `Scan`; docs/plex-and-downloads.md): a file whose path has "-sample",
# "sample." and the like (under 300 MB), "-trailer." or "-short." (extras); a folder
# below the library's top level named "Trailers", "Shorts", "Extra…", "Sample…",
# "Bonus…". A title must not hide a download from Plex.
PLEX_HIDING_SEPARATOR = re.compile(
    r"(?<=sample)[-._]|[-._](?=sample)"
    r"|-(?=(?:trailer|deleted|behindthescenes|interview|scene|featurette|short)(?:\.|$))",
    re.IGNORECASE,
)
PLEX_SKIPPED_FOLDER = re.compile(
    r"\bextras?\b|!?samples?|bonus|bdmv|video_ts|@eadir|lost\+found|.appledouble"
    r"|(?:interview|scene|trailer|featurette|short|other).?$|deleted.?(?:scene.?)?$"
    r"|behind.?the.?scenes$",
    re.IGNORECASE,
)
# The patterns that match anywhere in a folder's name ("bonus disc", "_FAILED_", ".itlp"
# at the end): a separator changed, so that no prefix is needed.
PLEX_SKIPPED_INSIDE = (
    (re.compile(r"_(unpack|failed)_", re.IGNORECASE), r" \1 "),
    (re.compile(r"(bonus) (disc)", re.IGNORECASE), r"\1-\2"),
    (re.compile(r"\.(itlp)$", re.IGNORECASE), r" \1"),
)


class UnsafePath(ValueError):
    """A computed path would leave the directory it belongs to."""


def safe_name(title: str | None, *, fallback: str = "untitled") -> str:
    """One harmless path component from an arbitrary title (unicode kept, NFC)."""
    text = unicodedata.normalize("NFC", title or "")
    text = "".join(c for c in text if c in KEPT_FORMAT_CHARS or unicodedata.category(c) != "Cf")
    text = UNSAFE_CHARS.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip(" .")  # no leading/trailing dots: no "..", no ".x"
    if not text or WINDOWS_RESERVED.match(text):
        text = f"{fallback} {text}".strip() if text else fallback
    text = re.sub(r"\s+", " ", PLEX_HIDING_SEPARATOR.sub(" ", text)).strip()
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        text = encoded[:MAX_NAME_BYTES].decode("utf-8", errors="ignore").rstrip(" .")
    return text or fallback


def folder_name(title: str | None) -> str:
    """A playlist's folder: `safe_name`, and never a name Plex's scanner does not enter."""
    text = safe_name(title, fallback="playlist")
    for pattern, replacement in PLEX_SKIPPED_INSIDE:
        text = pattern.sub(replacement, text)
    text = re.sub(r"\s+", " ", text).strip()
    return f"playlist {text}" if PLEX_SKIPPED_FOLDER.match(text) else text


def item_number(item: JobItem) -> int:
    """The number in an item's file name: its own `number` when one was given (subscription
    items), else its position in the playlist."""
    return item.number or item.index + 1


def stem_for(item: JobItem) -> str:
    """The file name (without extension) of a stored download item: the one it was
    stored under (the rules for names may have changed since), else made from its title.
    One ending in "sample" gets a space before the extension's dot ("sample." hides it)."""
    if item.file:
        return Path(item.file).stem
    stem = f"{item_number(item):03d} - {safe_name(item.title, fallback='item')}"
    return f"{stem} " if stem.casefold().endswith("sample") else stem


def highest_number(folder: Path) -> int:
    """The highest "NNN - " number of a file in `folder` (0 when none)."""
    if not folder.is_dir():
        return 0
    numbers = (int(m.group(1)) for p in folder.iterdir() if (m := NUMBERED.match(p.name)))
    return max(numbers, default=0)


def number_after_existing(items: list[JobItem], folder: Path) -> None:
    """Give items without a number the numbers after the highest one in `folder`: a
    subscription's new items continue the folder's numbering, never reuse a number."""
    next_number = highest_number(folder) + 1
    for item in items:
        if not item.number:
            item.number = next_number
            next_number += 1


def user_dir(download_root: Path, user_id: uuid.UUID) -> Path:
    return download_root / str(user_id)


def ensure_dir(path: Path, *, root: Path, gid: int | None = None) -> Path:
    """Create `path` (and parents up to `root`) with 2750 and the download group, refusing
    anything outside root. A folder that exists keeps its mode and group: one MediaNest did
    not create (the library folder Plex's container owns, a share) is the admin's, and
    changing it could lock Plex out, or fail where writing into it would have worked."""
    resolved = path.resolve()
    if not is_within(resolved, root.resolve()):
        raise UnsafePath(f"{path} is outside {root}")
    if not root.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        _make_dir(root, gid)
    current = root.resolve()
    for part in resolved.relative_to(current).parts:
        current = current / part
        _make_dir(current, gid)
    return resolved


def _make_dir(path: Path, gid: int | None) -> None:
    """`path` as 2750 with the download group, or not at all: made under a hidden temporary
    name and renamed into place only once its mode and group are right, so a refused chown
    (a group this process is not in) leaves nothing that a later check would reuse as it
    is (0755, our own group) and fill with files Plex cannot read."""
    if path.exists():
        return
    temporary = path.with_name(f".medianest-new-{secrets.token_hex(6)}")
    # 0750 at once: in a setgid folder of the download group it is then 2750 with that
    # group already, which needs no chown or chmod (a chmod by a process outside the group
    # drops the setgid bit, Linux fs/attr.c `setattr_should_drop_sgid`, and what yt-dlp
    # writes would then take our own group).
    os.mkdir(temporary, 0o750)
    try:
        _restrict_dir(temporary, gid, shown=path)
        # rename(2) replaces an empty directory made meanwhile (by another worker: the same
        # 2750 folder) and refuses a non-empty one: then that one is kept.
        os.rename(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temporary.rmdir()
        if isinstance(exc, OSError) and exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return
        raise


def _restrict_dir(path: Path, gid: int | None, *, shown: Path) -> None:
    if _is_restricted(path, gid):
        return
    try:
        _restrict(path, DIR_MODE, gid)
    except PermissionError as exc:
        if gid is None:
            raise
        raise DownloadGroupRefused(shown, gid, exc.strerror or str(exc)) from exc
    if gid is not None and not _is_restricted(path, gid):  # the setgid bit dropped
        found = path.stat()
        error = f"it became {stat.S_IMODE(found.st_mode):o} with group {found.st_gid}"
        raise DownloadGroupRefused(shown, gid, error)


def _is_restricted(path: Path, gid: int | None) -> bool:
    found = path.stat()
    return stat.S_IMODE(found.st_mode) == DIR_MODE and gid in (None, found.st_gid)


def _may_chown() -> bool:
    """Whether this process holds CAP_CHOWN (bit 0 of CapEff): root usually does, but not
    a container started with `cap_drop: [ALL]`, whatever its uid."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return os.geteuid() == 0


def group_problem(gid: int | None) -> str | None:
    """Why this process cannot give its folders to the download group `gid`, None when it
    can: chown(2) lets a file's owner give it only to a group the process is in (Linux
    fs/attr.c `chgrp_ok`; CAP_CHOWN excepted). Asked at start-up and on the admin's system
    page; a refused chown says it too."""
    if gid is None or _may_chown() or gid == os.getegid() or gid in os.getgroups():
        return None
    return (
        f"MediaNest's process (uid {os.geteuid()}) is not a member of the download group "
        f"{gid} (MEDIANEST_DOWNLOAD_GID): add MediaNest's user to group {gid} (group_add "
        "in Docker Compose), or set MEDIANEST_DOWNLOAD_GID to a group it is in"
    )


class FolderNotWritable(Exception):
    """MediaNest may not create files in `folder` (permissions, a read-only mount)."""

    def __init__(self, folder: Path, reason: str) -> None:
        super().__init__(f"{folder}: {reason}")
        self.folder = folder
        self.reason = reason


class DownloadGroupRefused(FolderNotWritable):
    """A folder MediaNest made could not be given to the download group; it was removed."""

    def __init__(self, folder: Path, gid: int, error: str) -> None:
        problem = group_problem(gid) or (
            f"it could not be given to the download group {gid} (MEDIANEST_DOWNLOAD_GID): {error}"
        )
        super().__init__(folder, problem)
        self.gid = gid


# What a write refused by the filesystem, not by a full disk, fails with.
NOT_WRITABLE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def prepare_folder(path: Path, *, root: Path, gid: int | None = None) -> Path:
    """`ensure_dir`, then a nameless temporary file made and dropped in the folder: root
    passes permission bits but not a read-only mount, and only a write tells the truth
    about ACLs and network shares. `FolderNotWritable` names the folder refused."""
    try:
        folder = ensure_dir(path, root=root, gid=gid)
    except OSError as exc:  # a folder to create: the one it goes in refused it
        made = Path(exc.filename) if isinstance(exc.filename, str) else path
        _raise_if_not_writable(exc, made.parent)
        raise
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        _raise_if_not_writable(exc, folder)
        raise
    return folder


def _raise_if_not_writable(exc: OSError, folder: Path) -> None:
    # Another failure (an I/O error) is left to the runner's ordinary retry.
    if exc.errno in NOT_WRITABLE_ERRNOS:
        raise FolderNotWritable(folder, exc.strerror or str(exc)) from exc


def _restrict(path: Path, mode: int, gid: int | None) -> None:
    if gid is not None:
        os.chown(path, -1, gid)  # before chmod: chown clears the setgid bit on some systems
    os.chmod(path, mode)


_umask_lock = threading.Lock()
_umask_users = 0
_umask_before = 0


@contextlib.contextmanager
def download_umask() -> Iterator[None]:
    """Files created inside get 0640 (and the folder's group, by its setgid bit).

    The umask belongs to the whole process, and downloads run in several threads at once:
    the first one in sets it, the last one out restores it, so an overlapping download
    never restores it under another one still writing. Meanwhile other files the process
    creates are only stricter (no "other" bits), never looser."""
    global _umask_users, _umask_before
    with _umask_lock:
        if _umask_users == 0:
            _umask_before = os.umask(DOWNLOAD_UMASK)
        _umask_users += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_users -= 1
            if _umask_users == 0:
                os.umask(_umask_before)


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


def restrict_file(path: Path, *, gid: int | None = None) -> None:
    """A finished file: 0640, the download group."""
    if path.is_file():
        _restrict(path, FILE_MODE, gid)


def remove_item_files(folder: Path, stem: str) -> bool:
    """Remove every file of one item, finished or partial (`.part`, `.f137.mp4`, `.ytdl`);
    whether there was one.

    Item stems start with a unique index ("003 - Title"), so no other item matches."""
    if not folder.is_dir():
        return False
    found = False
    for candidate in folder.iterdir():
        if candidate.is_file() and (
            candidate.stem == stem or candidate.name.startswith(stem + ".")
        ):
            candidate.unlink(missing_ok=True)
            found = True
    return found


def remove_dir_if_empty(folder: Path) -> None:
    # Not empty (another download of the same playlist) or already gone: leave it.
    with contextlib.suppress(OSError):
        folder.rmdir()
