"""Plex browsing: libraries, their items, collections and poster images, read from the
configured server with the viewer's own token (the owner's for admins; chosen by
`access.browsing_client`) and cached for ten minutes per token (the last good answer is
served, marked stale, while Plex is down). A library not shared with the viewer is
absent from their list and a 404 here (Plex refuses it with 401). Other users' YouTube
downloads are left out for everyone but admins (`privacy.Viewer`)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from medianest.core.errors import MediaNestError, NotFound, ValidationFailed
from medianest.integrations.http import UpstreamHTTPError
from medianest.integrations.links import link_out
from medianest.integrations.outcomes import oldest
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexImage, PlexItem, PlexPage, PlexSection, Snapshot
from medianest.plex import kinds
from medianest.plex.access import NotShared
from medianest.plex.privacy import Viewer

# The default freshness of library data (the router passes the setting of the same value).
# Collections of every library are listed from one page this large per library.
COLLECTIONS_PER_LIBRARY = 500
# A library that may hold downloads is read whole for a user (in pages of FILTER_CHUNK)
# and paged here, so other users' items leave no holes and totals stay true.
FILTER_CHUNK = 200
MAX_FILTERED = 5000
# Our sort names → Plex's fields; `title` sorts like Plex does (without "The").
SORT_FIELDS = {"title": "titleSort", "year": "year", "addedAt": "addedAt", "rating": "rating"}
SORT_PATTERN = r"^-?(title|year|addedAt|rating)(:(asc|desc))?$"
# Only library images can be fetched through the proxy (no other Plex path, no other host).
IMAGE_PATH = re.compile(
    r"^/library/(metadata|collections)/(\d{1,12})/(thumb|art|composite)(/\d{1,12})?$"
)
IMAGE_FORMATS = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


@dataclass(frozen=True)
class CollectionDetail:
    collection: PlexItem
    items: PlexPage[PlexItem]
    stale: bool
    read_at: float | None


def plex_sort(sort: str | None) -> str | None:
    """`title`, `-year`, `addedAt:desc`... → Plex's `titleSort:asc`, `year:desc`..."""
    if not sort:
        return None
    match = re.fullmatch(SORT_PATTERN, sort)
    if match is None:
        raise ValidationFailed("Unknown sort.", details={"allowed": sorted(SORT_FIELDS)})
    descending = sort.startswith("-") or match.group(3) == "desc"
    return f"{SORT_FIELDS[match.group(1)]}:{'desc' if descending else 'asc'}"


async def libraries(plex: PlexClient, viewer: Viewer | None = None) -> Snapshot[list[PlexSection]]:
    """The libraries the client's token sees. Plex refusing a viewer's own token (their
    share was removed since it was looked up) forgets it and refuses the viewer."""
    try:
        return await plex.sections_snapshot(cached=True)
    except UpstreamHTTPError as exc:
        if viewer is None or viewer.sees_everything or exc.upstream_status != 401:
            raise
        if viewer.token_refused is not None:
            await viewer.token_refused()
        raise NotShared(details={"service": "plex", "reason": "not_shared"}) from None


async def library_items(
    plex: PlexClient,
    *,
    viewer: Viewer,
    library_id: int,
    page: int,
    page_size: int,
    sort: str | None,
    search: str | None,
) -> Snapshot[PlexPage[PlexItem]]:
    """One page of a library; in a library that may hold downloads, a user's page leaves
    out other users' (read whole and paged here, so totals stay true)."""
    plex_order = plex_sort(sort)
    try:
        section = await shared_section(plex, viewer, library_id)
        if not viewer.filters(section):
            return await plex.section_items_snapshot(
                library_id,
                start=(page - 1) * page_size,
                size=page_size,
                sort=plex_order,
                title=search,
                cached=True,
            )
        everything = await read_all(
            lambda start, size: plex.section_items_snapshot(
                library_id,
                start=start,
                size=size,
                sort=plex_order,
                title=search,
                cached=True,
            )
        )
    except UpstreamHTTPError as exc:
        raise not_found_or(exc, "No such library.", viewer) from None
    visible = [item for item in everything.value if viewer.may_see(item)]
    return page_of(visible, everything, page=page, page_size=page_size)


