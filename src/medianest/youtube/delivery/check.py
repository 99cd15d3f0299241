"""The admin's view of how Plex sees the downloads: Plex's libraries with their folders
(which one holds the download root as Plex names it, or why none does), and a test that
drops a marker video into the download root, asks Plex to scan it and reports whether
Plex listed it (then removes it again)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from medianest.core.errors import MediaNestError, ServiceUnavailable
from medianest.integrations.plex import PlexClient
from medianest.integrations.registry import Integrations
from medianest.plex import access as plex_access
from medianest.plex import kinds
from medianest.plex.paths import PathMap, plex_within
from medianest.settings import Settings
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.downloads import files

MARKER_FOLDER = "medianest-check"
MAX_TEST_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class LibraryView:
    id: str
    title: str
    type: str
    kind: str
    folders: list[str]
    holds_downloads: bool
    unusable: str | None


@dataclass(frozen=True)
class PlexView:
    plex_path: str
    translated: bool
    libraries: list[LibraryView]
    holding: str | None
    problem: str | None


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    library_id: str | None
    marker_path: str | None


async def require_plex(integrations: Integrations) -> PlexClient:
    plex = await plex_access.owner_client(integrations)
    if plex is None:
        raise ServiceUnavailable(
            "Plex is not configured.", details={"service": "plex", "reason": "not configured"}
        )
    return plex


async def plex_view(plex: PlexClient, paths: PathMap) -> PlexView:
    """Plex's libraries and folders, and which one holds the download root (a Music or
    Photos library that does is shown with the reason it is not used)."""
    plex_root = str(paths.plex_root)
    sections = await plex.sections()
    libraries = [
        LibraryView(
            id=section.key,
            title=section.title,
            type=section.type,
            kind=kinds.library_kind(section),
            folders=[loc.path for loc in section.locations],
            holds_downloads=any(plex_within(plex_root, loc.path) for loc in section.locations),
            unusable=kinds.not_for_downloads(section),
        )
        for section in sections
    ]
    try:
        holding: str | None = plex_delivery.section_for(sections, plex_root).key
        problem = None
    except plex_delivery.DeliveryFailed as exc:
        holding, problem = None, str(exc)
    if holding is None and not any(lib.holds_downloads for lib in libraries):
        problem = (
            f"No Plex library has a folder containing {plex_root}, the download folder as "
            "Plex sees it. Add that folder to a library in Plex, or set the path under which "
            "Plex sees MediaNest's downloads."
        )
        if not paths.translated:
            problem += " (No Plex path is set: Plex is assumed to see MediaNest's own path.)"
    elif problem is not None:
        problem = problem[:1].upper() + problem[1:] + "."
    return PlexView(plex_root, paths.translated, libraries, holding, problem)


async def test_marker(
    plex: PlexClient, paths: PathMap, *, settings: Settings, configured_section: str | None
) -> CheckResult:
    """Write a marker video, ask Plex to scan its folder, wait for Plex to list it."""
    root = paths.local_root
    folder = root / MARKER_FOLDER
    stem = f"MediaNest check {secrets.token_hex(4)}"
    marker = folder / f"{stem}.mp4"
    try:
        section = await plex_delivery.find_section(plex, folder, configured_section, paths)
    except plex_delivery.DeliveryFailed as exc:
        return CheckResult(False, str(exc), None, paths.to_plex(marker))
    try:
        await asyncio.to_thread(_write_marker, folder, marker, root, settings.download_gid)
    except OSError as exc:
        return CheckResult(
            False, f"MediaNest cannot write to {root}: {exc.strerror}", section, None
        )
    except files.FolderNotWritable as exc:  # a download group this process is not in
        return CheckResult(False, f"MediaNest cannot write to {root}: {exc.reason}", section, None)
    request = plex_delivery.DeliveryRequest(
        section_id=section,
        folder=folder,
        paths=paths,
        title=MARKER_FOLDER,
        file_stems=(stem,),
        existing_collection=None,
        wait_seconds=min(settings.plex_scan_wait_seconds, MAX_TEST_WAIT_SECONDS),
    )
    try:
        await plex.refresh_section(section, path=paths.to_plex(folder))
        found = await plex_delivery._wait_for_items(plex, request, request.wait_seconds)
    except MediaNestError as exc:
        return CheckResult(False, f"Plex: {exc.message}", section, paths.to_plex(marker))
    finally:
        await asyncio.to_thread(_remove_marker, folder, marker)
    with contextlib.suppress(MediaNestError):  # let Plex forget the marker again
        await plex.refresh_section(section, path=paths.to_plex(folder))
    if not found:
        return CheckResult(
            False,
            f"Plex did not list {paths.to_plex(marker)} within {request.wait_seconds:.0f} s: "
            "check that Plex sees the folder at that path and may read it (its group).",
            section,
            paths.to_plex(marker),
        )
    return CheckResult(
        True,
        f"Plex found the marker at {paths.to_plex(marker)} in library {section}.",
        section,
        paths.to_plex(marker),
    )


def _write_marker(folder: Path, marker: Path, root: Path, gid: int | None) -> None:
    files.ensure_dir(folder, root=root, gid=gid)
    with files.download_umask():  # 0640 from creation, like a download's files
        marker.write_bytes(b"\x00\x00\x00\x18ftypmp42")  # the start of an MP4: a name is enough
    files.restrict_file(marker, gid=gid)


def _remove_marker(folder: Path, marker: Path) -> None:
    marker.unlink(missing_ok=True)
    files.remove_dir_if_empty(folder)
