"""Write endpoints of the Plex simulator: refresh (scan), labels and content ratings,
collections, deletion and playlists, which belong to the account whose token created them."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from medianest_simulators.plex_http import (
    answer,
    bad_request,
    container,
    not_found,
    paged,
    unauthorized,
)
from medianest_simulators.plex_library import Collection, Item, Playlist
from medianest_simulators.plextv_models import OWNER_USERNAME

if TYPE_CHECKING:
    from medianest_simulators.plex import PlexSimulator

ADD_LABEL_RE = re.compile(r"label\[\d*\]\.tag\.tag")
COLLECTION_TYPE = "18"  # python-plexapi utils.SEARCHTYPES


class EditEndpoints:
    """Handlers that change the library; owner-only ones are marked in the route table."""

    def __init__(self, sim: PlexSimulator) -> None:
        self.sim = sim

    async def refresh(self, request: Request, account: str) -> Response:
        library = self.sim.library
        sid, path = request.path_params["sid"], request.query_params.get("path")
        ids = list(library.sections) if sid == "all" else [int(sid)] if sid.isdigit() else []
        if not ids or any(i not in library.sections for i in ids):
            return not_found()
        added = [rk for i in ids for rk in library.scan(i, path)]
        self.sim.refresh_calls.append(
            {
                "sectionId": sid,
                "path": path,
                "method": request.method,
                "added": [str(k) for k in added],
                "at": time.time(),
            }
        )
        return Response(status_code=200)

    async def edit_items(self, request: Request, account: str) -> Response:
        """PUT /library/sections/{id}/all?type=&id=<rk>,<rk>&<edits>: python-plexapi
        library.py `LibrarySection._edit` (what every `editField`/`editTags` of mixins.py
        sends). Labels (`label[0].tag.tag=`, `label[].tag.tag-=`) and the content rating
        (`contentRating.value=`, `contentRating.locked=1`) of items, or of collections
        (`type=18`); a locked field is listed under `Field`."""
        if account != OWNER_USERNAME:
            return unauthorized()
        library, q = self.sim.library, request.query_params
        section_id = int(request.path_params["sid"])
        keys = [int(k) for k in q.get("id", "").split(",") if k.isdigit()]
        pool: Mapping[int, Item | Collection]
        pool = library.collections if q.get("type") == COLLECTION_TYPE else library.items
        items: list[Item | Collection] = [pool[k] for k in keys if k in pool]
        if not keys or len(items) != len(keys) or any(i.section_id != section_id for i in items):
            return bad_request("unknown item")
        add = [v for k, v in q.multi_items() if ADD_LABEL_RE.fullmatch(k) and v]
        remove = {t for k, v in q.multi_items() if k == "label[].tag.tag-" for t in v.split(",")}
        for item in items:
            item.labels = [t for t in dict.fromkeys(item.labels + add) if t not in remove]
            if "contentRating.value" in q:
                item.content_rating = q["contentRating.value"]
            if "contentRating.locked" in q:
                locked = q["contentRating.locked"] == "1"
                rest = [f for f in item.locked if f != "contentRating"]
                item.locked = [*rest, "contentRating"] if locked else rest
        return Response(status_code=200)

    async def delete_metadata(self, request: Request, account: str) -> Response:
        library, rk = self.sim.library, int(request.path_params["rk"])
        if rk in library.collections:
            del library.collections[rk]
        elif rk in library.items:
            library.delete_item(rk)
        else:
            return not_found()
        return Response(status_code=200)

    # --- collections ------------------------------------------------------------------
    async def create_collection(self, request: Request, account: str) -> Response:
        library, q = self.sim.library, request.query_params
        sid = int(q["sectionId"]) if q.get("sectionId", "").isdigit() else None
        if sid is None or sid not in library.sections or not q.get("title"):
            return bad_request("unknown section")
        keys = self.sim.parse_uri(q.get("uri")) if q.get("uri") else []
        if keys is None:
            return bad_request("bad uri")
        rk = library.new_key()
        col = Collection(rk, sid, q["title"], keys, library.tick())
        library.collections[rk] = col
        return answer(request, container([library.collection_json(col)]))

    async def add_to_collection(self, request: Request, account: str) -> Response:
        library = self.sim.library
        col = library.collections.get(int(request.path_params["rk"]))
        if col is None:
            return not_found()
        keys = self.sim.parse_uri(request.query_params.get("uri"))
        if keys is None:
            return bad_request("bad uri")
        col.items += [k for k in keys if k not in col.items]
        return answer(request, container([library.collection_json(col)]))

    async def remove_from_collection(self, request: Request, account: str) -> Response:
        col = self.sim.library.collections.get(int(request.path_params["rk"]))
        item = int(request.path_params["item"])
        if col is None or item not in col.items:
            return not_found()
        col.items.remove(item)
        return answer(request, container([self.sim.library.collection_json(col)]))

    # --- playlists ----------------------------------------------------------------------
    def _own_playlist(self, request: Request, account: str) -> Playlist | None:
        pl = self.sim.library.playlists.get(int(request.path_params["rk"]))
        return pl if pl is not None and pl.owner == account else None

    def _visible(self, keys: list[int] | None, account: str) -> list[int]:
        """The items of `keys` the account's share lets it see: Plex resolves a playlist's
        URI as that account, so items of a library not shared with it are not added (a
        playlist of only those is refused)."""
        items = self.sim.library.items
        return [k for k in keys or [] if self.sim.visible(items[k], account)]

    @staticmethod
    def _append(pl: Playlist, keys: list[int]) -> None:
        last = max((e for e, _ in pl.entries), default=pl.rating_key * 100)
        pl.entries += [(last + n + 1, k) for n, k in enumerate(keys)]

    async def playlists(self, request: Request, account: str) -> Response:
        library, q = self.sim.library, request.query_params
        if request.method == "GET":
            kind = q.get("playlistType")
            rows = [
                library.playlist_json(p)
                for p in library.playlists.values()
                if p.owner == account and kind in (None, "video")
            ]
            return paged(request, rows)
        keys = self._visible(self.sim.parse_uri(q.get("uri")), account)
        if not q.get("title") or not keys or q.get("type", "video") != "video":
            return bad_request("bad playlist")
        rk = library.new_key()
        pl = Playlist(rk, account, q["title"], [], library.tick())
        self._append(pl, keys)
        library.playlists[rk] = pl
        return answer(request, container([library.playlist_json(pl)]))

    async def playlist(self, request: Request, account: str) -> Response:
        pl = self._own_playlist(request, account)
        if pl is None:
            return not_found()
        if request.method == "DELETE":
            del self.sim.library.playlists[pl.rating_key]
            return Response(status_code=200)
        return answer(request, container([self.sim.library.playlist_json(pl)]))

    async def playlist_items(self, request: Request, account: str) -> Response:
        library = self.sim.library
        pl = self._own_playlist(request, account)
        if pl is None:
            return not_found()
        if request.method == "PUT":
            keys = self._visible(self.sim.parse_uri(request.query_params.get("uri")), account)
            if not keys:
                return bad_request("bad uri")
            self._append(pl, keys)
            return answer(request, container([library.playlist_json(pl)]))
        rows = [
            library.item_json(library.items[k]) | {"playlistItemID": entry}
            for entry, k in pl.entries
            if k in library.items and self.sim.visible(library.items[k], account)
        ]
        return paged(
            request, rows, title=pl.title, playlistType="video", ratingKey=str(pl.rating_key)
        )

    async def remove_from_playlist(self, request: Request, account: str) -> Response:
        pl = self._own_playlist(request, account)
        entry = int(request.path_params["entry"])
        if pl is None or entry not in {e for e, _ in pl.entries}:
            return not_found()
        pl.entries = [e for e in pl.entries if e[0] != entry]
        return answer(request, container([self.sim.library.playlist_json(pl)]))
