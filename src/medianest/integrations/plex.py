"""Plex Media Server client: identity, sections and their items, collections, search,
metadata, refresh, playlists, edits (labels, content rating) and images.

Built on the shared `ResilientClient`, whose default headers carry the Plex client
headers and the token (owner's, or a user's for `Integrations.plex_for_token`); the
token never goes into a URL, so it cannot end up in an access log. Reads used for
browsing can go through the last-known-good cache (`*_snapshot` methods).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from medianest.core.errors import ServiceUnavailable, UpstreamError, ValidationFailed
from medianest.integrations.http import ResilientClient, ServiceHealth, UpstreamHTTPError
from medianest.integrations.plex_answers import int_or, media_container, plex_id
from medianest.integrations.plex_marks import LibraryMarks
from medianest.integrations.plex_models import (
    PLEX_TYPE_NUMBERS,
    PlexHub,
    PlexIdentity,
    PlexImage,
    PlexItem,
    PlexPage,
    PlexPlaylist,
    PlexSection,
    PlexServerInfo,
    Snapshot,
)
from medianest.settings import Settings

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
LIBRARY_URI = "server://{machine}/com.plexapp.plugins.library/library/metadata/{keys}"
IMAGE_ACCEPT = "image/webp,image/png,image/jpeg,image/*;q=0.8"


class PlexClient:
    """One Plex Media Server, as the account whose token the HTTP client carries."""

    def __init__(
        self, http: ResilientClient, *, settings: Settings, cache_scope: str = "owner"
    ) -> None:
        self.http = http
        self.settings = settings
        # How long a browsing read (`cached=True`) is served without asking Plex; other
        # reads (delivery, checks) always ask.
        self.library_cache_seconds = settings.plex_library_cache_seconds
        # Cached answers depend on whose token asked (share filters, own playlists).
        server = hashlib.sha256(http.base_url.encode()).hexdigest()[:12]
        self._cache_prefix = f"{server}:{cache_scope}"
        # When MediaNest changed the library, or plex.tv the shares: see plex_marks.py.
        self.marks = LibraryMarks(http, server, cache_scope=cache_scope)
        self._machine_identifier: str | None = None

    # --- server ------------------------------------------------------------------------
    async def identity(self) -> PlexIdentity:
        """`GET /identity` (no auth needed): the machineIdentifier and version."""
        fetched = await self.http.get_json("/identity")
        return self.http.parse(PlexIdentity, media_container(fetched.data))

    async def machine_identifier(self) -> str:
        if self._machine_identifier is None:
            self._machine_identifier = (await self.identity()).machine_identifier
        return self._machine_identifier

    async def server_info(self) -> PlexServerInfo:
        """`GET /`: friendly name, owner, platform, version (needs a valid token)."""
        fetched = await self.http.get_json("/")
        return self.http.parse(PlexServerInfo, media_container(fetched.data))

    async def health_check(self) -> ServiceHealth:
        """Online when the server answers `/` with our token; degraded when it refuses it."""
        started = time.perf_counter()
        timeout = self.settings.health_check_timeout_seconds
        try:
            response = await self.http.request("GET", "/", retry=False, timeout=timeout)
            info = self.http.parse(PlexServerInfo, media_container(self.http.decode(response)))
        except ServiceUnavailable as exc:
            return ServiceHealth(status="offline", error=exc.message)
        except UpstreamError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            rejected = isinstance(exc, UpstreamHTTPError) and exc.upstream_status == 401
            error = "Plex token rejected" if rejected else exc.message
            return ServiceHealth(status="degraded", response_time_ms=elapsed, error=error)
        elapsed = (time.perf_counter() - started) * 1000
        return ServiceHealth(status="online", response_time_ms=elapsed, version=info.version)

    # --- library ----------------------------------------------------------------------
    async def sections(self) -> list[PlexSection]:
        return (await self.sections_snapshot()).value

    async def sections_snapshot(self, *, cached: bool = False) -> Snapshot[list[PlexSection]]:
        """`GET /library/sections`, cached as last known good."""
        return await self._read(
            "/library/sections",
            cache_key="sections",
            cached=cached,
            parse=lambda c: self._parse_list(PlexSection, c.get("Directory")),
        )

    async def section_items(
        self,
        section_id: str | int,
        *,
        start: int = 0,
        size: int = 50,
        sort: str | None = None,
        title: str | None = None,
        item_type: str | None = None,
        label: str | None = None,
    ) -> PlexPage[PlexItem]:
        snapshot = await self.section_items_snapshot(
            section_id,
            start=start,
            size=size,
            sort=sort,
            title=title,
            item_type=item_type,
            label=label,
        )
        return snapshot.value

    async def section_items_snapshot(
        self,
        section_id: str | int,
        *,
        start: int = 0,
        size: int = 50,
        sort: str | None = None,
        title: str | None = None,
        item_type: str | None = None,
        label: str | None = None,
        artist: str | int | None = None,
        cached: bool = False,
    ) -> Snapshot[PlexPage[PlexItem]]:
        """`GET /library/sections/{id}/all`: one page, optionally sorted and filtered
        (`artist`: an artist's albums, `artist.id` as plexapi audio.py Artist.albums asks)."""
        params: dict[str, Any] = {}
        if item_type is not None:
            params["type"] = PLEX_TYPE_NUMBERS[item_type]
        if artist is not None:
            params["artist.id"] = plex_id(artist)
        if title:
            params["title"] = title
        if sort:
            params["sort"] = sort
        if label:
            params["label"] = label
        return await self._paged(
            f"/library/sections/{plex_id(section_id)}/all", params, start, size, cached
        )

    async def section_collections(
        self, section_id: str | int, *, start: int = 0, size: int = 50, cached: bool = False
    ) -> Snapshot[PlexPage[PlexItem]]:
        """`GET /library/sections/{id}/collections`."""
        path = f"/library/sections/{plex_id(section_id)}/collections"
        return await self._paged(path, {}, start, size, cached)

    async def collection_items(
        self, collection_key: str | int, *, start: int = 0, size: int = 50, cached: bool = False
    ) -> Snapshot[PlexPage[PlexItem]]:
        """A collection's items as this token may see them: `/library/metadata/{id}/children`
        applies the account's restrictions, `/library/collections/{id}/children` does not
        (recorded on a real server: docs/plex-and-downloads.md, on restrictions)."""
        path = f"/library/metadata/{plex_id(collection_key)}/children"
        return await self._paged(path, {}, start, size, cached)

    async def metadata(self, rating_key: str | int, *, cached: bool = False) -> PlexItem | None:
        """`GET /library/metadata/{ratingKey}` (items and collections); None when unknown."""
        snapshot = await self.metadata_snapshot(rating_key, cached=cached)
        return snapshot.value

    async def metadata_snapshot(
        self, rating_key: str | int, *, cached: bool = False
    ) -> Snapshot[PlexItem | None]:
        try:
            return await self._read(
                f"/library/metadata/{plex_id(rating_key)}",
                cache_key=f"metadata:{plex_id(rating_key)}",
                cached=cached,
                parse=lambda c: next(iter(self._parse_list(PlexItem, c.get("Metadata"))), None),
            )
        except UpstreamHTTPError as exc:
            if exc.upstream_status == 404:
                return Snapshot(value=None)
            raise

    async def children(
        self, rating_key: str | int, *, start: int = 0, size: int = 50, cached: bool = False
    ) -> Snapshot[PlexPage[PlexItem]]:
        """`GET /library/metadata/{ratingKey}/children`: a show's seasons (without the "All
        episodes" entry Plex puts first unless told `excludeAllLeaves=1`, as plexapi video.py
        Show.seasons tells it), a season's episodes, an album's tracks, a photo album's."""
        path = f"/library/metadata/{plex_id(rating_key)}/children"
        return await self._paged(path, {"excludeAllLeaves": 1}, start, size, cached)

    async def search(
        self, query: str, *, limit: int = 10, section_id: str | int | None = None
    ) -> list[PlexHub]:
        """`GET /hubs/search`: hubs of movies, shows, episodes and collections."""
        params: dict[str, Any] = {"query": query, "limit": limit}
        if section_id is not None:
            params["sectionId"] = plex_id(section_id)
        fetched = await self.http.get_json("/hubs/search", params=params)
        return self._parse_list(PlexHub, media_container(fetched.data).get("Hub"))

    async def refresh_section(self, section_id: str | int, *, path: str | None = None) -> None:
        """Ask Plex to scan a section (or one folder of it), e.g. after a download landed."""
        params = {"path": path} if path else None
        await self._write("GET", f"/library/sections/{plex_id(section_id)}/refresh", params=params)

    # --- collections (owner token) ----------------------------------------------------------
    async def create_collection(
        self,
        section_id: str | int,
        title: str,
        rating_keys: Sequence[str | int],
        *,
        item_type: str = "movie",
    ) -> PlexItem:
        """`POST /library/collections`: a new collection holding `rating_keys`."""
        params: dict[str, Any] = {
            "type": PLEX_TYPE_NUMBERS[item_type],
            "title": title,
            "smart": 0,
            "sectionId": plex_id(section_id),
        }
        if rating_keys:
            params["uri"] = await self.library_uri(rating_keys)
        response = await self._write("POST", "/library/collections", params=params)
        return self._first(PlexItem, response)

    async def add_to_collection(
        self, collection_key: str | int, rating_keys: Sequence[str | int]
    ) -> None:
        params = {"uri": await self.library_uri(rating_keys)}
        path = f"/library/collections/{plex_id(collection_key)}/items"
        await self._write("PUT", path, params=params)

    async def remove_from_collection(self, collection_key: str | int, item_key: str | int) -> None:
        path = f"/library/collections/{plex_id(collection_key)}/items/{plex_id(item_key)}"
        await self._write("DELETE", path)

    async def delete_collection(self, collection_key: str | int) -> None:
        await self._write("DELETE", f"/library/metadata/{plex_id(collection_key)}")

    async def edit_items(self, section_id: str | int, query: Mapping[str, Any]) -> None:
        """Edit items (or collections) of a section at once (owner token): python-plexapi
        library.py `LibrarySection._edit`, with a `plex_edits.query`."""
        path = f"/library/sections/{plex_id(section_id)}/all"
        await self._write("PUT", path, params=dict(query))

    # --- playlists (the token's own account) ---------------------------------------------
    async def playlists(self, *, cached: bool = False) -> list[PlexPlaylist]:
        """The account's video playlists; `cached` for browsing (pages), as library reads."""
        snapshot = await self._read(
            "/playlists",
            params={"playlistType": "video"},
            cache_key="playlists:video",
            cached=cached,
            parse=lambda c: self._parse_list(PlexPlaylist, c.get("Metadata")),
        )
        return snapshot.value

    async def create_playlist(self, title: str, rating_keys: Sequence[str | int]) -> PlexPlaylist:
        params: dict[str, Any] = {
            "type": "video",
            "title": title,
            "smart": 0,
            "uri": await self.library_uri(rating_keys),
        }
        # Not retried: a retry after a lost answer would create a second playlist.
        response = await self._write("POST", "/playlists", params=params, retry=False)
        return self._first(PlexPlaylist, response)

    async def playlist_items(self, playlist_key: str | int) -> list[PlexItem]:
        fetched = await self.http.get_json(f"/playlists/{plex_id(playlist_key)}/items")
        return self._parse_list(PlexItem, media_container(fetched.data).get("Metadata"))

    async def add_to_playlist(
        self, playlist_key: str | int, rating_keys: Sequence[str | int]
    ) -> None:
        params = {"uri": await self.library_uri(rating_keys)}
        await self._write("PUT", f"/playlists/{plex_id(playlist_key)}/items", params=params)

    async def delete_playlist(self, playlist_key: str | int) -> None:
        await self._write("DELETE", f"/playlists/{plex_id(playlist_key)}")

    # --- images --------------------------------------------------------------------------
    async def image(
        self, path: str, *, width: int | None = None, height: int | None = None
    ) -> PlexImage:
        """The bytes of a library image (`thumb`/`art` path), optionally resized by Plex.

        Only server-relative paths are accepted: an absolute URL would make httpx leave
        the Plex server (and send it the token).
        """
        if not path.startswith("/") or path.startswith("//") or "://" in path:
            raise ValidationFailed("Only Plex library image paths can be fetched.")
        headers = {"Accept": IMAGE_ACCEPT}
        if width or height:
            params = {"url": path, "width": width or height, "height": height or width}
            response = await self.http.request(
                "GET", "/photo/:/transcode", params=params, headers=headers
            )
        else:
            response = await self.http.request("GET", path, headers=headers)
        content_type = response.headers.get("content-type", "application/octet-stream")
        if not content_type.startswith("image/"):
            raise UpstreamError("Plex did not answer with an image.", details={"service": "plex"})
        return PlexImage(content=response.content, content_type=content_type.split(";")[0])

    # --- helpers ---------------------------------------------------------------------------
    async def _write(self, method: str, path: str, **options: Any) -> httpx.Response:
        """A change to the library: sent, then marked (also when Plex refused it half-way)."""
        try:
            return await self.http.request(method, path, **options)
        finally:
            await self.marks.library_changed()

    async def library_uri(self, rating_keys: Sequence[str | int]) -> str:
        """The `server://<machine>/...` URI Plex wants for adding items by ratingKey."""
        keys = ",".join(plex_id(k) for k in rating_keys)
        return LIBRARY_URI.format(machine=await self.machine_identifier(), keys=keys)

    async def _paged(
        self, path: str, params: dict[str, Any], start: int, size: int, cached: bool
    ) -> Snapshot[PlexPage[PlexItem]]:
        # Sources disagree on where paging goes; the server accepts both, so send both.
        paging = {"X-Plex-Container-Start": str(max(0, start)), "X-Plex-Container-Size": str(size)}
        all_params = {**params, **paging}
        cache_key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted(all_params.items()))

        def parse(container: dict[str, Any]) -> PlexPage[PlexItem]:
            items = self._parse_list(PlexItem, container.get("Metadata"))
            offset = int_or(container.get("offset"), start)
            total = int_or(container.get("totalSize"), offset + len(items))
            return PlexPage(items=items, offset=offset, total=total)

        return await self._read(
            path,
            params=all_params,
            headers=paging,
            cache_key=cache_key,
            cached=cached,
            parse=parse,
        )

    async def _read(
        self,
        path: str,
        *,
        cache_key: str,
        cached: bool,
        parse: Callable[[dict[str, Any]], T],
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Snapshot[T]:
        fresh_ttl = self.library_cache_seconds if cached else 0.0
        changed_at, forget_before = await self.marks.read() if fresh_ttl > 0 else (None, None)
        fetched = await self.http.get_json(
            path,
            params=params,
            headers=headers,
            cache_key=f"{self._cache_prefix}:{cache_key}" if fresh_ttl > 0 else None,
            fresh_ttl=fresh_ttl,
            # Kept answers are ones `parse` takes (an uncached one is parsed once, below).
            accept=(lambda data: parse(media_container(data))) if fresh_ttl > 0 else None,
            changed_at=changed_at,
            forget_before=forget_before,
        )
        value = parse(media_container(fetched.data))
        return Snapshot(value=value, stale=fetched.stale, read_at=fetched.read_at)

    def _parse_list(self, model: type[M], rows: Any) -> list[M]:
        if rows is None:
            return []
        if not isinstance(rows, list):
            raise UpstreamError("Plex returned an unexpected list.", details={"service": "plex"})
        return [self.http.parse(model, row) for row in rows]

    def _first(self, model: type[M], response: httpx.Response) -> M:
        rows = self._parse_list(model, media_container(self.http.decode(response)).get("Metadata"))
        if not rows:
            raise UpstreamError("Plex did not return the new object.", details={"service": "plex"})
        return rows[0]
