"""The download root as Plex sees it: every path MediaNest sends to Plex, or compares with
Plex's answer, goes through one `PathMap`.

Plex usually runs in its own container or on another machine, with the same folder
mounted somewhere else (`/media/youtube`, `D:\\Media\\YouTube`, `\\\\nas\\youtube`).
The admin's value (admin page) wins over `MEDIANEST_YOUTUBE_PLEX_PATH`; without
either, Plex is assumed to see MediaNest's own path.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.data_changes import TableMemo
from medianest.core.errors import ValidationFailed
from medianest.platform import stored_settings
from medianest.platform.models import SystemSetting
from medianest.settings import Settings

PLEX_PATH_KEY = "youtube_plex_path"
MAX_PLEX_PATH = 1000
WINDOWS_PATH = re.compile(r"^([A-Za-z]:[\\/]|\\\\[^\\]+\\[^\\]+)")


def plex_flavour(path: str) -> PurePath:
    """A Windows path (`C:\\...`, `\\\\server\\share`) or a POSIX one, as Plex would parse it."""
    return PureWindowsPath(path) if WINDOWS_PATH.match(path) else PurePosixPath(path)


def check_plex_path(value: str) -> str:
    """An absolute POSIX or Windows path, stripped; anything else is refused."""
    text = value.strip()
    if not text or len(text) > MAX_PLEX_PATH or "\x00" in text:
        raise ValidationFailed("Enter the folder as Plex sees it.", details={"field": "plexPath"})
    parsed = plex_flavour(text)
    if not parsed.is_absolute() or ".." in parsed.parts:
        raise ValidationFailed(
            "The Plex path must be absolute, e.g. /media/youtube or D:\\Media\\YouTube.",
            details={"field": "plexPath"},
        )
    return text


@dataclass(frozen=True)
class PathMap:
    """MediaNest's download root and the same folder as Plex names it."""

    local_root: Path
    plex_root: PurePath

    @classmethod
    def of(cls, local_root: Path, plex_root: str | None) -> PathMap:
        return cls(local_root, plex_flavour(plex_root) if plex_root else PurePosixPath(local_root))

    @property
    def translated(self) -> bool:
        return str(self.plex_root) != str(self.local_root)

    def to_plex(self, local: Path) -> str:
        """`local` (under the download root) as Plex names it."""
        relative = local.relative_to(self.local_root)
        return str(self.plex_root.joinpath(*relative.parts))

    def to_local(self, plex_path: str) -> Path | None:
        """A path from Plex's answer on our disk; None when it is outside the mapped root."""
        parts = self._relative_parts(plex_flavour(plex_path))
        return self.local_root.joinpath(*parts) if parts is not None else None

    def holds_root(self, plex_location: str) -> bool:
        """Whether a Plex library folder contains (or is) the mapped download root."""
        return plex_within(str(self.plex_root), plex_location)

    def owner_of(self, plex_path: str) -> uuid.UUID | None:
        """The user whose download folder holds a file Plex lists (None: not a download)."""
        parts = self._relative_parts(plex_flavour(plex_path))
        if not parts:
            return None
        try:
            return uuid.UUID(parts[0])
        except ValueError:
            return None

    def _relative_parts(self, path: PurePath) -> tuple[str, ...] | None:
        if type(path) is not type(self.plex_root) or ".." in path.parts:
            return None
        root, parts = _parts(self.plex_root), _parts(path)
        if not _within(parts, root):
            return None
        # Keep the original spelling of the names below the root.
        return tuple(path.parts[len(root) :])


def plex_within(path: str, root: str) -> bool:
    """Whether Plex's `path` is `root` or below it (both as Plex names them)."""
    parsed, parsed_root = plex_flavour(path), plex_flavour(root)
    if type(parsed) is not type(parsed_root):
        return False
    return _within(_parts(parsed), _parts(parsed_root))


def _parts(path: PurePath) -> tuple[str, ...]:
    # Windows compares names case-insensitively (and "/" equals "\\"); POSIX exactly.
    if isinstance(path, PureWindowsPath):
        return tuple(p.lower() for p in path.parts)
    return path.parts


def _within(parts: tuple[str, ...], root: tuple[str, ...]) -> bool:
    return parts[: len(root)] == root


# Read on every Plex page and list (the viewer's path map): kept until the table changes.
_STORED_PLEX_PATH: TableMemo[str | None] = TableMemo(SystemSetting.__tablename__)


async def stored_plex_path(session: AsyncSession) -> str | None:
    async def read() -> str | None:
        row = await session.get(SystemSetting, PLEX_PATH_KEY)
        value = row.value if row is not None else None
        return value if isinstance(value, str) and value else None

    return await _STORED_PLEX_PATH.get(session, read)


async def set_plex_path(session: AsyncSession, value: str | None) -> None:
    """Store the admin's Plex path (validated); empty clears it (back to the setting)."""
    checked = check_plex_path(value) if value and value.strip() else ""
    await stored_settings.save(session, PLEX_PATH_KEY, checked)


async def load_path_map(session: AsyncSession, *, settings: Settings) -> PathMap:
    stored = await stored_plex_path(session)
    return PathMap.of(settings.resolved_download_root, stored or settings.youtube_plex_path)
