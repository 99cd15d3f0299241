"""What kind of Plex library (section) and of item MediaNest is looking at.

A section's `type` is its scanner's kind (python-plexapi library.py: MovieSection
`movie`, ShowSection `show`, MusicSection `artist`, PhotoSection `photo`); an "Other
Videos" library is a `movie` one whose agent fetches nothing (`tv.plex.agents.none`, or
`com.plexapp.agents.none` on older servers: plexapi tests/test_library.py). Items: Plex
calls a photo album and a photo both `photo`; the album is the one whose `key` lists
children (plexapi photo.py: Photoalbum is a `Directory`, Photo a `Photo`).
"""

from __future__ import annotations

from medianest.integrations.plex_models import PlexItem, PlexSection

NO_AGENT = frozenset({"tv.plex.agents.none", "com.plexapp.agents.none"})
# kind → (label, what its top-level entries are called: one, many)
LIBRARY_KINDS = {
    "movies": ("Movies", "film", "films"),
    "otherVideos": ("Other Videos", "video", "videos"),
    "shows": ("TV Shows", "show", "shows"),
    "music": ("Music", "artist", "artists"),
    "photos": ("Photos", "item", "items"),  # albums and loose photos
    "other": ("Other", "item", "items"),
}
SECTION_KINDS = {"movie": "movies", "show": "shows", "artist": "music", "photo": "photos"}
# What an item's `leafCount` counts, by item kind: (one, many).
LEAF_NOUNS = {
    "show": ("episode", "episodes"),
    "season": ("episode", "episodes"),
    "artist": ("track", "tracks"),
    "album": ("track", "tracks"),
    "photoalbum": ("photo", "photos"),
}

# What an opened item's children are called (`children.item_children`), by item kind.
CHILD_NOUNS = {
    "show": ("season", "seasons"),
    "season": ("episode", "episodes"),
    "artist": ("album", "albums"),
    "album": ("track", "tracks"),
}


def library_kind(section: PlexSection) -> str:
    """`movies`, `otherVideos`, `shows`, `music`, `photos` or `other`."""
    kind = SECTION_KINDS.get(section.type, "other")
    if kind == "movies" and section.agent in NO_AGENT:
        return "otherVideos"
    return kind


def library_label(section: PlexSection) -> str:
    return LIBRARY_KINDS[library_kind(section)][0]


def entry_noun(kind: str, count: int) -> str:
    """`2 artists`, `1 film`... for a library of `kind`."""
    _, one, many = LIBRARY_KINDS.get(kind, LIBRARY_KINDS["other"])
    return f"{count} {one if count == 1 else many}"


def item_kind(item: PlexItem) -> str:
    """The item's type, with a photo album told from a photo (`photoalbum`)."""
    if item.type == "photo" and (item.key or "").endswith("/children"):
        return "photoalbum"
    return item.type


def leaf_noun(kind: str, count: int) -> str:
    one, many = LEAF_NOUNS.get(kind, ("item", "items"))
    return f"{count} {one if count == 1 else many}"


def child_noun(kind: str, count: int) -> str:
    """`2 seasons`, `3 episodes`, `1 album`...: what an item of `kind` holds."""
    one, many = CHILD_NOUNS.get(kind, ("item", "items"))
    return f"{count} {one if count == 1 else many}"


def has_collections(section: PlexSection) -> bool:
    """Plex has no collections in a Photos library: python-plexapi never asks for them
    (library.py `LibrarySection._loadFilters` skips photo; `PhotoSection.collections`
    raises NotImplementedError), and neither does MediaNest."""
    return section.type != "photo"


def not_for_downloads(section: PlexSection) -> str | None:
    """Why YouTube downloads cannot be delivered into this library (None: they can).

    MediaNest's files are videos that Plex must list as `movie` items to collect them
    (`create_collection` with type 1); only a Movies or Other Videos library does that.
    """
    kind = library_kind(section)
    if kind in ("movies", "otherVideos"):
        return None
    label = LIBRARY_KINDS[kind][0]
    return (
        f'"{section.title}" is a {label} library: Plex lists no downloaded video there as a '
        "film, so MediaNest cannot collect its downloads in it. Add the download folder to an "
        "Other Videos (or Movies) library instead"
    )