async def collections(
    plex: PlexClient,
    *,
    viewer: Viewer,
    library_id: int | None,
    page: int,
    page_size: int,
) -> Snapshot[PlexPage[PlexItem]]:
    """Collections of one library (`library_id`) or of every library; a user does not see
    a collection made only of other users' downloads."""
    start = (page - 1) * page_size
    if library_id is not None:
        try:
            section = await shared_section(plex, viewer, library_id)
            if section is not None and not kinds.has_collections(section):
                return Snapshot(value=PlexPage(items=[], offset=start, total=0))
            if not viewer.filters(section):
                return await plex.section_collections(
                    library_id, start=start, size=page_size, cached=True
                )
            listing = await read_all(
                lambda at, size: plex.section_collections(
                    library_id, start=at, size=size, cached=True
                )
            )
        except UpstreamHTTPError as exc:
            raise not_found_or(exc, "No such library.", viewer) from None
        shown = await _visible_collections(plex, viewer, listing.value)
        return page_of(shown, listing, page=page, page_size=page_size)
    sections = await libraries(plex, viewer)
    found: list[PlexItem] = []
    stale, read_at = sections.stale, sections.read_at
    for section in filter(kinds.has_collections, sections.value):
        per_library = await plex.section_collections(
            section.key, size=COLLECTIONS_PER_LIBRARY, cached=True
        )
        kept = per_library.value.items
        if viewer.filters(section):
            kept = await _visible_collections(plex, viewer, kept)
        found += kept
        stale = stale or per_library.stale
        read_at = oldest(read_at, per_library.read_at) if per_library.stale else read_at
    found.sort(key=lambda c: (c.title_sort or c.title).lower())
    page_items = PlexPage(items=found[start : start + page_size], offset=start, total=len(found))
    return Snapshot(value=page_items, stale=stale, read_at=read_at)


async def collection_detail(
    plex: PlexClient,
    *,
    viewer: Viewer,
    collection_id: int,
    page: int,
    page_size: int,
) -> CollectionDetail:
    try:
        meta = await plex.metadata_snapshot(collection_id, cached=True)
    except UpstreamHTTPError as exc:
        raise not_found_or(exc, "No such collection.", viewer) from None
    collection = meta.value
    if collection is None or collection.type != "collection":
        raise NotFound("No such collection.")
    try:
        section = await shared_section(plex, viewer, collection.library_section_id)
        if viewer.filters(section):
            everything = await read_all(
                lambda start, size: plex.collection_items(
                    collection_id, start=start, size=size, cached=True
                )
            )
            shown = [i for i in everything.value if viewer.may_see(i)]
            if not shown:  # only other users' downloads: it does not exist for this user
                raise NotFound("No such collection.")
            items = page_of(shown, everything, page=page, page_size=page_size)
            collection = collection.model_copy(update={"child_count": len(shown)})
        else:
            items = await plex.collection_items(
                collection_id,
                start=(page - 1) * page_size,
                size=page_size,
                cached=True,
            )
    except UpstreamHTTPError as exc:
        raise not_found_or(exc, "No such collection.", viewer) from None
    stale = meta.stale or items.stale
    return CollectionDetail(
        collection=collection,
        items=items.value,
        stale=stale,
        read_at=oldest(meta.read_at, items.read_at),
    )


async def web_app_address(plex: PlexClient) -> str | None:
    """The Plex web app on the configured server, at this server: items are opened at
    `<this>/details?key=/library/metadata/<ratingKey>`. None while Plex cannot say its id."""
    base = link_out(plex.http.base_url)
    if base is None:
        return None
    try:
        machine = await plex.machine_identifier()
    except MediaNestError:
        return None
    return f"{base.rstrip('/')}/web/index.html#!/server/{quote(machine, safe='')}"


async def refresh(plex: PlexClient) -> None:
    """Forget cached library answers: the next read asks Plex again (the page's Refresh)."""
    await plex.marks.library_changed()


def check_image_path(path: str) -> str:
    """The path if it names a library image; anything else is refused (no SSRF)."""
    if not IMAGE_PATH.fullmatch(path):
        raise ValidationFailed("Only Plex library images can be shown.", details={"field": "path"})
    return path


