"""One batch of the re-rating (rerating.py): the claimed downloads' items found in Plex,
each section's items and collections listed once, then one content-rating edit per
download and item type and one per collection, as python-plexapi's `editContentRating`
sends it (mixins.py → library.py `LibrarySection._edit`). What is gone from Plex is
skipped; Plex failing stops the batch (the rest are due again later)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from medianest.context import AppContext
from medianest.core.errors import MediaNestError
from medianest.core.logging import get_logger
from medianest.integrations import plex_edits
from medianest.integrations.outcomes import UpstreamHTTPError
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexItem
from medianest.plex import paths as plex_paths
from medianest.youtube.delivery import collection as plex_delivery
from medianest.youtube.delivery import handoff, ratings
from medianest.youtube.models import YoutubeDownload

log = get_logger(__name__)

# Plex's answers to an edit of an item or collection that is gone: skipped, not failed.
GONE = frozenset({400, 404, 410})


@dataclass
class Outcome:
    """What a batch did: the downloads `done` (rated, or nothing of theirs left in Plex);
    the others are due again at `retry_at` (Plex failed)."""

    done: set[uuid.UUID] = field(default_factory=set)
    retry_at: datetime | None = None


async def rate_batch(ctx: AppContext, plex: PlexClient, jobs: Sequence[YoutubeDownload]) -> Outcome:
    """Rate the claimed downloads. The rating is read after the claim: a change made
    before it is given; one made after marks the downloads again (rerating.py keeps them due)."""
    async with ctx.session_factory() as session:
        rating = await ratings.load(session)
        paths = await plex_paths.load_path_map(session, settings=ctx.settings)
    outcome = Outcome()
    if rating is None:  # cleared meanwhile: nothing to give
        outcome.done = {job.id for job in jobs}
        return outcome
    try:
        sections = await _sections_of(ctx, plex, jobs, paths)
        # A download no library holds has nothing in Plex to rate.
        outcome.done = {job.id for job in jobs} - {
            job.id for held in sections.values() for job in held
        }
        edited: set[str] = set()  # a subscription's downloads share one collection
        for section_id, held in sections.items():
            items = await _items_of(plex, section_id, held, paths)
            collections = await _collections_of(plex, section_id, held)
            for job in held:
                await _rate_download(plex, section_id, items.get(job.id, []), rating)
                collection = job.plex_collection_id
                if collection in collections and collection not in edited:
                    edited.add(collection)
                    query = plex_edits.query("collection", [collection], _edits(rating))
                    await _edit(plex, section_id, query)
                outcome.done.add(job.id)
    except MediaNestError as exc:
        left = len(jobs) - len(outcome.done)
        log.warning("youtube_rerating_plex_failed", error=exc.code, downloads_left=left)
        outcome.retry_at = handoff.retry_after_outage(ctx)
    return outcome


def _edits(rating: str) -> dict[str, object]:
    return plex_edits.content_rating(rating)


async def _rate_download(
    plex: PlexClient, section_id: str, items: Sequence[PlexItem], rating: str
) -> None:
    """One edit of the download's items per item type (all its ids, as `multiEdit`)."""
    by_type: dict[str, list[str]] = {}
    for item in items:
        by_type.setdefault(plex_edits.item_type(item.type), []).append(item.rating_key)
    for item_type, keys in by_type.items():
        await _edit(plex, section_id, plex_edits.query(item_type, keys, _edits(rating)))


async def _edit(plex: PlexClient, section_id: str, query: dict[str, object]) -> None:
    """Send one edit; one Plex refuses because what it names is gone is skipped."""
    try:
        await plex.edit_items(section_id, query)
    except UpstreamHTTPError as exc:
        if exc.upstream_status not in GONE:
            raise
        log.info("youtube_rerating_gone", section_id=section_id, status=exc.upstream_status)


async def _sections_of(
    ctx: AppContext,
    plex: PlexClient,
    jobs: Sequence[YoutubeDownload],
    paths: plex_paths.PathMap,
) -> dict[str, list[YoutubeDownload]]:
    """The downloads by the section holding their folder (as their delivery chose it);
    those with no files, or no library holding them, are left out."""
    configured = plex_delivery.configured_section(ctx.settings, ctx.integrations)
    sections = [] if configured else await plex.sections()
    grouped: dict[str, list[YoutubeDownload]] = {}
    for job in jobs:
        folder = Path(job.folder or "")
        if not job.folder or not folder.is_relative_to(paths.local_root):
            continue
        if configured:
            key = configured
        else:
            try:
                key = plex_delivery.section_for(sections, paths.to_plex(folder)).key
            except plex_delivery.DeliveryFailed:
                continue
        grouped.setdefault(key, []).append(job)
    return grouped


async def _items_of(
    plex: PlexClient,
    section_id: str,
    jobs: Sequence[YoutubeDownload],
    paths: plex_paths.PathMap,
) -> dict[uuid.UUID, list[PlexItem]]:
    """The items of `jobs` in the section (listed once), by download: by file path when
    Plex gives it, else by title (the "Plex Video Files" scanner's, the file's name)."""
    by_file: dict[tuple[Path, str], uuid.UUID] = {}
    by_title: dict[str, uuid.UUID | None] = {}
    for job in jobs:
        for stem in handoff.stems_of(job):
            by_file[(Path(job.folder or ""), stem)] = job.id
            by_title[stem] = job.id if stem not in by_title else None  # ambiguous: none
    found: dict[uuid.UUID, list[PlexItem]] = {}
    start = 0
    while True:
        page = await plex.section_items(section_id, start=start, size=plex_delivery.PAGE_SIZE)
        for item in page.items:
            local = [paths.to_local(f) for f in item.files]
            owners = [by_file.get((f.parent, f.stem)) for f in local if f is not None]
            owner = next((o for o in owners if o), None) if item.files else by_title.get(item.title)
            if owner is not None:
                found.setdefault(owner, []).append(item)
        start += len(page.items)
        if not page.items or start >= page.total:
            return found


async def _collections_of(
    plex: PlexClient, section_id: str, jobs: Sequence[YoutubeDownload]
) -> set[str]:
    """Which of the downloads' collections the section still has (listed once)."""
    wanted = {job.plex_collection_id for job in jobs if job.plex_collection_id}
    kept: set[str] = set()
    start = 0
    while wanted:
        snapshot = await plex.section_collections(
            section_id, start=start, size=plex_delivery.PAGE_SIZE
        )
        page = snapshot.value
        kept |= {c.rating_key for c in page.items} & wanted
        start += len(page.items)
        if not page.items or start >= page.total:
            break
    return kept
