"""Read endpoints of the Plex simulator: server info, sections, items, collections, search
and images. Every handler runs under the simulator's lock with the caller's account name.

A shared account's restrictions (`PlexSimulator.visible`) leave out what they do not admit
from every listing and make it a 404 by id (its metadata, children, images), as measured
on a real server (stevezau/shortlist tests/fixtures/pms_share_filter_allow_lists.json:
`/library/metadata/{keys}` answers only admitted keys, 404 when none). One exception,
measured there too: `/library/collections/{id}/children` does NOT apply the filter (it
listed every member); `/library/metadata/{id}/children` of a collection does."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from medianest_simulators.base import JSONDict
from medianest_simulators.plex_http import (
    answer,
    bad_request,
    container,
    not_found,
    paged,
    sorted_rows,
    tiny_png,
    unauthorized,
)
from medianest_simulators.plex_library import TYPE_NUMBERS
from medianest_simulators.plextv_models import OWNER_USERNAME, SERVER_NAME

if TYPE_CHECKING:
    from medianest_simulators.plex import PlexSimulator

TYPE_NAMES = {v: k for k, v in TYPE_NUMBERS.items()}
DEFAULT_KINDS = {"photo": ("photoalbum", "photo")}
SEARCH_HUBS = ("movie", "show", "episode", "artist", "album", "track", "photoalbum", "photo")
VERSION = "1.40.2.8395-c67dce28e"


class BrowseEndpoints:
    """GET handlers; see `PlexSimulator.routes` for the paths."""

    def __init__(self, sim: PlexSimulator) -> None:
        self.sim = sim

    async def identity(self, request: Request, account: str) -> Response:
        return answer(
            request,
            container(
                None, claimed=True, machineIdentifier=self.sim.machine_identifier, version=VERSION
            ),
        )

    async def root(self, request: Request, account: str) -> Response:
        return answer(
            request,
            container(
                [{"count": 1, "key": "library", "title": "library"}],
                key="Directory",
                friendlyName=SERVER_NAME,
                machineIdentifier=self.sim.machine_identifier,
                myPlex=True,
                myPlexUsername=OWNER_USERNAME,
                myPlexSigninState="ok",
                platform="Linux",
                platformVersion="6.1",
                version=VERSION,
                allowSync=True,
                transcoderActiveVideoSessions=0,
            ),
        )

    async def library(self, request: Request, account: str) -> Response:
        dirs = [
            {"key": "sections", "title": "Library Sections"},
            {"key": "recentlyAdded", "title": "Recently Added Content"},
            {"key": "onDeck", "title": "On Deck Content"},
        ]
        return answer(
            request,
            container(
                dirs,
                key="Directory",
                allowSync=False,
                identifier="com.plexapp.plugins.library",
                mediaTagPrefix="/system/bundle/media/flags/",
                title1="Plex Library",
            ),
        )

    async def sessions(self, request: Request, account: str) -> Response:
        return answer(request, container([]))

    async def sections(self, request: Request, account: str) -> Response:
        dirs = [
            s.as_json()
            for s in self.sim.library.sections.values()
            if self.sim.shares_section(account, s.id)
        ]
        return answer(
            request, container(dirs, key="Directory", allowSync=False, title1="Plex Library")
        )

    async def section_all(self, request: Request, account: str) -> Response:
        library = self.sim.library
        section = library.sections.get(int(request.path_params["sid"]))
        if section is None:
            return not_found()
        if not self.sim.shares_section(account, section.id):
            return unauthorized()
        q = request.query_params
        type_name = TYPE_NAMES.get(int(q["type"])) if q.get("type", "").isdigit() else None
        if type_name == "collection":
            return self.collections_page(request, section.id, account)
        # Without `type`, a photo library lists its top level: albums and loose photos
        # (plexapi library.py PhotoSection.all asks for photoalbums).
        kinds = (type_name,) if type_name else DEFAULT_KINDS.get(section.type, (section.type,))
        rows = [
            i
            for i in library.items.values()
            if i.section_id == section.id
            and i.type in kinds
            and (section.type != "photo" or i.parent is None or type_name == "photo")
            and self.sim.visible(i, account)
        ]
        type_name = type_name or section.type
        if q.get("title"):
            rows = [i for i in rows if q["title"].lower() in i.title.lower()]
        if q.get("label"):
            rows = [i for i in rows if q["label"] in i.labels]
        if q.get("artist.id"):  # an artist's albums, EPs and singles (plexapi Artist.albums)
            rows = [i for i in rows if str(i.parent) == q["artist.id"]]
        data = sorted_rows(request, [library.item_json(i) for i in rows])
        return paged(
            request,
            data,
            librarySectionID=section.id,
            librarySectionTitle=section.title,
            viewGroup=type_name,
        )

    def collections_page(self, request: Request, section_id: int, account: str) -> Response:
        library = self.sim.library
        rows = [
            library.collection_json(c)
            for c in library.collections.values()
            if c.section_id == section_id and self.sim.visible_collection(c, account)
        ]
        return paged(request, sorted_rows(request, rows), librarySectionID=section_id)

    async def section_collections(self, request: Request, account: str) -> Response:
        section_id = int(request.path_params["sid"])
        if section_id not in self.sim.library.sections:
            return not_found()
        if not self.sim.shares_section(account, section_id):
            return unauthorized()
        return self.collections_page(request, section_id, account)

    async def recently_added(self, request: Request, account: str) -> Response:
        rows = [
            self.sim.library.item_json(i)
            for i in self.sim.library.items.values()
            if i.type in ("movie", "episode") and self.sim.visible(i, account)
        ]
        rows.sort(key=lambda d: int(d["addedAt"]), reverse=True)
        return paged(request, rows)

    async def search(self, request: Request, account: str) -> Response:
        library, q = self.sim.library, request.query_params
        query, limit = q.get("query", "").lower(), int(q.get("limit") or 10)
        section = int(q["sectionId"]) if q.get("sectionId", "").isdigit() else None
        hubs = []
        for hub_type in (*SEARCH_HUBS, "collection"):
            if hub_type == "collection":
                rows = [
                    library.collection_json(c)
                    for c in library.collections.values()
                    if query in c.title.lower()
                    and section in (None, c.section_id)
                    and self.sim.visible_collection(c, account)
                ]
            else:
                rows = [
                    library.item_json(i)
                    for i in library.items.values()
                    if i.type == hub_type
                    and query in i.title.lower()
                    and section in (None, i.section_id)
                    and self.sim.visible(i, account)
                ]
            hubs.append(
                {
                    "title": hub_type.capitalize() + "s",
                    "type": hub_type,
                    "hubIdentifier": hub_type,
                    "context": f"hub.{hub_type}",
                    "size": len(rows[:limit]),
                    "more": len(rows) > limit,
                    "style": "shelf",
                    "Metadata": rows[:limit],
                }
            )
        return answer(request, container(hubs, key="Hub"))

    async def metadata(self, request: Request, account: str) -> Response:
        library, rk = self.sim.library, int(request.path_params["rk"])
        if not self.sim.shares_section(account, self.sim.section_of(rk)):
            return unauthorized()
        known = rk in library.items or rk in library.collections
        if not known or not self.sim.visible_key(rk, account):
            return not_found()  # unknown, or left out by the share's restrictions
        col = library.collections.get(rk)
        if col is not None:
            return answer(request, container([library.collection_json(col)]))
        return answer(request, container([library.item_json(library.items[rk])]))

    async def children(self, request: Request, account: str) -> Response:
        """A show's seasons, a season's episodes, an artist's albums, an album's tracks, a
        photo album's albums and photos (plexapi video.py Show.seasons, Season.episodes,
        audio.py Album.tracks, photo.py Photoalbum.albums/photos), in their `index` order
        (a show's "Specials", season 0, first), each as its share lets the account see it;
        a show's start with the "All episodes" entry unless asked `excludeAllLeaves=1`. An artist's EPs and singles are not among its children: Plex moved
        them to the artist's hubs (python-plexapi PR #884; `Artist.albums` asks
        `/library/sections/{id}/all?type=9&artist.id=` instead). A collection's members too, as
        the account's restrictions let it see them."""
        library, rk = self.sim.library, int(request.path_params["rk"])
        if rk in library.collections:  # a collection's members, as the account sees them
            return self.members(request, account, filtered=True)
        item = library.items.get(rk)
        if item is not None and not self.sim.shares_section(account, item.section_id):
            return unauthorized()
        if item is None or not self.sim.visible(item, account):
            return not_found()
        found = library.children(item.rating_key)
        if item.type == "artist":
            found = [c for c in found if not c.formats]
        rows = [library.item_json(c) for c in found if self.sim.visible(c, account)]
        if item.type == "show" and request.query_params.get("excludeAllLeaves") != "1":
            rows.insert(0, all_episodes(library.item_json(item)))
        section = library.sections[item.section_id]
        view_group = {"artist": "album", "album": "track", "show": "season", "season": "episode"}
        return paged(
            request,
            rows,
            parentRatingKey=str(item.rating_key),
            title1=section.title,
            title2=item.title,
            librarySectionID=section.id,
            librarySectionTitle=section.title,
            viewGroup=view_group.get(item.type, "photo"),
        )

    async def collection(self, request: Request, account: str) -> Response:
        col = self.sim.library.collections.get(int(request.path_params["rk"]))
        if col is None:
            return not_found()
        if not self.sim.shares_section(account, col.section_id):
            return unauthorized()
        if not self.sim.visible_collection(col, account):
            return not_found()
        return answer(request, container([self.sim.library.collection_json(col)]))

    async def collection_items(self, request: Request, account: str) -> Response:
        return self.members(request, account, filtered=False)

    def members(self, request: Request, account: str, *, filtered: bool) -> Response:
        """A collection's items: by `/library/metadata/{id}/children` (`filtered`: the
        collection and its members as the share's restrictions admit them), or by
        `/library/collections/{id}/children`, which a real server answers unfiltered."""
        library = self.sim.library
        col = library.collections.get(int(request.path_params["rk"]))
        if col is None:
            return not_found()
        if not self.sim.shares_section(account, col.section_id):
            return unauthorized()
        if filtered and not self.sim.visible_collection(col, account):
            return not_found()
        items = [library.items[k] for k in col.items if k in library.items]
        rows = [library.item_json(i) for i in items if not filtered or self.sim.visible(i, account)]
        return paged(request, rows, title1=col.title)

    async def image(self, request: Request, account: str) -> Response:
        library, rk = self.sim.library, int(request.path_params["rk"])
        known = rk in library.items or rk in library.collections or rk in library.playlists
        if not known or request.path_params.get("kind", "thumb") not in (
            "thumb",
            "art",
            "composite",
        ):
            return not_found()
        if not self.sim.shares_section(account, self.sim.section_of(rk)):
            return unauthorized()
        if not self.sim.visible_key(rk, account):
            return not_found()  # as its metadata: left out by the share's restrictions
        return Response(tiny_png(rk), media_type="image/png")

    async def transcode(self, request: Request, account: str) -> Response:
        url = request.query_params.get("url", "") + "/"
        match = re.search(r"/(?:metadata|collections|playlists)/(\d+)/", url)
        if match is None:
            return bad_request("missing url")
        rk = int(match.group(1))
        if not self.sim.shares_section(account, self.sim.section_of(rk)):
            return unauthorized()
        if not self.sim.visible_key(rk, account):
            return not_found()  # the image of what the share's restrictions leave out
        width = int(request.query_params.get("width") or 2)
        height = int(request.query_params.get("height") or 3)
        png = tiny_png(int(match.group(1)), min(width, 64), min(height, 64))
        return Response(png, media_type="image/png")


def all_episodes(show: JSONDict) -> JSONDict:
    """The entry Plex lists first among a show's children unless the request says
    `excludeAllLeaves=1` — which is why python-plexapi video.py `Show.seasons`,
    `Show.season` and `Episode._season` always say it: a `Directory` leading to the
    show's `/allLeaves`, with no ratingKey and no type."""
    rk = show["ratingKey"]
    return {
        "key": f"/library/metadata/{rk}/allLeaves",
        "title": "All episodes",
        "leafCount": show["leafCount"],
        "viewedLeafCount": show["viewedLeafCount"],
        "thumb": show["thumb"],
    }
