"""Overseerr API v1 client: status, search, media requests and movie/TV details.

On the shared `ResilientClient` (retries only for idempotent calls, a breaker, timeouts).
Search sends spaces as `%20` (Overseerr refuses httpx's `+`). Every change goes through
`_write`, which tells Overseerr's CSRF protection apart (overseerr_writes.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx

from medianest.core.errors import ServiceUnavailable, UpstreamError
from medianest.core.logging import get_logger
from medianest.core.single_flight import SingleFlight
from medianest.integrations.http import ResilientClient, ServiceHealth, UpstreamHTTPError
from medianest.integrations.overseerr_models import (
    MovieDetails,
    OverseerrRequest,
    OverseerrStatus,
    RequestPage,
    SearchPage,
    TvDetails,
    UserPage,
    error_message,
)
from medianest.integrations.overseerr_writes import (
    BLOCKED_HEALTH,
    OverseerrWritesBlocked,
    csrf_protection_on,
    json_or_none,
    refusal_reason,
    writes_blocked,
)
from medianest.integrations.service_names import application_title

log = get_logger(__name__)

MediaType = Literal["movie", "tv"]
RequestFilter = Literal[
    "all", "approved", "available", "pending", "processing", "unavailable", "failed"
]
# How far the request list is searched for a request its read answered 404 for.
LIST_SCAN_TAKE = 100
LIST_SCAN_PAGES = 20
# The 500's message when Overseerr cannot retrieve a title's details (routes/movie.ts, tv.ts).
UNRETRIEVABLE: dict[MediaType, str] = {
    "movie": "Unable to retrieve movie.",
    "tv": "Unable to retrieve series.",
}
# The user list (Plex account → Overseerr user) is kept this long, answer or failure: many
# first requests at once ask once, an Overseerr down or answering garbage costs one wait
# (of at most `USER_LIST_SECONDS_BUDGET`) per period.
USER_LIST_SECONDS = 60.0
USER_LIST_SECONDS_BUDGET = 5.0
USER_LIST_TAKE = 100
USER_LIST_PAGES = 50


class OverseerrRefused(UpstreamError):
    """Overseerr answered a request with a 4xx we explain to the user (403, 409, 202...)."""

    def __init__(self, upstream_status: int, reason: str | None, *, name: str) -> None:
        super().__init__(reason or f"{name} refused the request ({upstream_status}).")
        self.upstream_status = upstream_status
        self.reason = reason
        self.service_name = name  # what the service is called here (service_names.py)


class OverseerrClient:
    """One Overseerr server, reached with its API key (acting as the Overseerr admin)."""

    def __init__(self, http: ResilientClient) -> None:
        self.http = http
        self._plex_users: tuple[float, dict[int, int] | None] | None = None
        self._plex_users_flight: SingleFlight[dict[int, int] | None] = SingleFlight()
        self.imports: SingleFlight[int] = SingleFlight()  # media/overseerr_import.py

    async def status(self) -> OverseerrStatus:
        """`GET /api/v1/status` (public): the version."""
        fetched = await self.http.get_json("/api/v1/status")
        return self.http.parse(OverseerrStatus, fetched.data)

    async def health_check(self) -> ServiceHealth:
        """Online with the version when the status answers and the API key is accepted;
        degraded when Overseerr says its CSRF protection blocks MediaNest's requests."""
        started = time.perf_counter()
        try:
            status = await self.status()
            # The status is public; a cheap authenticated call proves the key. Not the request
            # list: Seerr's asks every Sonarr/Radarr for its profiles (10 s for one away).
            await self.http.request("GET", "/api/v1/auth/me", retry=False)
        except ServiceUnavailable as exc:
            return ServiceHealth(status="offline", response_time_ms=None, error=exc.message)
        except UpstreamHTTPError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            reason = "API key rejected" if exc.upstream_status in (401, 403) else exc.message
            return ServiceHealth(status="degraded", response_time_ms=elapsed, error=reason)
        except UpstreamError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return ServiceHealth(status="degraded", response_time_ms=elapsed, error=exc.message)
        blocked = await csrf_protection_on(self.http)
        title = await application_title(self.http)  # a Seerr, a renamed one (service_names)
        return ServiceHealth(
            status="degraded" if blocked else "online",
            response_time_ms=(time.perf_counter() - started) * 1000,
            version=status.version,
            error=BLOCKED_HEALTH.format(name=self.http.display_name()) if blocked else None,
            display_name=title,
        )

    async def search(self, query: str, *, page: int = 1, language: str | None = None) -> SearchPage:
        """`GET /api/v1/search`: movies, shows and people (callers drop people), in
        `language` (None: Overseerr's own locale; media/language.py)."""
        # Built by hand so the query keeps `%20` for spaces (httpx would send `+`); never an
        # empty `language=` (Overseerr's `?? req.locale` would keep "": TMDB's English).
        query_string = f"query={quote(query, safe='')}&page={int(page)}"
        if language:
            query_string += f"&language={quote(language, safe='')}"
        fetched = await self.http.get_json(f"/api/v1/search?{query_string}")
        return self.http.parse(SearchPage, fetched.data)

    async def create_request(
        self,
        *,
        media_type: MediaType,
        tmdb_id: int,
        seasons: list[int] | Literal["all"] | None = None,
        overseerr_user_id: int | None = None,
    ) -> OverseerrRequest:
        """`POST /api/v1/request` (never retried: a retry could request twice), as
        Overseerr user `overseerr_user_id` (`X-API-User`) when given, else as the API key's
        admin. Acting as the user (middleware/auth.ts `checkUser`), Overseerr applies
        their rules: permissions, quotas, whether the request waits for approval, Seerr's
        override rules; a body `userId` would leave approval and overrides the admin's.

        Raises `OverseerrRefused` for 403 (no permission, Overseerr's own quota, or
        `isAuthenticated`'s refusal of an `X-API-User` it does not have: its `error`
        becomes the reason), 409 (already requested), 202 (no seasons left to request)
        and Overseerr's own 500 (its answer to anything else);
        `OverseerrWritesBlocked` while its CSRF protection refuses every change.
        """
        body: dict[str, Any] = {"mediaType": media_type, "mediaId": tmdb_id}
        if media_type == "tv":
            body["seasons"] = seasons if seasons is not None else "all"
        headers = None if overseerr_user_id is None else {"X-API-User": str(overseerr_user_id)}
        name = self.http.display_name()
        try:
            response = await self._write(
                "POST", "/api/v1/request", body, (200, 201, 202, 500), headers=headers
            )
        except UpstreamHTTPError as exc:
            if exc.upstream_status in (400, 403, 404, 409):
                reason = refusal_reason(json_or_none(exc.body))
                raise OverseerrRefused(exc.upstream_status, reason, name=name) from exc
            raise
        if response.status_code == 202:
            raise OverseerrRefused(202, error_message(json_or_none(response.text)), name=name)
        if response.status_code == 500:
            # routes/request.ts answers every error it has no status for with 500 and its
            # `{message}`: about this request, not an outage (the breaker must not count it).
            message = error_message(json_or_none(response.text))
            if message is None:
                raise UpstreamHTTPError("overseerr", 500, response.text[:2000])
            raise OverseerrRefused(500, message, name=name)
        return self.http.parse(OverseerrRequest, json_or_none(response.text))

    async def user_exists(self, user_id: int) -> bool:
        """`GET /api/v1/user/{id}`: whether Overseerr has this user (404 → False)."""
        path, expected = f"/api/v1/user/{user_id}", (200, 404)
        response = await self.http.request("GET", path, retry=False, expected=expected)
        return response.status_code == 200

    async def import_from_plex(self, plex_account_id: int) -> httpx.Response:
        """`POST /api/v1/user/import-from-plex` for one Plex account (its id as the string
        routes/user/index.ts compares); media/overseerr_import.py reads the answer."""
        body = {"plexIds": [str(plex_account_id)]}
        return await self._write("POST", "/api/v1/user/import-from-plex", body, (201, 500))

    async def user_for_plex_account(
        self, plex_account_id: int, *, fresh: bool = False
    ) -> int | None:
        """The id of the one Overseerr user whose `plexId` is this Plex account, or None:
        no such user, two of them (never guess), or Overseerr unable to say now.

        `fresh`: from a list asked for now, not the kept one (which named a user
        Overseerr no longer has)."""
        kept = self._plex_users
        if not fresh and kept is not None and time.monotonic() - kept[0] < USER_LIST_SECONDS:
            users = kept[1]
        else:
            changed_at = time.time() if fresh else None
            users = await self._plex_users_flight.run(
                "users", self._fetch_plex_users, changed_at=changed_at
            )
        return None if users is None else users.get(plex_account_id)

    @property
    def user_list_known(self) -> bool:
        """Whether the last user list was answered (a None above meant "no such user")."""
        return self._plex_users is not None and self._plex_users[1] is not None

    async def _fetch_plex_users(self) -> dict[int, int] | None:
        try:
            async with asyncio.timeout(USER_LIST_SECONDS_BUDGET):
                users: dict[int, int] | None = await self._plex_user_ids()
        except (TimeoutError, ServiceUnavailable, UpstreamError) as exc:
            log.warning("overseerr_user_list_failed", error=str(exc) or type(exc).__name__)
            users = None
        self._plex_users = (time.monotonic(), users)
        return users

    async def _plex_user_ids(self) -> dict[int, int]:
        """`GET /api/v1/user`, every page (by id, `take`/`skip`): plexId → user id, a
        plexId two users share left out."""
        found: dict[int, int] = {}
        shared: set[int] = set()
        skip = 0
        for _ in range(USER_LIST_PAGES):
            response = await self.http.request(
                "GET", "/api/v1/user", params={"take": USER_LIST_TAKE, "skip": skip}, retry=False
            )
            page = self.http.parse(UserPage, self.http.decode(response))
            for user in page.results:
                if user.plex_id is not None and found.setdefault(user.plex_id, user.id) != user.id:
                    shared.add(user.plex_id)
            skip += len(page.results)
            if len(page.results) < USER_LIST_TAKE or skip >= page.page_info.results:
                break
        return {plex_id: uid for plex_id, uid in found.items() if plex_id not in shared}

    async def send_webhook_test(
        self, *, webhook_url: str, authorization: str, template: str
    ) -> None:
        """`POST /api/v1/settings/notifications/webhook/test`: Overseerr sends its test
        notification with these webhook settings; 204 when its POST succeeded, 500 when it
        failed. The template goes as a JSON string literal, as Overseerr's own form sends
        it: the route `JSON.parse`s the field, its webhook agent parses it twice."""
        body = {
            "enabled": True,
            "types": 0,
            "options": {
                "webhookUrl": webhook_url,
                "authHeader": authorization,
                "jsonPayload": json.dumps(template),
            },
        }
        try:
            # Its 500 says the POST to the webhook URL failed: an answer, not an outage.
            response = await self._write(
                "POST", "/api/v1/settings/notifications/webhook/test", body, (200, 204, 500)
            )
            status, text = response.status_code, response.text
        except UpstreamHTTPError as exc:
            status, text = exc.upstream_status, exc.body
        if status not in (200, 204):
            raise UpstreamError(
                error_message(json_or_none(text))
                or f"{self.http.display_name()} refused the test.",
                details={"service": "overseerr", "upstreamStatus": status},
            )

    async def _write(
        self,
        method: str,
        path: str,
        body: Any,
        expected: Sequence[int],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Every call that changes Overseerr's data (never retried: a retry could make it
        twice). With "Enable CSRF Protection" on, Overseerr refuses each of them with
        csurf's 403 whatever the API key: that is `OverseerrWritesBlocked`, not a refusal
        of this one call. A 4xx, so the breaker counts Overseerr as up."""
        try:
            return await self.http.request(
                method, path, json=body, headers=headers, retry=False, expected=expected
            )
        except UpstreamHTTPError as exc:
            if writes_blocked(exc.upstream_status, error_message(json_or_none(exc.body))):
                log.warning("overseerr_writes_blocked", method=method, route=path)
                raise OverseerrWritesBlocked(name=self.http.display_name()) from None
            raise

    async def list_requests(
        self,
        *,
        take: int = 20,
        skip: int = 0,
        request_filter: RequestFilter = "all",
        sort: Literal["added", "modified"] = "added",
        requested_by: int | None = None,
    ) -> RequestPage:
        """`GET /api/v1/request`: one page of requests, newest first."""
        params: dict[str, Any] = {"take": take, "skip": skip, "filter": request_filter}
        params["sort"] = sort
        if requested_by is not None:
            params["requestedBy"] = requested_by
        fetched = await self.http.get_json("/api/v1/request", params=params)
        return self.http.parse(RequestPage, fetched.data)

    async def get_request(self, request_id: int) -> OverseerrRequest | None:
        """`GET /api/v1/request/{id}`; None when Overseerr no longer knows it."""
        try:
            fetched = await self.http.get_json(f"/api/v1/request/{int(request_id)}")
        except UpstreamHTTPError as exc:
            if exc.upstream_status == 404:
                return None
            raise
        return self.http.parse(OverseerrRequest, fetched.data)

    async def request_gone(
        self, request_id: int, *, media_type: MediaType, tmdb_id: int
    ) -> bool | None:
        """After `GET /request/{id}` answered 404 (routes/request.ts answers that for any
        failure, a database error too): True when Overseerr confirms it has no such
        request, False when it still has it, None when it cannot tell now.

        First the title's details: their `mediaInfo.requests` come from the same query
        as the media, so a media record present lists every request of it. With no
        media record, either it was cleared (its requests went with it) or its lookup
        failed (`Media.getMedia` answers "none" for a database error); and details
        Overseerr cannot retrieve (TMDB dropped the title, or is out of its reach) say
        nothing: then the request list, which answers 500 for a failure, decides."""
        details = await (self.movie_details if media_type == "movie" else self.tv_details)(tmdb_id)
        info = details.media_info if details is not None else None
        if info is not None:
            return all(request.id != request_id for request in info.requests)
        return await self._missing_from_list(request_id)

    async def _missing_from_list(self, request_id: int) -> bool | None:
        """Look for `request_id` in the request list (every request, newest id first).
        Each page is one query, so only a single answer can prove absence: one whose ids
        pass over `request_id`, or the list's end. Pages overlap by one so each pair of
        neighbours shares a page (a delete between pages may break that: None, as after
        `LIST_SCAN_PAGES` pages)."""
        skip = 0
        for _ in range(LIST_SCAN_PAGES):
            page = await self.list_requests(take=LIST_SCAN_TAKE, skip=skip)
            ids = [request.id for request in page.results]
            if request_id in ids:
                return False
            if not ids or ids[0] < request_id:
                # Before anything newer: absent; after other pages: the list moved.
                return True if skip == 0 else None
            if ids[-1] < request_id or len(ids) < LIST_SCAN_TAKE:
                return True  # this one answer passes over it, or reaches the list's end
            skip += LIST_SCAN_TAKE - 1
        return None

    async def movie_details(
        self, tmdb_id: int, *, language: str | None = None
    ) -> MovieDetails | None:
        """`GET /api/v1/movie/{tmdbId}`; None when Overseerr cannot retrieve the title."""
        data = await self._details("movie", tmdb_id, language)
        return None if data is None else self.http.parse(MovieDetails, data)

    async def tv_details(self, tmdb_id: int, *, language: str | None = None) -> TvDetails | None:
        """`GET /api/v1/tv/{tmdbId}` with its seasons; None: Overseerr cannot retrieve it."""
        data = await self._details("tv", tmdb_id, language)
        return None if data is None else self.http.parse(TvDetails, data)

    async def _details(self, media_type: MediaType, tmdb_id: int, language: str | None) -> Any:
        """The details' JSON, or None for Overseerr's "Unable to retrieve movie/series."
        routes/movie.ts and tv.ts answer every failure of TMDB's lookup with that 500: an
        id TMDB does not know, or TMDB out of Overseerr's reach; it cannot tell which. An
        answer about this title, so not retried and not counted by the breaker; any other
        5xx (a proxy's, or without that message) stays an outage."""
        unretrievable = UNRETRIEVABLE[media_type]
        try:
            response = await self.http.request(
                "GET",
                f"/api/v1/{media_type}/{int(tmdb_id)}",
                params={"language": language} if language else None,
                answer=lambda r: (
                    r.status_code == 500 and error_message(json_or_none(r.text)) == unretrievable
                ),
            )
        except UpstreamHTTPError as exc:
            if exc.upstream_status == 500:  # the accepted answer above
                return None
            raise
        return self.http.decode(response)
