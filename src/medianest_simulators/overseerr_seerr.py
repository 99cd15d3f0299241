"""Seerr (seerr-team/seerr, Overseerr's successor) in the Overseerr simulator, when set so
(`behave_as_seerr`): its version in /api/v1/status, request status COMPLETED, the
blocklist (media status BLOCKLISTED; a new request is refused 403), and a title leaving
Plex as each server's availability sync records it (Seerr: DELETED and its approved
requests COMPLETED; Overseerr: UNKNOWN and its requests deleted), with /__sim/ twins.
The sources followed are cited in README-overseerr.md."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import ok, read_json
from medianest_simulators.overseerr_control import _status_number
from medianest_simulators.overseerr_data import (
    APPROVED,
    AVAILABLE,
    BLOCKLISTED,
    CATALOGUE,
    COMPLETED,
    DELETED,
    MEDIA_PENDING,
    PARTIALLY_AVAILABLE,
    PENDING,
    PROCESSING,
    REQUEST_STATUS_NAMES,
    STATUS,
    UNKNOWN,
    Media,
    MediaRequest,
)
from medianest_simulators.overseerr_settings import OverseerrSettings, error

# The Seerr release answered as by default: package.json's `version` at tag v3.1.0.
SEERR_VERSION = "3.1.0"
# The "Application Title" each starts with (server/lib/settings(/index).ts); Seerr's
# overseerrMerge.ts renames an Overseerr that kept the default when it migrates.
OVERSEERR_TITLE, SEERR_TITLE = "Overseerr", "Seerr"
_IN_PLEX = (AVAILABLE, PARTIALLY_AVAILABLE)
# entity/MediaRequest.ts `request`: BlocklistedMediaError, answered 403 by routes/request.ts;
# up to v2.7.3 the same check was the "blacklist"'s (BlacklistedMediaError).
BLOCKLISTED_MESSAGE = "This media is blocklisted."
BLACKLISTED_MESSAGE = "This media is blacklisted."


class SeerrControl(OverseerrSettings):
    """Seerr's differences: on with `behave_as_seerr()`, off (Overseerr v1.34) by default."""

    seerr_version: str | None = None

    def reset_state(self) -> None:
        super().reset_state()
        self.seerr_version = None

    @property
    def seerr(self) -> bool:
        return self.seerr_version is not None

    def behave_as_seerr(self, version: str | None = SEERR_VERSION) -> None:
        """Answer as Seerr `version` ("2.7.3": the blocklist still named "blacklist"),
        settings laid out as Seerr's too (`use_seerr_settings`), its default title "Seerr"
        (an admin's own title stays); None: as Overseerr v1.34 again (CSRF protection
        back in the main settings)."""
        with self.lock:
            self.seerr_version = version
            title = self.main_settings.get("applicationTitle")
            if version is not None and title == OVERSEERR_TITLE:
                self.main_settings["applicationTitle"] = SEERR_TITLE
            elif version is None and title == SEERR_TITLE:
                self.main_settings["applicationTitle"] = OVERSEERR_TITLE
            if version is not None and self.network_settings is None:
                self.use_seerr_settings()
            elif version is None and self.network_settings is not None:
                enabled = self.network_settings.get("csrfProtection") is True
                self.main_settings["csrfProtection"] = enabled
                self.network_settings = None

    async def _status(self, request: Request) -> Response:
        """`GET /api/v1/status` (public; server/routes/index.ts): Overseerr's v1.34.0, or
        Seerr's package.json version with the image's tag."""
        with self.lock:
            version = self.seerr_version
        if version is None:
            return JSONResponse(STATUS)
        return JSONResponse(STATUS | {"version": version, "commitTag": f"v{version}"})

    def refuse_request(self, media: Media) -> Response | None:
        """Seerr's refusal of a new request for an existing media, after the user's
        permission and TMDB's lookup, before any duplicate check (MediaRequest.ts)."""
        if media.status != BLOCKLISTED:
            return None
        old = (self.seerr_version or "").split(".")[0] in ("0", "1", "2")
        message = BLACKLISTED_MESSAGE if old else BLOCKLISTED_MESSAGE
        return error(403, message)

    def _require_seerr(self, what: str) -> None:
        if not self.seerr:
            raise ValueError(f"{what} exists only in Seerr: behave_as_seerr() first")

    # --- control (in-process) -----------------------------------------------------------
    def blocklist(self, media_type: str, tmdb_id: int) -> None:
        """Blocklist a title as Seerr's `POST /api/v1/blocklist` does (entity/Blocklist.ts
        `addToBlocklist`): its media (made if absent) gets status and status4k BLOCKLISTED;
        its requests stay as they are."""
        with self.lock:
            self._require_seerr("The blocklist")
            media = self.media_for(CATALOGUE[(media_type, tmdb_id)])
            media.status = media.status4k = BLOCKLISTED
            media.updated_at = time.time()

    def remove_from_plex(
        self, media_type: str, tmdb_id: int, seasons: list[int] | None = None
    ) -> None:
        """The movie, or the show's `seasons` (None: the whole show), left Plex and
        Radarr/Sonarr, as the availability sync records it (server/lib/availabilitySync.ts,
        which looks only at what is AVAILABLE or PARTIALLY_AVAILABLE):

        - Seerr: `mediaUpdater` marks the movie or the whole show DELETED, `seasonUpdater`
          the seasons (an AVAILABLE show becomes PARTIALLY_AVAILABLE); MediaSubscriber.ts
          then completes the approved requests (a show's once each of its seasons is
          AVAILABLE or DELETED);
        - Overseerr: the seasons go back to UNKNOWN with their season requests (a request
          left with none goes too: entity/SeasonRequest.ts `handleRemoveParent`); then the
          movie or whole show goes back to UNKNOWN (a show: PROCESSING or PENDING while an
          approved or pending request of it is left, `findMediaStatus`), and a movie's
          requests are deleted."""
        with self.lock:
            media = self.media[(media_type, tmdb_id)]
            in_plex = [n for n, st in media.season_status.items() if st in _IN_PLEX]
            if media_type == "movie" and media.status != AVAILABLE:
                raise ValueError("only an available movie can leave Plex")
            gone = in_plex if seasons is None else seasons
            if media_type == "tv" and (not gone or not set(gone) <= set(in_plex)):
                raise ValueError("name seasons of the show that are in Plex")
            whole = media_type == "movie" or seasons is None
            for n in gone:
                media.season_status[n] = DELETED if self.seerr else UNKNOWN
            if media.status == AVAILABLE and media_type == "tv":
                media.status = PARTIALLY_AVAILABLE
            if not self.seerr:
                self._drop_requests(media, None if media_type == "movie" else gone)
            if whole:
                media.status = DELETED if self.seerr else self._status_left(media)
                processing = media_type == "tv" and any(
                    r.media is media and r.status == APPROVED for r in self._requests()
                )
                media.rating_key = media.rating_key if processing else None
            media.updated_at = time.time()
            if self.seerr:
                self._complete_approved(media)

    def _requests(self) -> list[MediaRequest]:
        return list(self.media_requests.values())

    def _status_left(self, media: Media) -> int:
        """Overseerr's `findMediaStatus` for a media that left Plex (a movie: UNKNOWN)."""
        mine = [r for r in self._requests() if r.media is media and not r.is4k]
        if media.title.media_type == "tv" and any(r.status == APPROVED for r in mine):
            return PROCESSING
        if media.title.media_type == "tv" and any(r.status == PENDING for r in mine):
            return MEDIA_PENDING
        return UNKNOWN

    def _complete_approved(self, media: Media) -> None:
        """MediaSubscriber.ts `updateRelatedMediaRequest`: an approved (non-4K) request
        is COMPLETED once its movie, or each of its seasons, is AVAILABLE or DELETED."""
        done = (AVAILABLE, DELETED)
        for req in self.media_requests.values():
            if req.media is not media or req.status != APPROVED or req.is4k:
                continue
            if media.title.media_type == "movie":
                complete = media.status in done
            else:
                complete = all(media.season_status.get(n) in done for n in req.seasons)
            if complete:
                req.status, req.updated_at = COMPLETED, time.time()

    def _drop_requests(self, media: Media, seasons: list[int] | None) -> None:
        """Overseerr's availability sync deletes the (non-4K) requests of what left Plex."""
        for req in [r for r in self.media_requests.values() if r.media is media and not r.is4k]:
            if seasons is not None:
                req.seasons = [n for n in req.seasons if n not in seasons]
            if seasons is None or not req.seasons:
                del self.media_requests[req.id]

    def set_media_status(
        self, media_type: str, tmdb_id: int, status: int | str, *, rating_key: str | None = None
    ) -> None:
        """As Overseerr's; in Seerr, approved requests then complete (MediaSubscriber.ts)."""
        with self.lock:
            super().set_media_status(media_type, tmdb_id, status, rating_key=rating_key)
            if self.seerr:
                self._complete_approved(self.media[(media_type, tmdb_id)])

    def set_request_status(
        self, request_id: int, status: int | str, notify: str | None = None
    ) -> None:
        """As Overseerr's; approving a request of a DELETED or BLOCKLISTED media makes the
        media PROCESSING (Seerr's MediaRequestSubscriber.ts `updateParentStatus`)."""
        with self.lock:
            media = self.media_requests[request_id].media
            approving = _status_number(status, REQUEST_STATUS_NAMES) == APPROVED
            if approving and media.status in (BLOCKLISTED, DELETED):
                media.status = PROCESSING
            super().set_request_status(request_id, status, notify)

    # --- control (HTTP) -------------------------------------------------------------------
    def control_routes(self) -> list[BaseRoute]:
        media = "/__sim/media/{kind}/{tmdb:int}"
        return [
            *super().control_routes(),
            Route("/__sim/seerr", self._http_seerr, methods=["POST"]),
            Route(f"{media}/blocklist", self._http_blocklist, methods=["POST"]),
            Route(f"{media}/remove-from-plex", self._http_remove, methods=["POST"]),
        ]

    async def _http_seerr(self, request: Request) -> Response:
        """`{}` (Seerr 3.1.0), `{"version": "2.7.3"}`, or `{"seerr": false}` (Overseerr)."""
        body = await read_json(request)
        version = body.get("version", SEERR_VERSION)
        self.behave_as_seerr(str(version) if body.get("seerr", True) else None)
        return ok()

    async def _http_blocklist(self, request: Request) -> Response:
        return self._control(self.blocklist, request.path_params)

    async def _http_remove(self, request: Request) -> Response:
        seasons = (await read_json(request)).get("seasons")
        return self._control(self.remove_from_plex, request.path_params, seasons)

    def _control(self, action: Any, params: dict[str, Any], *more: Any) -> Response:
        try:
            action(params["kind"], int(params["tmdb"]), *more)
        except (KeyError, TypeError, ValueError) as exc:
            return ok({"message": str(exc)}, status=400)
        return ok()
