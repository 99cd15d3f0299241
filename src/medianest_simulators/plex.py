"""A loopback Plex Media Server: MediaContainer answers (XML, or JSON when the client asks)
for the library, collections, search, images, refresh (scanning a real YouTube folder),
playlists per account and labels.

The owner token sees and edits everything; a shared user's server access token (from
plex.tv resources) reads the libraries shared with it and keeps its own private playlists.
Another library is refused as Plex refuses it: absent from `/library/sections`, and 401
for its items, collections, metadata and images (the 401 Plex answers a shared user for a
library not shared, varthe/Defaulterr issue #36). The share's restrictions (plex.tv
`filterMovies`, `filterTelevision`...: content ratings and labels, `plex_restrictions`)
leave out what they do not admit wherever that token is answered with media. Linked to
the plex.tv simulator (`follow_plextv`), a share token is good while plex.tv lists the
share, with its sections and restrictions, as Plex Media Server learns its shared users
from plex.tv."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import JSONDict, Simulator, ok, read_json, web_page
from medianest_simulators.plex_browse import BrowseEndpoints
from medianest_simulators.plex_edit import EditEndpoints
from medianest_simulators.plex_http import unauthorized, without_accept
from medianest_simulators.plex_library import YOUTUBE_SECTION, Collection, Item, Library
from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plex_seed import seeded_library
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    BOB_SERVER_TOKEN,
    MACHINE_IDENTIFIER,
    OWNER_TOKEN,
    OWNER_USERNAME,
)

Handler = Callable[[Request, str], Awaitable[Response]]
# plex.tv's answer for a server token: whose share it is, the library ids it shares and
# its restrictions.
ShareLookup = Callable[[str, str], tuple[str, frozenset[int] | None, Restrictions] | None]
SEEDED_SHARE_TOKENS = frozenset({ALICE_SERVER_TOKEN, BOB_SERVER_TOKEN})
URI_RE = re.compile(r"^server://([^/]+)/com\.plexapp\.plugins\.library/library/metadata/([\d,]+)$")


class PlexSimulator(Simulator):
    """Plex Media Server with sections 1 Movies, 2 TV Shows, 3 YouTube (a real folder),
    4 Music, 5 Photos and 6 Home Videos (an empty Other Videos library)."""

    name = "plex"

    def __init__(
        self,
        *,
        port: int = 0,
        youtube_dir: str | Path | None = None,
        owner_token: str = OWNER_TOKEN,
        machine_identifier: str = MACHINE_IDENTIFIER,
    ) -> None:
        self.owner_token = owner_token
        self.machine_identifier = machine_identifier
        self.youtube_dir = str(youtube_dir or Path(tempfile.gettempdir()) / "medianest-sim-youtube")
        self.youtube_plex_path: str | None = None
        self.library: Library = seeded_library(self.youtube_dir)
        self.tokens: dict[str, str] = {}
        self.restrictions: dict[str, Restrictions] = {}
        self.shared_sections: dict[str, frozenset[int]] = {}
        self.plextv_shares: ShareLookup | None = None
        self.refresh_calls: list[JSONDict] = []
        self.browse = BrowseEndpoints(self)
        self.edit = EditEndpoints(self)
        super().__init__(port=port)

    def reset_state(self) -> None:
        self.library = seeded_library(self.youtube_dir)
        self._place_youtube_section()
        self.tokens = {
            self.owner_token: OWNER_USERNAME,
            ALICE_SERVER_TOKEN: "alice",
            BOB_SERVER_TOKEN: "bob",
        }
        self.restrictions = {}
        self.shared_sections = {}
        self.refresh_calls = []
        self.ignore_accept = False

    # --- control (in-process) ---------------------------------------------------------
    def add_user_token(self, token: str, username: str) -> None:
        """Accept `token` as `username`'s access token for this server."""
        with self.lock:
            self.tokens[token] = username

    def share_sections(self, username: str, sections: Iterable[int] | None) -> None:
        """Let `username` see only these libraries (None: all), without plex.tv."""
        with self.lock:
            self.shared_sections.pop(username, None)
            if sections is not None:
                self.shared_sections[username] = frozenset(sections)

    def follow_plextv(self, lookup: ShareLookup | None) -> None:
        """Take shared users, their tokens and libraries from plex.tv (e.g.
        `PlexTvSimulator.server_share`); None: only the tokens given here."""
        self.plextv_shares = lookup

    def set_youtube_dir(self, path: str | Path, *, plex_path: str | None = None) -> None:
        """Point section 3 at the folder `path` (scanned on refresh). `plex_path` is the
        name this Plex gives it (a Windows path, say) when that is not a real path here;
        by default the section's Location is `path` as given, never resolved."""
        with self.lock:
            self.youtube_dir = str(path)
            self.youtube_plex_path = plex_path
            self._place_youtube_section()

    def _place_youtube_section(self) -> None:
        section = self.library.sections[YOUTUBE_SECTION]
        section.location = self.youtube_plex_path or self.youtube_dir
        section.disk_dir = self.youtube_dir if self.youtube_plex_path else None

    def set_section_location(self, section_id: int, plex_path: str) -> None:
        """Give a section (Music, Photos...) another folder, as Plex names it."""
        with self.lock:
            self.library.sections[section_id].location = plex_path

    def set_ignore_accept(self, ignore: bool) -> None:
        """Answer XML even when JSON is asked for, as when a proxy drops the Accept header."""
        with self.lock:
            self.ignore_accept = ignore

    def restrict(self, username: str, **filters: str) -> None:
        """Give `username`'s share these restrictions without plex.tv, in plex.tv's form:
        `restrict("bob", filterMovies="contentRating=G%2CPG|label!=adult")` (none: lifted)."""
        with self.lock:
            self.restrictions[username] = Restrictions.of(filters)

    def scan(self, section_id: int = YOUTUBE_SECTION, path: str | None = None) -> list[int]:
        """Scan a section's folder now; returns the new ratingKeys."""
        with self.lock:
            return self.library.scan(section_id, path)

    def items_in_section(self, section_id: int) -> list[JSONDict]:
        with self.lock:
            return [
                self.library.item_json(i)
                for i in self.library.items.values()
                if i.section_id == section_id and i.type in ("movie", "show")
            ]

    def item(self, rating_key: int) -> JSONDict | None:
        with self.lock:
            item = self.library.items.get(rating_key)
            return self.library.item_json(item) if item is not None else None

    def collection_items(self, rating_key: int) -> list[int]:
        with self.lock:
            return list(self.library.collections[rating_key].items)

    # --- shared by the endpoint classes ----------------------------------------------
    def account_for(self, request: Request) -> str | None:
        token = request.headers.get("X-Plex-Token") or request.query_params.get("X-Plex-Token")
        token = token or ""
        lookup = self.plextv_shares
        if lookup is None or token == self.owner_token:
            return self.tokens.get(token)
        share = lookup(self.machine_identifier, token)
        if share is None:  # plex.tv is the judge of its share tokens
            return None if token in SEEDED_SHARE_TOKENS else self.tokens.get(token)
        username, sections, restrictions = share
        self.share_sections(username, sections)
        with self.lock:
            self.restrictions[username] = restrictions
        return username

    def shares_section(self, account: str, section_id: int | None) -> bool:
        """Whether `account` may read library `section_id` (the owner reads every one;
        None: not a library's, e.g. a playlist)."""
        allowed = self.shared_sections.get(account)
        if account == OWNER_USERNAME or allowed is None or section_id is None:
            return True
        return section_id in allowed

    def section_of(self, rating_key: int) -> int | None:
        """The library an item or collection is in (None: unknown, or a playlist)."""
        item = self.library.items.get(rating_key)
        found = item or self.library.collections.get(rating_key)
        return found.section_id if found is not None else None

    def visible(self, item: Item, account: str) -> bool:
        """Whether the share of `account` (its libraries, its restrictions) lets it see
        `item`: a season, episode, album, track or nested photo is judged by its top
        (the show, artist or album the restriction is set on: labels go on the show)."""
        if not self.shares_section(account, item.section_id):
            return False
        while item.parent is not None:
            item = self.library.items[item.parent]
        section = self.library.sections[item.section_id]
        restrictions = self.restrictions.get(account, Restrictions())
        return restrictions.admits(section.type, item.labels, item.content_rating)

    def visible_collection(self, collection: Collection, account: str) -> bool:
        """A collection is judged by its own labels and content rating (none unless edited)."""
        if not self.shares_section(account, collection.section_id):
            return False
        section = self.library.sections[collection.section_id]
        restrictions = self.restrictions.get(account, Restrictions())
        rating = collection.content_rating or None  # none unless edited
        return restrictions.admits(section.type, collection.labels, rating)

    def visible_key(self, rating_key: int, account: str) -> bool:
        """`visible`/`visible_collection` by ratingKey (True for one that is neither)."""
        item = self.library.items.get(rating_key)
        collection = self.library.collections.get(rating_key)
        if item is not None:
            return self.visible(item, account)
        return collection is None or self.visible_collection(collection, account)

    def parse_uri(self, uri: str | None) -> list[int] | None:
        """RatingKeys named by a `server://<machine id>/.../library/metadata/<rk>,<rk>` URI;
        None when it is malformed, for another server or names no known item."""
        match = URI_RE.match(uri or "")
        if match is None or match.group(1) != self.machine_identifier:
            return None
        keys = [int(k) for k in match.group(2).split(",") if k]
        keys = [k for k in keys if k in self.library.items]
        return keys or None

    def _route(
        self,
        path: str,
        handler: Handler,
        method: str = "GET",
        owner_only: bool = False,
        public: bool = False,
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            account = self.account_for(request)
            if not public and (account is None or (owner_only and account != OWNER_USERNAME)):
                return unauthorized()
            with self.lock:  # handlers never await while holding it
                if self.ignore_accept:
                    request = without_accept(request)
                return await handler(request, account or "")

        return Route(path, endpoint, methods=[method])

    async def _web_app(self, request: Request) -> Response:
        return web_page("Plex", "The item MediaNest linked to is named after the # in the address.")

    def routes(self) -> list[BaseRoute]:
        r, b, e = self._route, self.browse, self.edit
        meta = "/library/metadata/{rk:int}"
        cols = "/library/collections/{rk:int}"
        return [
            Route("/web/index.html", self._web_app, methods=["GET"]),
            r("/identity", b.identity, public=True),
            r("/", b.root),
            r("/status/sessions", b.sessions),
            r("/library", b.library),
            r("/library/sections", b.sections),
            r("/library/sections/{sid:int}/all", b.section_all),
            r("/library/sections/{sid:int}/all", e.edit_items, "PUT", owner_only=True),
            r("/library/sections/{sid:int}/collections", b.section_collections),
            r("/library/sections/{sid}/refresh", e.refresh, "GET", owner_only=True),
            r("/library/sections/{sid}/refresh", e.refresh, "POST", owner_only=True),
            r("/library/recentlyAdded", b.recently_added),
            r("/hubs/search", b.search),
            r("/photo/:/transcode", b.transcode),
            r("/library/collections", e.create_collection, "POST", owner_only=True),
            r(cols, b.collection),
            r(cols, e.delete_metadata, "DELETE", owner_only=True),
            r(cols + "/children", b.collection_items),
            r(cols + "/items", b.collection_items),
            r(cols + "/items", e.add_to_collection, "PUT", owner_only=True),
            r(cols + "/items/{item:int}", e.remove_from_collection, "DELETE", owner_only=True),
            r(cols + "/composite/{ts}", b.image),
            r(meta, b.metadata),
            r(meta, e.delete_metadata, "DELETE", owner_only=True),
            r(meta + "/children", b.children),
            r(meta + "/{kind:str}/{ts}", b.image),
            r(meta + "/{kind:str}", b.image),
            r("/playlists", e.playlists),
            r("/playlists", e.playlists, "POST"),
            r("/playlists/{rk:int}", e.playlist),
            r("/playlists/{rk:int}", e.playlist, "DELETE"),
            r("/playlists/{rk:int}/items", e.playlist_items),
            r("/playlists/{rk:int}/items", e.playlist_items, "PUT"),
            r("/playlists/{rk:int}/items/{entry:int}", e.remove_from_playlist, "DELETE"),
            r("/playlists/{rk:int}/composite/{ts}", b.image),
        ]

    # --- control (HTTP) ------------------------------------------------------------------
    def control_routes(self) -> list[BaseRoute]:
        return [
            Route("/__sim/refreshes", self._http_refreshes, methods=["GET"]),
            Route("/__sim/config", self._http_config, methods=["POST"]),
            Route("/__sim/tokens", self._http_token, methods=["POST"]),
            Route("/__sim/restrictions/{username}", self._http_restrict, methods=["POST"]),
            Route("/__sim/shared-sections/{username}", self._http_sections, methods=["POST"]),
            Route("/__sim/scan", self._http_scan, methods=["POST"]),
        ]

    async def _http_refreshes(self, request: Request) -> Response:
        with self.lock:
            return ok({"count": len(self.refresh_calls), "refreshes": list(self.refresh_calls)})

    async def _http_config(self, request: Request) -> Response:
        body = await read_json(request)
        if body.get("youtubeDir"):
            plex_path = body.get("youtubePlexPath")
            self.set_youtube_dir(str(body["youtubeDir"]), plex_path=plex_path or None)
        if "ignoreAccept" in body:
            self.set_ignore_accept(bool(body["ignoreAccept"]))
        return ok(
            {
                "youtubeDir": self.youtube_dir,
                "youtubePlexPath": self.youtube_plex_path,
                "machineIdentifier": self.machine_identifier,
                "ignoreAccept": self.ignore_accept,
            }
        )

    async def _http_token(self, request: Request) -> Response:
        body = await read_json(request)
        if not body.get("token") or not body.get("username"):
            return ok({"message": "token and username are required"}, status=400)
        self.add_user_token(str(body["token"]), str(body["username"]))
        return ok()

    async def _http_restrict(self, request: Request) -> Response:
        body = await read_json(request)
        self.restrict(request.path_params["username"], **{k: str(v) for k, v in body.items()})
        return ok()

    async def _http_sections(self, request: Request) -> Response:
        body = await read_json(request)
        sections = body.get("sections")
        shared = None if sections is None else [int(s) for s in sections]
        self.share_sections(request.path_params["username"], shared)
        return ok()

    async def _http_scan(self, request: Request) -> Response:
        body = await read_json(request)
        added = self.scan(int(body.get("sectionId") or YOUTUBE_SECTION), body.get("path"))
        return ok({"added": [str(k) for k in added]})
