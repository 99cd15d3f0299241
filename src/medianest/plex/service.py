"""Plex browsing: libraries, their items, collections and poster images, read from the
configured server with the owner's token and cached for ten minutes (the last good
answer is served, marked stale, while Plex is down)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from medianest.core.errors import NotFound, ValidationFailed
from medianest.integrations.http import UpstreamHTTPError
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexImage, PlexItem, PlexPage, PlexSection, Snapshot

# The default freshness of library data (the router passes the setting of the same value).
LIBRARY_CACHE_SECONDS = 600.0
# Collections of every library are listed from one page this large per library.
COLLECTIONS_PER_LIBRARY = 500
# Our sort names → Plex's fields; `title` sorts like Plex does (without "The").
SORT_FIELDS = {"title": "titleSort", "year": "year", "addedAt": "addedAt", "rating": "rating"}
SORT_PATTERN = r"^-?(title|year|addedAt|rating)(:(asc|desc))?$"
# Only library images can be fetched through the proxy (no other Plex path, no other host).
IMAGE_PATH = re.compile(
    r"^/library/(metadata|collections)/\d{1,12}/(thumb|art|composite)(/\d{1,12})?$"
)
IMAGE_FORMATS = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


@dataclass(frozen=True)
class CollectionDetail:
    collection: PlexItem
    items: PlexPage[PlexItem]
    stale: bool
    age_seconds: float | None


def plex_sort(sort: str | None) -> str | None:
    """`title`, `-year`, `addedAt:desc`... → Plex's `titleSort:asc`, `year:desc`..."""
    if not sort:
        return None
    match = re.fullmatch(SORT_PATTERN, sort)
    if match is None:
        raise ValidationFailed("Unknown sort.", details={"allowed": sorted(SORT_FIELDS)})
    descending = sort.startswith("-") or match.group(3) == "desc"
    return f"{SORT_FIELDS[match.group(1)]}:{'desc' if descending else 'asc'}"


async def libraries(
    plex: PlexClient, *, fresh_ttl: float = LIBRARY_CACHE_SECONDS
) -> Snapshot[list[PlexSection]]:
    return await plex.sections_snapshot(fresh_ttl=fresh_ttl)


async def library_items(
    plex: PlexClient,
    *,
    library_id: int,
    page: int,
    page_size: int,
    sort: str | None,
    search: str | None,
    fresh_ttl: float = LIBRARY_CACHE_SECONDS,
) -> Snapshot[PlexPage[PlexItem]]:
    try:
        return await plex.section_items_snapshot(
            library_id,
            start=(page - 1) * page_size,
            size=page_size,
            sort=plex_sort(sort),
            title=search,
            fresh_ttl=fresh_ttl,
        )
    except UpstreamHTTPError as exc:
        raise _not_found_or(exc, "No such library.") from None


async def collections(
    plex: PlexClient,
    *,
    library_id: int | None,
    page: int,
    page_size: int,
    fresh_ttl: float = LIBRARY_CACHE_SECONDS,
) -> Snapshot[PlexPage[PlexItem]]:
    """Collections of one library, or of every library when `library_id` is None."""
    start = (page - 1) * page_size
    if library_id is not None:
        try:
            return await plex.section_collections(
                library_id, start=start, size=page_size, fresh_ttl=fresh_ttl
            )
        except UpstreamHTTPError as exc:
            raise _not_found_or(exc, "No such library.") from None
    sections = await libraries(plex, fresh_ttl=fresh_ttl)
    found: list[PlexItem] = []
    stale, age = sections.stale, sections.age_seconds
    for section in sections.value:
        listing = await plex.section_collections(
            section.key, size=COLLECTIONS_PER_LIBRARY, fresh_ttl=fresh_ttl
        )
        found += listing.value.items
        stale = stale or listing.stale
        age = max(age or 0.0, listing.age_seconds or 0.0) if listing.stale else age
    found.sort(key=lambda c: (c.title_sort or c.title).lower())
    page_items = PlexPage(items=found[start : start + page_size], offset=start, total=len(found))
    return Snapshot(value=page_items, stale=stale, age_seconds=age)


async def collection_detail(
    plex: PlexClient,
    *,
    collection_id: int,
    page: int,
    page_size: int,
    fresh_ttl: float = LIBRARY_CACHE_SECONDS,
) -> CollectionDetail:
    meta = await plex.metadata_snapshot(collection_id, fresh_ttl=fresh_ttl)
    if meta.value is None or meta.value.type != "collection":
        raise NotFound("No such collection.")
    try:
        items = await plex.collection_items(
            collection_id,
            start=(page - 1) * page_size,
            size=page_size,
            fresh_ttl=fresh_ttl,
        )
    except UpstreamHTTPError as exc:
        raise _not_found_or(exc, "No such collection.") from None
    stale = meta.stale or items.stale
    ages = [a for a in (meta.age_seconds, items.age_seconds) if a is not None]
    return CollectionDetail(
        collection=meta.value,
        items=items.value,
        stale=stale,
        age_seconds=max(ages) if stale and ages else items.age_seconds,
    )


def check_image_path(path: str) -> str:
    """The path if it names a library image; anything else is refused (no SSRF)."""
    if not IMAGE_PATH.fullmatch(path):
        raise ValidationFailed("Only Plex library images can be shown.", details={"field": "path"})
    return path


async def image(plex: PlexClient, *, path: str, width: int | None, height: int | None) -> PlexImage:
    try:
        fetched = await plex.image(check_image_path(path), width=width, height=height)
    except UpstreamHTTPError as exc:
        raise _not_found_or(exc, "No such image.") from None
    if fetched.content_type not in IMAGE_FORMATS:
        # SVG or anything else could run script on our origin: only raster images pass.
        raise NotFound("No such image.")
    return fetched


def _not_found_or(exc: UpstreamHTTPError, message: str) -> Exception:
    return NotFound(message) if exc.upstream_status in (400, 404) else exc
