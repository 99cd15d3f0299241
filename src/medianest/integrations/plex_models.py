"""Typed shapes of Plex Media Server JSON answers (`MediaContainer` and what it holds).

Plex capitalises child lists (`Directory`, `Metadata`, `Hub`, `Location`, `Label`,
`Media`, `Part`) and sometimes sends numbers as strings; the models accept both and
ignore fields we do not use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import Field, field_validator

from medianest.integrations.upstream_model import UpstreamModel

T = TypeVar("T")

# Item type numbers for `type=` filters and collection creation.
# python-plexapi utils.SEARCHTYPES.
PLEX_TYPE_NUMBERS = {
    "movie": 1,
    "show": 2,
    "season": 3,
    "episode": 4,
    "artist": 8,
    "album": 9,
    "track": 10,
    "photo": 13,
    "photoalbum": 14,
    "collection": 18,
}


class PlexModel(UpstreamModel):
    """An answer of Plex Media Server (integrations/upstream_model.py)."""


class PlexIdentity(PlexModel):
    machine_identifier: str
    version: str | None = None
    claimed: bool | None = None


class PlexServerInfo(PlexModel):
    machine_identifier: str
    friendly_name: str | None = None
    my_plex_username: str | None = None
    platform: str | None = None
    version: str | None = None


class PlexLocation(PlexModel):
    id: int | None = None
    path: str


class PlexSection(PlexModel):
    key: str
    type: str
    title: str
    agent: str | None = None
    scanner: str | None = None
    language: str | None = None
    uuid: str | None = None
    refreshing: bool = False
    updated_at: int | None = None
    scanned_at: int | None = None
    thumb: str | None = None
    locations: list[PlexLocation] = Field(default_factory=list, alias="Location")

    @field_validator("key", mode="before")
    @classmethod
    def _key_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class PlexTag(PlexModel):
    tag: str


class PlexPart(PlexModel):
    id: int | None = None
    key: str | None = None
    file: str | None = None
    size: int | None = None
    duration: int | None = None
    container: str | None = None


class PlexMedia(PlexModel):
    id: int | None = None
    duration: int | None = None
    container: str | None = None
    video_resolution: str | None = None
    parts: list[PlexPart] = Field(default_factory=list, alias="Part")


class PlexItem(PlexModel):
    """A movie, show, season, episode, artist, album, track, photo album, photo or
    collection (`Metadata[]` entries; fields as python-plexapi video.py/audio.py read them)."""

    rating_key: str
    key: str | None = None
    guid: str | None = None
    type: str
    title: str
    title_sort: str | None = None
    subtype: str | None = None
    year: int | None = None
    summary: str | None = None
    thumb: str | None = None
    art: str | None = None
    added_at: int | None = None
    updated_at: int | None = None
    duration: int | None = None
    content_rating: str | None = None
    rating: float | None = None
    index: int | None = None
    leaf_count: int | None = None
    child_count: int | None = None
    originally_available_at: str | None = None  # "2010-01-08": an episode's air date
    parent_rating_key: str | None = None
    parent_title: str | None = None
    parent_index: int | None = None  # an episode's season number
    grandparent_rating_key: str | None = None
    grandparent_title: str | None = None
    library_section_id: int | None = Field(default=None, alias="librarySectionID")
    library_section_title: str | None = None
    playlist_item_id: int | None = Field(default=None, alias="playlistItemID")
    labels: list[PlexTag] = Field(default_factory=list, alias="Label")
    media: list[PlexMedia] = Field(default_factory=list, alias="Media")

    @field_validator("rating_key", "parent_rating_key", "grandparent_rating_key", mode="before")
    @classmethod
    def _rating_key_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @property
    def files(self) -> list[str]:
        return [p.file for m in self.media for p in m.parts if p.file]


class PlexPlaylist(PlexModel):
    rating_key: str
    title: str
    key: str | None = None
    playlist_type: str | None = None
    smart: bool = False
    leaf_count: int = 0
    duration: int | None = None
    added_at: int | None = None
    updated_at: int | None = None

    @field_validator("rating_key", mode="before")
    @classmethod
    def _rating_key_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class PlexHub(PlexModel):
    type: str
    hub_identifier: str | None = None
    title: str
    size: int = 0
    items: list[PlexItem] = Field(default_factory=list, alias="Metadata")


@dataclass(frozen=True)
class PlexPage(Generic[T]):
    """One page of a paged listing; `total` is the size of the whole listing."""

    items: list[T]
    offset: int
    total: int


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """A value read through the cache; `stale` when it is the last good answer of a Plex
    that is down, `read_at` when Plex gave it (epoch seconds; None when not cached)."""

    value: T
    stale: bool = False
    read_at: float | None = None


@dataclass(frozen=True)
class PlexImage:
    content: bytes
    content_type: str
