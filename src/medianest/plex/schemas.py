"""API shapes of Plex browsing, and the envelope whose `meta` says whether data is stale.

Images are never Plex URLs: every `posterUrl` points at our proxy, so the browser never
needs (or sees) the Plex token.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import quote

from medianest.core.envelope import ApiModel, Meta, PageMeta, now_utc
from medianest.integrations.outcomes import moment
from medianest.integrations.plex_models import PlexItem, PlexPlaylist, PlexSection
from medianest.plex import kinds

T = TypeVar("T")
IMAGE_ROUTE = "/api/plex/image"


class CacheMeta(Meta):
    """`stale`: Plex is down and this is the last good answer. `dataAt`: when Plex gave
    the data (None: read for this answer; the dashboard's Uptime Kuma `dataAt` says the
    same of Kuma's); its age is `timestamp` minus `dataAt`. A time
    rather than an age, so an answer whose data has not changed is the same answer (its
    ETag matches: core/conditional.py)."""

    stale: bool = False
    data_at: datetime | None = None


class CachePageMeta(PageMeta):
    stale: bool = False
    data_at: datetime | None = None


class CachedEnvelope(ApiModel, Generic[T]):
    success: Literal[True] = True
    data: T
    meta: CacheMeta


class CachedPagedEnvelope(ApiModel, Generic[T]):
    success: Literal[True] = True
    data: list[T]
    meta: CachePageMeta


def cached_envelope(data: T, *, stale: bool, read_at: float | None) -> CachedEnvelope[T]:
    meta = CacheMeta(timestamp=now_utc(), stale=stale, data_at=moment(read_at))
    return CachedEnvelope[T](data=data, meta=meta)


def cached_paged(
    items: list[T], *, page: int, page_size: int, total: int, stale: bool, read_at: float | None
) -> CachedPagedEnvelope[T]:
    meta = CachePageMeta(
        timestamp=now_utc(),
        page=page,
        page_size=page_size,
        total=total,
        stale=stale,
        data_at=moment(read_at),
    )
    return CachedPagedEnvelope[T](data=items, meta=meta)


def poster_url(path: str | None) -> str | None:
    """Our proxy URL for a Plex image path (None when the item has no image)."""
    return f"{IMAGE_ROUTE}?path={quote(path, safe='/')}" if path else None


class LibraryOut(ApiModel):
    """`type` is Plex's (`movie`, `show`, `artist`, `photo`); `kind` tells an Other Videos
    library from a Movies one (`plex/kinds.py`), `label` names the kind."""

    id: str
    title: str
    type: str
    kind: str
    label: str
    updated_at: int | None = None
    scanned_at: int | None = None
    refreshing: bool = False

    @classmethod
    def of(cls, section: PlexSection) -> LibraryOut:
        return cls(
            id=section.key,
            title=section.title,
            type=section.type,
            kind=kinds.library_kind(section),
            label=kinds.library_label(section),
            updated_at=section.updated_at,
            scanned_at=section.scanned_at,
            refreshing=section.refreshing,
        )


class PlexItemOut(ApiModel):
    """`type` is Plex's; `kind` is the same but `photoalbum` for a photo album (which Plex
    also calls `photo`)."""

    rating_key: str
    type: str
    kind: str
    title: str
    year: int | None = None
    summary: str | None = None
    poster_url: str | None = None
    duration_ms: int | None = None
    content_rating: str | None = None
    rating: float | None = None
    added_at: int | None = None
    child_count: int | None = None
    leaf_count: int | None = None

    @classmethod
    def of(cls, item: PlexItem) -> Self:
        return cls(**cls.fields_of(item))

    @classmethod
    def fields_of(cls, item: PlexItem) -> dict[str, Any]:
        """The fields' values for `item`; a subclass adds its own to these."""
        return {
            "rating_key": item.rating_key,
            "type": item.type,
            "kind": kinds.item_kind(item),
            "title": item.title,
            "year": item.year,
            "summary": item.summary,
            "poster_url": poster_url(item.thumb),
            "duration_ms": item.duration,
            "content_rating": item.content_rating,
            "rating": item.rating,
            "added_at": item.added_at,
            "child_count": item.child_count,
            "leaf_count": item.leaf_count,
        }


class CollectionOut(ApiModel):
    id: str
    title: str
    subtype: str | None = None  # what it collects: movie, show, artist, album...
    library_id: str | None = None
    child_count: int | None = None
    summary: str | None = None
    poster_url: str | None = None

    @classmethod
    def of(cls, item: PlexItem) -> CollectionOut:
        return cls(
            id=item.rating_key,
            title=item.title,
            subtype=item.subtype,
            library_id=library_key(item),
            child_count=item.child_count,
            summary=item.summary or None,
            poster_url=poster_url(item.thumb),
        )


class CollectionDetailOut(CollectionOut):
    """A collection with one page of its items (`total` counts them all)."""

    items: list[PlexItemOut]
    total: int


class PlaylistOut(ApiModel):
    """One of the signed-in user's own Plex playlists."""

    id: str
    title: str
    leaf_count: int
    duration_ms: int | None = None

    @classmethod
    def of(cls, playlist: PlexPlaylist) -> PlaylistOut:
        return cls(
            id=playlist.rating_key,
            title=playlist.title,
            leaf_count=playlist.leaf_count,
            duration_ms=playlist.duration,
        )


class PlaylistDetailOut(PlaylistOut):
    items: list[PlexItemOut]


class PlexEntryOut(PlexItemOut):
    """What a show, season, artist, album or photo album holds
    (`/api/plex/items/{id}/children`), with its place: `index` (a season's, episode's,
    album's or track's number), its parent (a season's show, an episode's season, an
    album's artist, a track's album, a photo's album), `parentIndex` (an episode's season
    number), the grandparent (an episode's show, a track's artist) and `airedOn` (an
    episode's `originallyAvailableAt`)."""

    index: int | None = None
    parent_rating_key: str | None = None
    parent_title: str | None = None
    parent_index: int | None = None
    grandparent_rating_key: str | None = None
    grandparent_title: str | None = None
    aired_on: date | None = None
    library_id: str | None = None

    @classmethod
    def fields_of(cls, item: PlexItem) -> dict[str, Any]:
        return super().fields_of(item) | {
            "index": item.index,
            "parent_rating_key": item.parent_rating_key,
            "parent_title": item.parent_title,
            "parent_index": item.parent_index,
            "grandparent_rating_key": item.grandparent_rating_key,
            "grandparent_title": item.grandparent_title,
            "aired_on": calendar_date(item.originally_available_at),
            "library_id": library_key(item),
        }


def library_key(item: PlexItem) -> str | None:
    """The id of the library `item` is in, as the API gives library ids (a string)."""
    return str(item.library_section_id) if item.library_section_id else None


def calendar_date(text: str | None) -> date | None:
    """Plex's `originallyAvailableAt` (`2010-01-08`); None when absent or not a date."""
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None