async def image(
    plex: PlexClient,
    *,
    viewer: Viewer,
    path: str,
    width: int | None,
    height: int | None,
) -> PlexImage:
    match = IMAGE_PATH.fullmatch(check_image_path(path))
    try:
        # The poster of another user's download (or of a collection of them), or of a
        # library not shared with the viewer, is not shown.
        hidden = (
            match is not None
            and not viewer.sees_everything
            and not await _may_see_object(plex, viewer, int(match.group(2)))
        )
        if hidden:
            raise NotFound("No such image.")
        fetched = await plex.image(path, width=width, height=height)
    except UpstreamHTTPError as exc:
        raise not_found_or(exc, "No such image.", viewer) from None
    if fetched.content_type not in IMAGE_FORMATS:
        # SVG or anything else could run script on our origin: only raster images pass.
        raise NotFound("No such image.")
    return fetched


# --- privacy helpers (also `children.py`'s) ----------------------------------------------
async def _section(plex: PlexClient, library_id: int | str | None) -> PlexSection | None:
    if library_id is None:
        return None
    sections = await plex.sections_snapshot(cached=True)
    return next((s for s in sections.value if s.key == str(library_id)), None)


async def shared_section(
    plex: PlexClient, viewer: Viewer, library_id: int | str | None
) -> PlexSection | None:
    """The library, which a viewer browsing with their own token must find in their list
    (an unshared one is not: a 404, whatever Plex would answer); None for admins when
    the owner's list does not name it (Plex answers for it)."""
    sections = (await libraries(plex, viewer)).value  # a refused token: 403 here too
    section = next((s for s in sections if s.key == str(library_id)), None)
    if section is None and not viewer.sees_everything:
        raise NotFound("No such library.")
    return section


async def read_all(
    fetch: Callable[[int, int], Awaitable[Snapshot[PlexPage[PlexItem]]]],
) -> Snapshot[list[PlexItem]]:
    """Every entry of a listing (up to MAX_FILTERED), page by page."""
    found: list[PlexItem] = []
    stale = False
    read_at: list[float | None] = []
    while len(found) < MAX_FILTERED:
        snapshot = await fetch(len(found), FILTER_CHUNK)
        found += snapshot.value.items
        stale = stale or snapshot.stale
        read_at.append(snapshot.read_at)
        if not snapshot.value.items or len(found) >= snapshot.value.total:
            break
    return Snapshot(value=found, stale=stale, read_at=oldest(*read_at))


def page_of(
    items: list[PlexItem], source: Snapshot[list[PlexItem]], *, page: int, page_size: int
) -> Snapshot[PlexPage[PlexItem]]:
    start = (page - 1) * page_size
    chosen = PlexPage(items=items[start : start + page_size], offset=start, total=len(items))
    return Snapshot(value=chosen, stale=source.stale, read_at=source.read_at)


async def _visible_collections(
    plex: PlexClient, viewer: Viewer, listing: list[PlexItem]
) -> list[PlexItem]:
    kept = []
    for collection in listing:
        shown = await _visible_in_collection(plex, viewer, collection.rating_key)
        if shown:  # counted without other users' items
            kept.append(collection.model_copy(update={"child_count": shown}))
    return kept


async def _visible_in_collection(plex: PlexClient, viewer: Viewer, collection_id: str | int) -> int:
    """How many items of a collection the viewer may see: a collection in a library that
    may hold downloads is shown when it is at least one (its title is a playlist name)."""
    items = await read_all(
        lambda start, size: plex.collection_items(
            collection_id, start=start, size=size, cached=True
        )
    )
    return sum(1 for item in items.value if viewer.may_see(item))


async def _may_see_object(plex: PlexClient, viewer: Viewer, rating_key: int) -> bool:
    meta = await plex.metadata_snapshot(rating_key, cached=True)
    if meta.value is None:
        # Unknown to the viewer's token: gone, or left out by their restrictions (Plex
        # answers such metadata 404). Its image is not asked for: whether Plex's image
        # endpoints and photo transcoder apply restrictions was never measured.
        return False
    section = await _section(plex, meta.value.library_section_id)
    if section is None and meta.value.library_section_id is not None:
        return False  # a library not shared with the viewer
    if meta.value.type != "collection":
        return viewer.may_see(meta.value)
    return not viewer.filters(section) or bool(
        await _visible_in_collection(plex, viewer, rating_key)
    )


def not_found_or(exc: UpstreamHTTPError, message: str, viewer: Viewer) -> Exception:
    """Plex's 400/404 is our 404; so is its 401/403 to a viewer's own token (a library
    not shared with them; to the owner's token it is a configuration fault)."""
    refused = exc.upstream_status in (401, 403) and not viewer.sees_everything
    return NotFound(message) if exc.upstream_status in (400, 404) or refused else exc
