"""The Plex simulator's library: sections, items, collections, playlists, their JSON form
(MediaContainer `Metadata`), and the scan of the YouTube folder."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from medianest_simulators.base import JSONDict
from medianest_simulators.plex_scanner import lists_file

# python-plexapi utils.SEARCHTYPES: the `type=` numbers of /library/sections/{id}/all.
TYPE_NUMBERS = {
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
# Kinds whose `key` lists children (`.../children`), as Plex sends them.
PARENT_KINDS = ("show", "season", "artist", "album", "photoalbum")
LEAF_KINDS = ("movie", "episode", "track", "photo")
VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".m4a", ".mp3"}
BASE_TIME = 1_700_000_000
MOVIES_SECTION, SHOWS_SECTION, YOUTUBE_SECTION = 1, 2, 3
MUSIC_SECTION, PHOTOS_SECTION, HOME_VIDEOS_SECTION = 4, 5, 6
WINDOWS_PATH = re.compile(r"^([A-Za-z]:[\\/]|\\\\[^\\]+\\[^\\]+)")


def locked_json(locked: list[str]) -> JSONDict:
    """The fields an edit locked, as Plex lists them (plexapi base.py `fields`, `Field`)."""
    return {"Field": [{"name": n, "locked": True} for n in locked]} if locked else {}


def title_sort(title: str) -> str:
    for article in ("The ", "A ", "An "):
        if title.startswith(article):
            return title[len(article) :]
    return title


@dataclass
class Section:
    id: int
    type: str
    title: str
    agent: str
    scanner: str
    location: str  # as Plex names it (what it reports, what `path=` must be under)
    disk_dir: str | None = None  # where this process reads it, when Plex's path is not real here

    def as_json(self) -> JSONDict:
        return {
            "allowSync": True,
            "art": f"/:/resources/{self.type}-fanart.jpg",
            "thumb": f"/:/resources/{self.type}.png",
            "key": str(self.id),
            "type": self.type,
            "title": self.title,
            "agent": self.agent,
            "scanner": self.scanner,
            "language": "en-US",
            "uuid": f"00000000-0000-4000-8000-{self.id:012d}",
            "refreshing": False,
            "filters": True,
            "content": True,
            "directory": True,
            "hidden": 0,
            "createdAt": BASE_TIME,
            "updatedAt": BASE_TIME,
            "scannedAt": BASE_TIME,
            "contentChangedAt": 1,
            "Location": [{"id": self.id, "path": self.location}],
        }


@dataclass
class Item:
    """A movie, show, season, episode, artist, album, track, photo album or photo
    (`photoalbum` here; Plex calls both photo kinds `photo` in its answers)."""

    rating_key: int
    section_id: int
    type: str
    title: str
    year: int | None = None
    summary: str = ""
    added_at: int = BASE_TIME
    duration: int = 0
    content_rating: str = ""
    rating: float = 0.0
    parent: int | None = None
    index: int | None = None
    file: str | None = None
    size: int = 0
    labels: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)  # an album's "EP", "Single"... (Format)
    aired: str | None = None  # an episode's air date (`originallyAvailableAt`), else Jan 1
    locked: list[str] = field(default_factory=list)  # fields an edit locked (`Field`)

    @property
    def updated_at(self) -> int:
        return self.added_at + 60


@dataclass
class Collection:
    rating_key: int
    section_id: int
    title: str
    items: list[int]
    added_at: int = BASE_TIME
    subtype: str | None = None  # what it collects; by default the section's kind
    labels: list[str] = field(default_factory=list)  # share restrictions match them
    content_rating: str = ""  # none until edited (plexapi collection.py `contentRating`)
    locked: list[str] = field(default_factory=list)


@dataclass
class Playlist:
    rating_key: int
    owner: str
    title: str
    entries: list[tuple[int, int]]  # (playlistItemID, item ratingKey)
    added_at: int = BASE_TIME


class Library:
    """All library data of the simulated server (guarded by the simulator's lock)."""

    def __init__(self, youtube_dir: str) -> None:
        self.sections: dict[int, Section] = {
            MOVIES_SECTION: Section(
                1, "movie", "Movies", "tv.plex.agents.movie", "Plex Movie", "/data/movies"
            ),
            SHOWS_SECTION: Section(
                2, "show", "TV Shows", "tv.plex.agents.series", "Plex TV Series", "/data/tv"
            ),
            YOUTUBE_SECTION: Section(
                3, "movie", "YouTube", "tv.plex.agents.none", "Plex Video Files", youtube_dir
            ),
            # The agents and scanners python-plexapi's tools/plex-bootstraptest.py creates
            # these kinds with; an "Other Videos" library is a `movie` one without an agent.
            MUSIC_SECTION: Section(
                4, "artist", "Music", "tv.plex.agents.music", "Plex Music", "/data/music"
            ),
            PHOTOS_SECTION: Section(
                5,
                "photo",
                "Photos",
                "com.plexapp.agents.none",
                "Plex Photo Scanner",
                "/data/photos",
            ),
            HOME_VIDEOS_SECTION: Section(
                6,
                "movie",
                "Home Videos",
                "tv.plex.agents.none",
                "Plex Video Files",
                "/data/home-videos",
            ),
        }
        self.items: dict[int, Item] = {}
        self.collections: dict[int, Collection] = {}
        self.playlists: dict[int, Playlist] = {}
        self.next_key = 5001
        self.clock = BASE_TIME + 10_000

    def new_key(self) -> int:
        self.next_key += 1
        return self.next_key

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def children(self, rk: int) -> list[Item]:
        found = [i for i in self.items.values() if i.parent == rk]
        return sorted(found, key=lambda i: i.index or 0)

    def leaves(self, item: Item) -> list[Item]:
        if item.type in LEAF_KINDS:
            return [item]
        return [leaf for child in self.children(item.rating_key) for leaf in self.leaves(child)]

    # --- JSON ------------------------------------------------------------------------
    def item_json(self, item: Item) -> JSONDict:
        rk, section = item.rating_key, self.sections[item.section_id]
        data: JSONDict = {
            "ratingKey": str(rk),
            "key": f"/library/metadata/{rk}" + ("/children" if item.type in PARENT_KINDS else ""),
            "guid": f"plex://{item.type}/sim{rk:08x}",
            "type": "photo" if item.type == "photoalbum" else item.type,
            "title": item.title,
            "titleSort": title_sort(item.title),
            "summary": item.summary,
            "librarySectionID": section.id,
            "librarySectionTitle": section.title,
            "librarySectionKey": f"/library/sections/{section.id}",
            "thumb": f"/library/metadata/{rk}/thumb/{item.updated_at}",
            "art": f"/library/metadata/{rk}/art/{item.updated_at}",
            "addedAt": item.added_at,
            "updatedAt": item.updated_at,
        }
        if item.year is not None:
            data["year"] = item.year
            if item.type != "season":  # plexapi video.py: a Season has a year, no date
                data["originallyAvailableAt"] = item.aired or f"{item.year}-01-01"
        if item.content_rating:
            data["contentRating"] = item.content_rating
        if item.rating:
            data["rating"] = item.rating
        if item.duration:
            data["duration"] = item.duration
        if item.index is not None:
            data["index"] = item.index
        if item.parent is not None:
            data |= self._lineage_json(self.items[item.parent])
            if item.type == "track":  # a track shows its album's cover
                album = self.items[item.parent]
                data["thumb"] = f"/library/metadata/{album.rating_key}/thumb/{album.updated_at}"
        if item.type in ("show", "season", "album"):  # no play state: nothing viewed
            data |= {"leafCount": len(self.leaves(item)), "viewedLeafCount": 0}
        if item.type in ("show", "season"):
            data["childCount"] = len(self.children(item.rating_key))
        if item.type == "photoalbum":  # plexapi photo.py Photoalbum.composite
            data["composite"] = f"/library/metadata/{rk}/composite/{item.updated_at}"
        if item.file is not None:
            data["Media"] = media_json(item, item.file)
        for name, tags in (("Label", item.labels), ("Format", item.formats)):
            if tags:
                data[name] = [{"tag": tag} for tag in tags]
        return data | locked_json(item.locked)

    def _lineage_json(self, parent: Item) -> JSONDict:
        """The parent* fields of a season or episode, and for an episode the grandparent*
        (its show) and parentIndex (its season's number)."""
        data: JSONDict = {
            "parentRatingKey": str(parent.rating_key),
            "parentTitle": parent.title,
            "parentKey": f"/library/metadata/{parent.rating_key}",
        }
        if parent.parent is not None:
            grand = self.items[parent.parent]
            data |= {
                "grandparentRatingKey": str(grand.rating_key),
                "grandparentKey": f"/library/metadata/{grand.rating_key}",
                "grandparentTitle": grand.title,
                "parentIndex": parent.index,
            }
        return data

    def collection_json(self, col: Collection) -> JSONDict:
        section = self.sections[col.section_id]
        years = [self.items[rk].year or 0 for rk in col.items if rk in self.items]
        data: JSONDict = {
            "ratingKey": str(col.rating_key),
            "key": f"/library/collections/{col.rating_key}/children",
            "guid": f"collection://sim-{col.rating_key}",
            "type": "collection",
            "title": col.title,
            "titleSort": title_sort(col.title),
            "subtype": col.subtype or section.type,
            "summary": "",
            "index": col.rating_key,
            "librarySectionID": section.id,
            "librarySectionTitle": section.title,
            "librarySectionKey": f"/library/sections/{section.id}",
            "thumb": f"/library/collections/{col.rating_key}/composite/{col.added_at}",
            "addedAt": col.added_at,
            "updatedAt": col.added_at,
            "childCount": str(len(col.items)),
        }
        if years:
            data |= {"minYear": str(min(years)), "maxYear": str(max(years))}
        if col.labels:
            data["Label"] = [{"tag": label} for label in col.labels]
        if col.content_rating:
            data["contentRating"] = col.content_rating
        return data | locked_json(col.locked)

    def playlist_json(self, pl: Playlist) -> JSONDict:
        leaves = [self.items[rk] for _, rk in pl.entries if rk in self.items]
        return {
            "ratingKey": str(pl.rating_key),
            "key": f"/playlists/{pl.rating_key}/items",
            "guid": f"com.plexapp.agents.none://sim-{pl.rating_key}",
            "type": "playlist",
            "title": pl.title,
            "summary": "",
            "smart": False,
            "playlistType": "video",
            "composite": f"/playlists/{pl.rating_key}/composite/{pl.added_at}",
            "icon": "playlist://image.smart",
            "leafCount": len(leaves),
            "duration": sum(i.duration for i in leaves),
            "addedAt": pl.added_at,
            "updatedAt": pl.added_at,
        }

    # --- YouTube folder scan ----------------------------------------------------------
    def scan(self, section_id: int, path: str | None) -> list[int]:
        """Add new media files under the section's folder (or `path` inside it), drop gone
        ones; returns the new ratingKeys. Like Plex, it knows only its own view: `path`
        must name a place under the section's Location as Plex spells it (no resolving of
        symlinks, nothing of the caller's view), and files are recorded under it."""
        section = self.sections[section_id]
        if section.type != "movie":
            return []  # the Music and Photo scanners list no video file as a movie
        location = plex_path(section.location)
        disk = Path(section.disk_dir or section.location)
        target = plex_path(path) if path else location
        relative = _relative(target, location)
        if relative is None or not disk.is_dir():
            return []  # Plex ignores paths outside the section's folders
        known = {i.file: i for i in self.items.values() if i.section_id == section_id and i.file}
        for known_file, item in known.items():
            below = _relative(plex_path(known_file), location)
            inside = below is not None and _relative(plex_path(known_file), target) is not None
            if inside and below is not None and not disk.joinpath(*below).is_file():
                self.delete_item(item.rating_key)
        added: list[int] = []
        target_disk = disk.joinpath(*relative)
        if not target_disk.is_dir():
            return added
        for file in sorted(target_disk.rglob("*")):
            if file.suffix.lower() not in VIDEO_SUFFIXES or not lists_file(file, disk):
                continue  # not a video, or one Plex's scanner leaves out (plex_scanner.py)
            reported = str(location.joinpath(*file.relative_to(disk).parts))
            if reported in known:
                continue
            rk = self.new_key()
            self.items[rk] = Item(
                rk,
                section_id,
                "movie",
                file.stem,
                summary=f"Scanned from {file.name}",
                added_at=self.tick(),
                file=reported,
                size=file.stat().st_size,
            )
            added.append(rk)
        return added

    def delete_item(self, rk: int) -> None:
        self.items.pop(rk, None)
        for col in self.collections.values():
            col.items = [k for k in col.items if k != rk]
        for pl in self.playlists.values():
            pl.entries = [e for e in pl.entries if e[1] != rk]
        for child in [i.rating_key for i in self.items.values() if i.parent == rk]:
            self.delete_item(child)


def media_json(item: Item, file: str) -> list[JSONDict]:
    """The `Media` list of an item with a file: one medium with one part, as Plex shows it."""
    rk, suffix = item.rating_key, Path(file).suffix.lstrip(".")
    medium: JSONDict = {"id": rk, "duration": item.duration, "container": suffix}
    if item.type == "photo":  # plex-api.rs tests/mocks/server/media/photo_album.json
        medium = {"id": rk, "width": 1280, "height": 720, "container": suffix}
    elif item.type == "track":  # ... music_tracks.json
        medium |= {"audioChannels": 2, "audioCodec": suffix}
    else:
        medium["videoResolution"] = "sd"
    return [
        medium
        | {
            "Part": [
                {
                    "id": rk,
                    "key": f"/library/parts/{rk}/{item.added_at}/file.{suffix}",
                    "duration": item.duration,
                    "file": file,
                    "size": item.size,
                    "container": suffix,
                }
            ],
        }
    ]


def plex_path(path: str) -> PurePath:
    """A path as Plex parses it: Windows (`C:\\...`, `\\\\server\\share`) or POSIX."""
    return PureWindowsPath(path) if WINDOWS_PATH.match(path) else PurePosixPath(path)


def _relative(path: PurePath, root: PurePath) -> tuple[str, ...] | None:
    """`path`'s names below `root` (compared the way the path's system does), or None."""
    if type(path) is not type(root) or ".." in path.parts:
        return None
    return path.relative_to(root).parts if path.is_relative_to(root) else None
