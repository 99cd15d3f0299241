"""Opening a show, a season, an artist, an album or a photo album: what Plex lists inside
it, read as the rest of browsing is (the viewer's own token, `access.browsing_client`;
cached per token, the last good answer while Plex is down; a library not shared with the
viewer, or an item its restrictions leave out, is a 404).

A show's seasons, a season's episodes, an album's tracks and a photo album's albums and
photos are its `/library/metadata/{ratingKey}/children` (python-plexapi video.py
`Show.seasons`, `Season.episodes`, audio.py `Album.tracks`, photo.py
`Photoalbum.albums`/`photos`; a show's without Plex's "All episodes" entry:
`PlexClient.children`). An artist's albums are not: Plex lists only "true" albums
there and moved EPs, singles, live albums and compilations to the artist's hubs, so
python-plexapi's `Artist.albums` asks `/library/sections/{id}/all?type=9&artist.id=`
(pushingkarmaorg/python-plexapi PR #884), and so does MediaNest."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from medianest.core.errors import NotFound
from medianest.integrations.http import UpstreamHTTPError
from medianest.integrations.outcomes import oldest
from medianest.integrations.plex import PlexClient
from medianest.integrations.plex_models import PlexItem, PlexPage, Snapshot
from medianest.plex import kinds, service
from medianest.plex.privacy import Viewer

# What can be opened here (kinds.item_kind); collections have their own way.
OPENABLE = frozenset({"show", "season", "artist", "album", "photoalbum"})
NO_SUCH = "No such show, season, artist, album or photo album."
Listing = Callable[[int, int], Awaitable[Snapshot[PlexPage[PlexItem]]]]


@dataclass(frozen=True)
class ItemChildren:
    item: PlexItem
    children: PlexPage[PlexItem]
    stale: bool
    read_at: float | None


async def item_children(
    plex: PlexClient, *, viewer: Viewer, item_id: int, page: int, page_size: int
) -> ItemChildren:
    """A show's seasons, a season's episodes, an artist's albums (EPs and singles too), an
    album's tracks, or a photo album's albums and photos: one page, in Plex's order, with
    the item itself. Anything else, or an item the viewer may not see, is a 404."""
    try:
        meta = await plex.metadata_snapshot(item_id, cached=True)
    except UpstreamHTTPError as exc:
        raise service.not_found_or(exc, NO_SUCH, viewer) from None
    item = meta.value
    if item is None or kinds.item_kind(item) not in OPENABLE or not viewer.may_see(item):
        raise NotFound(NO_SUCH)
    listing = _listing(plex, item)
    try:
        section = await service.shared_section(plex, viewer, item.library_section_id)
        if viewer.filters(section):  # a library that may hold other users' downloads
            everything = await service.read_all(listing)
            shown = [child for child in everything.value if viewer.may_see(child)]
            children = service.page_of(shown, everything, page=page, page_size=page_size)
        else:
            children = await listing((page - 1) * page_size, page_size)
    except UpstreamHTTPError as exc:
        raise service.not_found_or(exc, NO_SUCH, viewer) from None
    return ItemChildren(
        item=item,
        children=children.value,
        stale=meta.stale or children.stale,
        read_at=oldest(meta.read_at, children.read_at),
    )


def _listing(plex: PlexClient, item: PlexItem) -> Listing:
    """How Plex lists what is inside `item`, a page (start, size) at a time."""
    section_id = item.library_section_id
    if item.type == "artist" and section_id is not None:
        return lambda start, size: plex.section_items_snapshot(
            section_id,
            start=start,
            size=size,
            item_type="album",
            artist=item.rating_key,
            cached=True,
        )
    return lambda start, size: plex.children(item.rating_key, start=start, size=size, cached=True)
