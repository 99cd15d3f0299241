"""A loopback Overseerr (API v1): search with the percent-encoding trap, media requests,
details, status changes (by hand or automatic) and webhook callbacks like the real one;
its settings routes and CSRF protection are in overseerr_settings.py."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import JSONDict, read_json, web_page
from medianest_simulators.overseerr_control import DATABASE_ERROR
from medianest_simulators.overseerr_data import (
    API_KEY,
    APPROVED,
    AVAILABLE,
    CATALOGUE,
    DECLINED,
    FAILED,
    MEDIA_PENDING,
    PENDING,
    PERSON,
    PROCESSING,
    UNKNOWN,
    MediaRequest,
    User,
    media_info,
    user_page_info,
)
from medianest_simulators.overseerr_plex_import import OverseerrPlexImport
from medianest_simulators.overseerr_settings import error, not_authenticated

Handler = Callable[[Request, User], Awaitable[Response]]
ENCODED_VALUE = re.compile(r"(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})*")
ENCODING_MESSAGE = (
    "Parameter 'query' must be url encoded. Its value may not contain reserved characters."
)
PAGE_SIZE = 20
# Routes whose failing query is not answered 500: they answer it themselves, as Overseerr.
OWN_FAILURES = {"_get_request", "_delete_request", "_details", "_search", "_delete_media"}
FILTERS: dict[str, Callable[[MediaRequest], bool]] = {
    "all": lambda r: not r.media.blocklisted,  # Seerr's default filter leaves them out
    "approved": lambda r: r.status == APPROVED,
    "pending": lambda r: r.status == PENDING,
    "available": lambda r: r.media.status == AVAILABLE,
    "processing": lambda r: (
        r.status == APPROVED and r.media.status in (UNKNOWN, MEDIA_PENDING, PROCESSING)
    ),
    "unavailable": lambda r: r.status in (PENDING, APPROVED) and r.media.status < AVAILABLE,
    "failed": lambda r: r.status == FAILED,
}


class OverseerrSimulator(OverseerrPlexImport):
    """Overseerr: `X-Api-Key` auth, acting as admin (id 1) unless `X-API-User` says otherwise."""

    name = "overseerr"

    def __init__(self, *, port: int = 0, api_key: str = API_KEY) -> None:
        super().__init__(port=port, api_key=api_key)

    def routes(self) -> list[BaseRoute]:
        r = self._route
        return [
            Route("/", lambda request: web_page("Overseerr"), methods=["GET"]),
            Route("/api/v1/status", self._status, methods=["GET"]),
            r("/api/v1/search", self._search),
            r("/api/v1/request", self._create_request, "POST"),
            r("/api/v1/request", self._list_requests),
            r("/api/v1/request/count", self._count_requests),
            r("/api/v1/request/{rid:int}", self._get_request),
            r("/api/v1/request/{rid:int}", self._delete_request, "DELETE"),
            r("/api/v1/request/{rid:int}/{action:str}", self._decide_request, "POST"),
            r("/api/v1/movie/{tmdb:int}", self._details),
            r("/api/v1/tv/{tmdb:int}", self._details),
            r("/api/v1/media/{mid:int}", self._delete_media, "DELETE"),
            *self.import_routes(),
            r("/api/v1/user", self._users),
            r("/api/v1/user/{uid:int}", self._user),
            r("/api/v1/auth/me", self._me),
            *self.settings_routes(),
        ]

    def _route(self, path: str, handler: Handler, method: str = "GET") -> Route:
        async def endpoint(request: Request) -> Response:
            if request.headers.get("X-Api-Key") != self.api_key:
                return error(401, "You do not have permission to access this endpoint.")
            # middleware/auth.ts `checkUser`: the admin (1) unless `X-API-User` names a
            # user; one Overseerr does not have leaves no user: isAuthenticated's 403.
            raw_user = (request.headers.get("X-API-User") or "1").strip()
            user = self.users.get(int(raw_user)) if raw_user.isdigit() else None
            if user is None:
                return not_authenticated()
            # Routes whose failing query is not a 500 answer it themselves.
            if handler.__name__ not in OWN_FAILURES and self.database_fails():
                return error(500, DATABASE_ERROR)
            with self.lock:  # handlers never await while holding it
                return await handler(request, user)

        return Route(path, endpoint, methods=[method])

    # --- search -------------------------------------------------------------------------
    async def _search(self, request: Request, user: User) -> Response:
        raw_query = request.scope["query_string"].decode("latin-1")
        params = dict(p.partition("=")[::2] for p in raw_query.split("&") if p)
        if "query" not in params:
            return error(400, "request/query must have required property 'query'")
        if not ENCODED_VALUE.fullmatch(params["query"]):
            return error(400, ENCODING_MESSAGE)
        query = request.query_params["query"].strip().lower()
        raw_page = params.get("page", "1")
        page = int(raw_page) if raw_page.isdigit() else 0
        if page < 1:
            return error(400, "request/query/page must be >= 1")
        if self.tmdb_unreachable:
            # api/themoviedb searchMulti (Overseerr 124-144, Seerr 153-173) answers any
            # failure of TMDB with an empty first page: the route's 200, nothing found.
            return JSONResponse({"page": 1, "totalPages": 1, "totalResults": 0, "results": []})
        titles = sorted(
            (t for t in CATALOGUE.values() if t.matches(query)), key=lambda t: -t.popularity
        )
        rows: list[JSONDict] = []
        failing = self.database_fails()  # one query for all, its error swallowed
        language = self._language(request, user)
        for title in titles:
            row = title.result_json(language)
            media = self.media.get((title.media_type, title.tmdb_id))
            if media is not None and not failing:
                row["mediaInfo"] = media_info(media, list(self.media_requests.values()))
            rows.append(row)
        if query and query in str(PERSON["name"]).lower():
            rows.append(dict(PERSON))
            rows.sort(key=lambda row: -float(row["popularity"]))
        total_pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
        results = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return JSONResponse(
            {"page": page, "totalPages": total_pages, "totalResults": len(rows), "results": results}
        )

    def _language(self, request: Request, user: User) -> str:
        """What Overseerr passes TMDB: `(req.query.language as string) ?? req.locale`
        (sct/overseerr routes/search.ts:23,32, movie.ts:20, tv.ts:17; seerr-team/seerr
        search.ts:23,32, movie.ts:22, tv.ts:31), `req.locale` being the user's settings
        locale, else `settings.main.locale` (middleware/auth.ts:36-38 in both). An empty
        `language=` stays "" (`??` keeps it): TMDB's default, the original here."""
        asked = request.query_params.get("language")
        if asked is not None:
            return asked
        return user.locale or str(self.main_settings.get("locale") or "en")

    # --- requests --------------------------------------------------------------------------
    async def _create_request(self, request: Request, user: User) -> Response:
        body = await read_json(request)
        media_type, media_id = body.get("mediaType"), body.get("mediaId")
        if media_type not in ("movie", "tv") or not isinstance(media_id, int):
            return error(400, "mediaType and mediaId are required")
        # MediaRequest.ts `request`: made for the caller (or a body `userId`), approved
        # at once by the caller's permissions (overseerr_permissions.py).
        requested_for = self.requested_for(user, body, media_type)
        if isinstance(requested_for, Response):
            return requested_for
        if (over := self.quota_refusal(requested_for, media_type, 0)) is not None:
            return over
        title = self.tmdb_title(media_type, media_id)
        if title is None:  # MediaRequest.request's TMDB lookup throws: routes/request.ts's 500
            what = "movie details" if media_type == "movie" else "TV show details"
            reason = "Request failed with status code 404"  # axios, for TMDB's 404
            return error(500, f"[TMDB] Failed to fetch {what}: {reason}")
        media = self.media_for(title)
        if (refused := self.refuse_request(media)) is not None:
            return refused
        is4k = bool(body.get("is4k"))
        seasons: list[int] = []
        if media_type == "movie":
            if self.movie_taken(media, is4k):
                return error(409, "Request for this media already exists.")
        else:
            wanted = body.get("seasons", "all")
            if wanted == "all":
                wanted = list(title.season_numbers(specials=not self.seerr))
            if not isinstance(wanted, list) or not all(isinstance(n, int) for n in wanted):
                return error(400, "seasons must be a list of numbers or 'all'")
            seasons = self.seasons_left(media, wanted, is4k)
            if not seasons:
                return error(202, "No seasons available to request")
            if (over := self.quota_refusal(requested_for, "tv", len(seasons))) is not None:
                return over
        extra = {k: body.get(k) for k in ("serverId", "profileId", "rootFolder")}
        approved_by = user if self.auto_approves(user, media_type) else None
        req = self.add_request(
            media, requested_for, is4k=is4k, seasons=seasons, extra=extra, approved_by=approved_by
        )
        if self.auto_progress is not None:
            self.submit(lambda: self._progress(req.id))
        return JSONResponse(req.as_json(), status_code=201)

    async def _progress(self, request_id: int) -> None:
        assert self.auto_progress is not None
        approve_after, available_after = self.auto_progress
        await asyncio.sleep(approve_after)
        with self.lock:
            req = self.media_requests.get(request_id)
            if req is None or req.status not in (PENDING, APPROVED):
                return
            if req.status == PENDING:  # else approved at once (`auto_approves`)
                self.set_request_status(request_id, APPROVED)
        await asyncio.sleep(available_after)
        with self.lock:
            if req.status == APPROVED:
                title = req.media.title
                self.set_media_status(title.media_type, title.tmdb_id, AVAILABLE)

    async def _list_requests(self, request: Request, user: User) -> Response:
        q = request.query_params
        take = int(q["take"]) if q.get("take", "").isdigit() else 10
        skip = int(q["skip"]) if q.get("skip", "").isdigit() else 0
        wanted = self.list_filter(q.get("filter"))
        if wanted is None or take < 1:
            return error(400, "request/query/filter must be equal to one of the allowed values")
        by = int(q["requestedBy"]) if q.get("requestedBy", "").isdigit() else None
        if not self.sees_every_request(user):
            if by not in (None, user.id):
                return error(403, "You do not have permission to view this user's requests.")
            by = user.id
        rows = [r for r in self.media_requests.values() if wanted(r)]
        if by is not None:
            rows = [r for r in rows if r.requested_by.id == by]
        # routes/request.ts: `request.updatedAt` or else `request.id`, newest first (Seerr:
        # `sortDirection=asc` oldest first).
        modified = q.get("sort") == "modified"
        newest = not (self.seerr and q.get("sortDirection") == "asc")
        rows.sort(key=lambda r: (r.updated_at, r.id) if modified else (r.id, 0), reverse=newest)
        return JSONResponse(
            {
                "pageInfo": {
                    "pages": math.ceil(len(rows) / take),
                    "pageSize": take,
                    "results": len(rows),
                    "page": skip // take + 1,
                },
                "results": [r.as_json() for r in rows[skip : skip + take]],
            }
        )

    async def _count_requests(self, request: Request, user: User) -> Response:
        reqs = list(self.media_requests.values())
        counts = {name: sum(1 for r in reqs if check(r)) for name, check in FILTERS.items()}
        return JSONResponse(
            {
                "total": len(reqs),
                "movie": sum(1 for r in reqs if r.media.title.media_type == "movie"),
                "tv": sum(1 for r in reqs if r.media.title.media_type == "tv"),
                "pending": counts["pending"],
                "approved": counts["approved"],
                "declined": sum(1 for r in reqs if r.status == DECLINED),
                "processing": counts["processing"],
                "available": counts["available"],
            }
        )

    async def _get_request(self, request: Request, user: User) -> Response:
        req = self.media_requests.get(int(request.path_params["rid"]))
        if self.database_fails() or req is None:  # findOneOrFail's catch: any error
            return error(404, "Request not found.")
        return JSONResponse(req.as_json())

    async def _delete_request(self, request: Request, user: User) -> Response:
        req = self.media_requests.get(int(request.path_params["rid"]))
        if self.database_fails() or req is None:
            return error(404, "Request not found.")
        if user.id != 1 and (req.requested_by.id != user.id or req.status != PENDING):
            return error(401, "You do not have permission to delete this request.")
        del self.media_requests[req.id]
        return Response(status_code=204)

    async def _delete_media(self, request: Request, user: User) -> Response:
        # routes/media.ts: MANAGE_REQUESTS (the admin here); any failure is its 404.
        if user.id != 1:
            return error(403, "You do not have permission to access this endpoint.")
        if self.database_fails() or not self.delete_media(int(request.path_params["mid"])):
            return error(404, "Media not found")
        return Response(status_code=204)

    async def _decide_request(self, request: Request, user: User) -> Response:
        req = self.media_requests.get(int(request.path_params["rid"]))
        status = {"approve": APPROVED, "decline": DECLINED, "pending": PENDING}.get(
            request.path_params["action"]
        )
        if req is None or status is None:
            return error(404, "Request not found.")
        if user.id != 1:
            return error(403, "You do not have permission to modify this request.")
        self.set_request_status(req.id, status)
        return JSONResponse(req.as_json())

    # --- details and users ---------------------------------------------------------------
    async def _details(self, request: Request, user: User) -> Response:
        media_type = "movie" if request.url.path.startswith("/api/v1/movie/") else "tv"
        title = self.tmdb_title(media_type, int(request.path_params["tmdb"]))
        if title is None:
            # routes/movie.ts, tv.ts: any failure of TMDB's lookup (an id it does not
            # know, TMDB unreachable) is a 500 with this message and no `errors`.
            word = "movie" if media_type == "movie" else "series"
            return JSONResponse({"message": f"Unable to retrieve {word}."}, status_code=500)
        data = title.result_json(self._language(request, user))
        data |= {"status": "Released", "tagline": "", "genres": []}
        if media_type == "movie":
            # TMDB's imdb_id, passed through by Overseerr; synthetic, like the posters
            data |= {"runtime": 10, "imdbId": f"tt{title.tmdb_id:07d}"}
        else:
            data |= {
                "numberOfSeasons": len(title.seasons),
                # TMDB lists "Specials" (season 0) first; numberOfSeasons leaves it out.
                "seasons": [
                    {
                        "id": title.tmdb_id * 100 + n,
                        "seasonNumber": n,
                        "episodeCount": title.seasons[n - 1] if n else title.specials,
                        "name": f"Season {n}" if n else "Specials",
                        "airDate": f"{title.year + max(n, 1) - 1}-09-01",
                        "overview": "",
                        "posterPath": f"/sim{title.tmdb_id}-season{n}.jpg",
                    }
                    for n in title.season_numbers(specials=True)
                ],
            }
        media = self.media.get((media_type, title.tmdb_id))
        if not self.database_fails() and media is not None:  # getMedia swallows its error
            data["mediaInfo"] = media_info(media, list(self.media_requests.values()))
        return JSONResponse(data)

    async def _users(self, request: Request, user: User) -> Response:
        """routes/user/index.ts, by id; `email`/`plexId` only for MANAGE_USERS (admin)."""
        q = request.query_params
        take = int(q["take"]) if q.get("take", "").isdigit() else 10
        skip = int(q["skip"]) if q.get("skip", "").isdigit() else 0
        if take < 1:  # real Overseerr would divide by zero (`pages`: null)
            return error(400, "request/query/take must be >= 1")
        rows = [u.as_json(private=user.id == 1) for _, u in sorted(self.users.items())]
        return JSONResponse(
            {"pageInfo": user_page_info(len(rows), take, skip), "results": rows[skip : skip + take]}
        )

    async def _user(self, request: Request, user: User) -> Response:
        found = self.users.get(int(request.path_params["uid"]))
        shown = found.as_json(private=user.id == 1) if found else None
        return JSONResponse(shown) if shown else error(404, "User not found.")

    async def _me(self, request: Request, user: User) -> Response:
        return JSONResponse(user.as_json())
