"""After a download: refresh the YouTube library in Plex, wait for the files to appear
(given the admin's content rating, seen by the person: `ready_items`), then create (or
extend) the collection named after the playlist.

Plex scans asynchronously, so the wait is bounded (`plex_scan_wait_seconds`, with
backoff between looks). Plex being down or slow never fails a finished download: the
caller records the reason next to the files.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.integrations import plex_edits
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexItem, PlexSection
from medianest.integrations.registry import Integrations
from medianest.plex import kinds
from medianest.plex.access import owner_client
from medianest.plex.paths import PathMap, plex_flavour, plex_within
from medianest.settings import Settings
from medianest.youtube.delivery import ratings
from medianest.youtube.delivery.guard import DownloadGuard

log = get_logger(__name__)

SECTION_CONFIG_KEY = "youtubeSectionId"
PAGE_SIZE = 200
FIRST_LOOK_DELAY = 0.2
MAX_LOOK_DELAY = 5.0


class DeliveryFailed(Exception):
    """Plex could not be updated; the message is meant for the user."""


@dataclass(frozen=True)
class DeliveryRequest:
    """A finished download to hand to Plex: where its files are (on our disk, and the
    root as Plex sees it) and what they are called."""

    section_id: str
    folder: Path
    paths: PathMap
    title: str
    file_stems: tuple[str, ...]
    existing_collection: str | None
    wait_seconds: float
    # Records what the delivery made on the download (None: no download, the admin's check).
    guard: DownloadGuard | None = None
    # The admin's rating for downloaded videos, and the person's own Plex (`ratings`).
    content_rating: str | None = None
    viewer: PlexClient | None = None


@dataclass(frozen=True)
class Delivered:
    collection_id: str | None
    found: int
    expected: int


def configured_section(settings: Settings, integrations: Integrations) -> str | None:
    if settings.youtube_library_section:
        return settings.youtube_library_section
    config = integrations.configs().get("plex")
    value = config.config.get(SECTION_CONFIG_KEY) if config is not None else None
    return str(value) if value not in (None, "") else None


async def find_section(
    plex: PlexClient, folder: Path, configured: str | None, paths: PathMap
) -> str:
    """The configured section, else the Movies or Other Videos library whose folder (as
    Plex names it) holds the download most closely. A Music or Photos library is never
    chosen, even when its folder holds the download (`kinds.not_for_downloads`)."""
    plex_folder = paths.to_plex(folder)
    try:
        sections = await plex.sections()
    except MediaNestError as exc:
        raise DeliveryFailed(f"Plex: {exc.message}") from exc
    if configured:
        chosen = next((s for s in sections if s.key == configured), None)
        reason = kinds.not_for_downloads(chosen) if chosen is not None else None
        if reason:
            raise DeliveryFailed(f"the configured Plex library {reason}")
        return configured
    return section_for(sections, plex_folder).key


def section_for(sections: list[PlexSection], plex_path: str) -> PlexSection:
    """The Movies or Other Videos library whose folder holds `plex_path` most closely; a
    Music or Photos library that holds it is named in the refusal."""
    holding = [
        (len(plex_flavour(location.path).parts), section)
        for section in sections
        for location in section.locations
        if plex_within(plex_path, location.path)
    ]
    usable = [(depth, s) for depth, s in holding if kinds.not_for_downloads(s) is None]
    if usable:
        return max(usable, key=lambda pair: pair[0])[1]
    if holding:
        raise DeliveryFailed(f"{kinds.not_for_downloads(holding[0][1])} (it holds {plex_path})")
    raise DeliveryFailed(
        f"no Plex library holds {plex_path} (the download folder as Plex sees it): "
        "check the Plex path of downloads on the admin page"
    )


async def deliver(plex: PlexClient, request: DeliveryRequest) -> Delivered:
    """Refresh, wait (bounded) for the items, then create or extend the collection."""
    section_id = request.section_id
    try:
        await plex.refresh_section(section_id, path=request.paths.to_plex(request.folder))
        items = await ready_items(plex, request, request.wait_seconds)
        keys = [item.rating_key for item in items]
        collection_id = request.existing_collection or await _collection_named(
            plex, section_id, request.title
        )
        made = collection_id is None
        if collection_id is None:
            collection = await plex.create_collection(section_id, request.title, keys)
            collection_id = collection.rating_key
        else:
            await plex.add_to_collection(collection_id, keys)
        await ratings.give_collection(plex, section_id, collection_id, request.content_rating)
        if request.guard is not None:  # the download may have been deleted meanwhile
            await request.guard.keep_collection(plex, collection_id, made=made)
    except MediaNestError as exc:
        raise DeliveryFailed(f"Plex: {exc.message}") from exc
    log.info("youtube_plex_collection", collection_id=collection_id, items=len(keys))
    return Delivered(collection_id, len(items), len(request.file_stems))


async def rescan_folder(
    settings: Settings, integrations: Integrations, folder: Path, paths: PathMap
) -> None:
    """Ask Plex to scan a download's folder again (after its files were deleted), so the
    gone items leave the library; best effort."""
    plex = await owner_client(integrations)
    if plex is None or not folder.is_relative_to(paths.local_root):
        return
    try:
        section = await find_section(
            plex, folder, configured_section(settings, integrations), paths
        )
        await plex.refresh_section(section, path=paths.to_plex(folder))
    except (DeliveryFailed, MediaNestError) as exc:
        log.info("youtube_plex_rescan_skipped", error=type(exc).__name__)


async def ready_items(
    plex: PlexClient, request: DeliveryRequest, wait_seconds: float, *, label: str | None = None
) -> list[PlexItem]:
    """The download's items once Plex lists them (waiting at most `wait_seconds`), each
    given `label`, given the admin's content rating and seen by the person's own token,
    before any delivery adds them (`ratings`: raises `ratings.Hidden` when they are not)."""
    items = await _wait_for_items(plex, request, wait_seconds)
    if not items:
        raise DeliveryFailed("Plex did not list the downloaded files in time")
    for item in items if label else ():  # one at a time: Plex replaces an item's labels
        edits = plex_edits.label_added(label or "")
        query = plex_edits.query(plex_edits.item_type(item.type), [item.rating_key], edits)
        await plex.edit_items(request.section_id, query)
    await ratings.give(plex, request.section_id, items, request.content_rating)
    await ratings.require_seen(request.viewer, items, request.content_rating)
    return items


async def _wait_for_items(
    plex: PlexClient, request: DeliveryRequest, wait_seconds: float
) -> list[PlexItem]:
    deadline = time.monotonic() + wait_seconds
    delay = FIRST_LOOK_DELAY
    wanted = set(request.file_stems)
    found: list[PlexItem] = []
    while True:
        found = await _matching_items(plex, request, wanted)
        if len(found) >= len(wanted) or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(MAX_LOOK_DELAY, delay * 2)


async def _matching_items(
    plex: PlexClient, request: DeliveryRequest, stems: set[str]
) -> list[PlexItem]:
    """Items of the section that are our files: by file path (Plex's path translated to
    ours) when Plex gives it, else by title (the "Plex Video Files" scanner titles an
    item after its file name)."""
    matched: list[PlexItem] = []
    start = 0
    while True:
        page = await plex.section_items(request.section_id, start=start, size=PAGE_SIZE)
        for item in page.items:
            files = [request.paths.to_local(f) for f in item.files]
            if item.files:
                if any(
                    f is not None and f.parent == request.folder and f.stem in stems for f in files
                ):
                    matched.append(item)
            elif item.title in stems:
                matched.append(item)
        start += len(page.items)
        if not page.items or start >= page.total:
            return matched


async def _collection_named(plex: PlexClient, section_id: str, title: str) -> str | None:
    start = 0
    while True:
        snapshot = await plex.section_collections(section_id, start=start, size=PAGE_SIZE)
        page = snapshot.value
        for collection in page.items:
            if collection.title == title:
                return collection.rating_key
        start += len(page.items)
        if not page.items or start >= page.total:
            return None
