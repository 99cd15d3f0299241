"""State and control side of the Overseerr simulator: seeded users, media and requests,
status changes, automatic progress, 403 switches and webhook delivery (with /__sim/ twins)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import JSONDict, Simulator, ok, read_json, tls_context
from medianest_simulators.overseerr_data import (
    ADMIN,
    APPROVED,
    AVAILABLE,
    CATALOGUE,
    DECLINED,
    FAILED,
    MEDIA_PENDING,
    MEDIA_STATUS_NAMES,
    PARTIALLY_AVAILABLE,
    PENDING,
    PROCESSING,
    REQUEST_STATUS_NAMES,
    UNKNOWN,
    Media,
    MediaRequest,
    Title,
    User,
    iso,
)
from medianest_simulators.overseerr_webhook import webhook_payload

# What TypeORM throws while Overseerr's SQLite database is locked by another writer.
DATABASE_ERROR = "SQLITE_BUSY: database is locked"
STATUS_NOTIFICATIONS = {
    APPROVED: "MEDIA_APPROVED",
    DECLINED: "MEDIA_DECLINED",
    FAILED: "MEDIA_FAILED",
    PENDING: "MEDIA_PENDING",
}


def _status_number(value: Any, names: dict[int, str]) -> int:
    if isinstance(value, int) and value in names:
        return value
    by_name = {v: k for k, v in names.items()}
    if isinstance(value, str) and value.upper() in by_name:
        return by_name[value.upper()]
    raise ValueError(f"unknown status {value!r}")


class OverseerrControl(Simulator):
    """The Overseerr simulator's data and every way tests can change it."""

    def __init__(self, *, port: int = 0, api_key: str) -> None:
        self.api_key = api_key
        self.users: dict[int, User] = {}
        self.last_user_id = 0  # the highest user id handed out (ids are never reused)
        self.media: dict[tuple[str, int], Media] = {}
        self.media_requests: dict[int, MediaRequest] = {}
        self.next_request_id = self.next_media_id = 0
        # Queries of Overseerr's own that fail: 0 none, None every one, n the next n.
        self.database_failures: int | None = 0
        self.forbidden_users: set[int] = set()
        self.tmdb_unreachable = False  # Overseerr's TMDB lookups fail (`cut_tmdb`)
        self.auto_progress: tuple[float, float] | None = None
        self.webhook_url: str | None = None
        self.webhook_authorization: str | None = None
        self.webhook_deliveries: list[JSONDict] = []
        self._webhook_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        super().__init__(port=port)

    def reset_state(self) -> None:
        """Seed: two movies available, one pending request (alice), a partly available show
        and an approved series request (bob); everything else unknown. Webhook off."""
        self.users = {
            # Imported from Plex: their plexIds are the plex.tv simulator's account ids.
            1: User(1, "plexowner", "owner@medianest.test", plex_id=1, permissions=ADMIN),
            2: User(2, "alice", "alice@medianest.test", plex_id=2),
            3: User(3, "bob", "bob@medianest.test", plex_id=3),
        }
        self.last_user_id = 0
        self.media, self.media_requests, self.next_request_id = {}, {}, 0
        self.next_media_id, self.database_failures = 0, 0
        self.forbidden_users, self.tmdb_unreachable = set(), False
        self.auto_progress = None
        self.webhook_url = self.webhook_authorization = None
        self.webhook_deliveries = []
        for tmdb_id, rating_key in ((10378, "101"), (45745, "103")):
            media = self.media_for(CATALOGUE[("movie", tmdb_id)])
            media.status, media.rating_key = AVAILABLE, rating_key
        pioneer = self.media_for(CATALOGUE[("tv", 30991)])
        pioneer.status, pioneer.season_status = PARTIALLY_AVAILABLE, {1: AVAILABLE, 2: UNKNOWN}
        tears = self.media_for(CATALOGUE[("movie", 133701)])
        tears.status = MEDIA_PENDING
        self._seed_request(tears, self.users[2], PENDING, [])
        theater = self.media_for(CATALOGUE[("tv", 500002)])
        theater.status, theater.season_status = (
            PROCESSING,
            {1: PROCESSING, 2: PROCESSING, 3: PROCESSING},
        )
        self._seed_request(theater, self.users[3], APPROVED, [1, 2, 3])

    def _seed_request(self, media: Media, user: User, status: int, seasons: list[int]) -> None:
        self.next_request_id += 1
        at = 1_700_000_000.0 + self.next_request_id * 60
        self.media_requests[self.next_request_id] = MediaRequest(
            self.next_request_id,
            media,
            user,
            status,
            False,
            seasons,
            modified_by=self.users[1] if status == APPROVED else None,
            created_at=at,
            updated_at=at,
        )

    def media_for(self, title: Title) -> Media:
        key = (title.media_type, title.tmdb_id)
        if key not in self.media:
            self.next_media_id += 1  # never reused, as Overseerr's autoincrement id
            self.media[key] = Media(self.next_media_id, title)
        return self.media[key]

    def add_request(
        self,
        media: Media,
        user: User,
        *,
        is4k: bool,
        seasons: list[int],
        extra: JSONDict,
        approved_by: User | None = None,
    ) -> MediaRequest:
        """Record a new request (its media and seasons become pending) and announce it:
        approved at once by `approved_by` (MEDIA_AUTO_APPROVED), else MEDIA_PENDING."""
        with self.lock:
            self.next_request_id += 1
            now = time.time()
            req = MediaRequest(
                self.next_request_id,
                media,
                user,
                PENDING,
                is4k,
                seasons,
                created_at=now,
                updated_at=now,
                extra=extra,
            )
            self.media_requests[req.id] = req
            # MediaRequest.ts: `status` (4K: `status4k`) PENDING; no seasons (scanners' own).
            if is4k and media.status4k == UNKNOWN:
                media.status4k = MEDIA_PENDING
            elif not is4k and media.status == UNKNOWN:
                media.status = MEDIA_PENDING
            media.updated_at = now
            if approved_by is not None:
                self.set_request_status(req.id, APPROVED, notify="MEDIA_AUTO_APPROVED")
                req.modified_by = approved_by
            else:
                self.notify("MEDIA_PENDING", req, media)
            return req

    # --- control (in-process) -----------------------------------------------------------
    def set_request_status(
        self, request_id: int, status: int | str, notify: str | None = None
    ) -> None:
        """Set a request's status (1-4 or name); media status follows; webhooks fire."""
        with self.lock:
            number = _status_number(status, REQUEST_STATUS_NAMES)
            req = self.media_requests[request_id]
            req.status, req.updated_at = number, time.time()
            req.modified_by = self.users[1]
            media = req.media
            if number == APPROVED:  # a 4K request moves the 4K statuses
                key = "status4k" if req.is4k else "status"
                setattr(media, key, max(getattr(media, key), PROCESSING))
                seasons = media.season_status4k if req.is4k else media.season_status
                for n in req.seasons:
                    seasons[n] = max(seasons.get(n, UNKNOWN), PROCESSING)
            if (
                number in (DECLINED, FAILED)
                and not any(r.active for r in self.media_requests.values() if r.media is media)
                and media.status < PARTIALLY_AVAILABLE
            ):
                media.status = UNKNOWN
            self.notify(notify or STATUS_NOTIFICATIONS[number], req, media)

    def set_media_status(
        self, media_type: str, tmdb_id: int, status: int | str, *, rating_key: str | None = None
    ) -> None:
        """Set media status (1-5 or name); AVAILABLE notifies MEDIA_AVAILABLE per request."""
        with self.lock:
            number = _status_number(status, MEDIA_STATUS_NAMES)
            media = self.media_for(CATALOGUE[(media_type, tmdb_id)])
            media.status, media.updated_at = number, time.time()
            media.rating_key = rating_key or media.rating_key
            if number == AVAILABLE:
                count = len(media.title.seasons)
                media.season_status = {n: AVAILABLE for n in range(1, count + 1)}
                for req in self.media_requests.values():
                    if req.media is media and req.status == APPROVED:
                        self.notify("MEDIA_AVAILABLE", req, media)

    def complete_request(self, request_id: int) -> None:
        """Approve a request and make its media available."""
        with self.lock:
            self.set_request_status(request_id, APPROVED)
            title = self.media_requests[request_id].media.title
            self.set_media_status(title.media_type, title.tmdb_id, AVAILABLE)

    def set_auto_progress(self, approve_after: float | None, available_after: float = 0.0) -> None:
        """New requests move PENDING -> APPROVED -> AVAILABLE after these delays (None: off)."""
        with self.lock:
            self.auto_progress = None if approve_after is None else (approve_after, available_after)

    def add_user(self, username: str, *, plex_id: int | None = None) -> User:
        """A new Overseerr user (the next id): imported from Plex with `plex_id`, else
        a local user."""
        with self.lock:
            # Overseerr's ids autoincrement: a deleted user's id is never handed out again.
            uid = max([*self.users, self.last_user_id]) + 1
            user = User(uid, username, f"{username}@medianest.test", 1 if plex_id else 2, plex_id)
            self.users[uid] = user
            self.last_user_id = uid
            return user

    def delete_user(self, user_id: int) -> None:
        """Delete a user as `DELETE /api/v1/user/{id}` does (routes/user/index.ts): their
        requests go with them. Importing the same Plex account again gives a new id."""
        with self.lock:
            del self.users[user_id]
            for rid in [
                r for r, req in self.media_requests.items() if req.requested_by.id == user_id
            ]:
                del self.media_requests[rid]

    def forbid_requests(self, user_id: int, forbidden: bool = True) -> None:
        """Requests by `user_id` get 403 (no permission / over quota)."""
        with self.lock:
            (self.forbidden_users.add if forbidden else self.forbidden_users.discard)(user_id)

    def cut_tmdb(self, unreachable: bool = True) -> None:
        """Overseerr cannot reach TMDB: every title's details and every new request fail
        as they do for an id TMDB does not know (Overseerr answers both alike)."""
        with self.lock:
            self.tmdb_unreachable = unreachable

    def tmdb_title(self, media_type: str, tmdb_id: int) -> Title | None:
        """The title TMDB gives Overseerr for this id (None: unknown, or TMDB unreachable)."""
        with self.lock:
            return None if self.tmdb_unreachable else CATALOGUE.get((media_type, tmdb_id))

    def fail_database(self, times: int | None = None) -> None:
        """Overseerr's database fails its next `times` queries (None: until cleared with
        `times=0`), answered as the real routes answer: `GET /request/{id}` 404 (its catch
        says "not found" for any error), details and search without `mediaInfo`
        (`Media.getMedia` and `getRelatedMedia` swallow it), everything else 500 with the
        error's message. The user lookup of the API key is taken to have worked."""
        with self.lock:
            self.database_failures = times

    def database_fails(self) -> bool:
        """Whether this query fails (counting it against `fail_database(times)`)."""
        with self.lock:
            if self.database_failures is None:
                return True
            if self.database_failures > 0:
                self.database_failures -= 1
                return True
            return False

    def delete_media(self, media_id: int) -> bool:
        """routes/media.ts DELETE: the media goes, and its requests with it (CASCADE)."""
        with self.lock:
            found = [key for key, media in self.media.items() if media.id == media_id]
            for key in found:
                media = self.media.pop(key)
                for rid in [r.id for r in self.media_requests.values() if r.media is media]:
                    del self.media_requests[rid]
            return bool(found)

    def set_webhook(self, url: str | None, authorization: str | None = None) -> None:
        with self.lock:
            self.webhook_url, self.webhook_authorization = url, authorization

    def send_test_notification(self) -> None:
        self.notify("TEST_NOTIFICATION", None, None)

    def notify(self, kind: str, request: MediaRequest | None, media: Media | None) -> None:
        """Queue a webhook POST (no-op without a webhook URL)."""
        url, authorization = self.webhook_url, self.webhook_authorization
        if url:
            payload = webhook_payload(kind, request, media)
            self.submit(lambda: self.deliver(url, authorization, payload))

    async def deliver(self, url: str, authorization: str | None, payload: JSONDict) -> None:
        """POST one webhook; deliveries go out one after another, in order."""
        loop = asyncio.get_running_loop()
        if self._webhook_lock is None or self._webhook_lock[0] is not loop:
            self._webhook_lock = (loop, asyncio.Lock())
        async with self._webhook_lock[1]:
            headers = {"Authorization": authorization} if authorization else {}
            record: JSONDict = {"url": url, "payload": payload, "at": iso(time.time())}
            try:
                async with httpx.AsyncClient(timeout=5, verify=tls_context()) as client:
                    answer = await client.post(url, json=payload, headers=headers)
                record |= {"status": answer.status_code, "error": None}
            except httpx.HTTPError as exc:
                record |= {"status": None, "error": repr(exc)}
            with self.lock:
                self.webhook_deliveries.append(record)

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[JSONDict]:
        """Block until at least `count` webhook deliveries were attempted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.webhook_deliveries) >= count:
                    return list(self.webhook_deliveries)
            time.sleep(0.01)
        raise TimeoutError(f"{len(self.webhook_deliveries)} webhook deliveries, wanted {count}")

    # --- control (HTTP) ----------------------------------------------------------------------
    def control_routes(self) -> list[BaseRoute]:
        return [
            Route(
                "/__sim/media-requests/{rid:int}/status",
                self._http_request_status,
                methods=["POST"],
            ),
            Route(
                "/__sim/media/{kind}/{tmdb:int}/status", self._http_media_status, methods=["POST"]
            ),
            Route("/__sim/webhook", self._http_webhook, methods=["GET", "POST"]),
            Route("/__sim/webhook/test", self._http_webhook_test, methods=["POST"]),
            Route("/__sim/auto-progress", self._http_auto_progress, methods=["POST"]),
            Route("/__sim/users/{uid:int}/forbid", self._http_forbid, methods=["POST"]),
            Route("/__sim/database", self._http_database, methods=["POST"]),
        ]

    async def _http_request_status(self, request: Request) -> Response:
        body = await read_json(request)
        try:
            self.set_request_status(int(request.path_params["rid"]), body.get("status", 0))
        except (KeyError, ValueError) as exc:
            return ok({"message": str(exc)}, status=400)
        return ok()

    async def _http_media_status(self, request: Request) -> Response:
        body = await read_json(request)
        try:
            self.set_media_status(
                request.path_params["kind"],
                int(request.path_params["tmdb"]),
                body.get("status", 0),
                rating_key=body.get("ratingKey"),
            )
        except (KeyError, ValueError) as exc:
            return ok({"message": str(exc)}, status=400)
        return ok()

    async def _http_webhook(self, request: Request) -> Response:
        if request.method == "POST":
            body = await read_json(request)
            self.set_webhook(body.get("url"), body.get("authorization"))
        with self.lock:
            return ok({"url": self.webhook_url, "deliveries": list(self.webhook_deliveries)})

    async def _http_webhook_test(self, request: Request) -> Response:
        self.send_test_notification()
        return ok()

    async def _http_auto_progress(self, request: Request) -> Response:
        body = await read_json(request)
        approve = body.get("approveAfter")
        self.set_auto_progress(
            None if approve is None else float(approve), float(body.get("availableAfter") or 0.0)
        )
        return ok()

    async def _http_forbid(self, request: Request) -> Response:
        body = await read_json(request)
        self.forbid_requests(int(request.path_params["uid"]), bool(body.get("forbidden", True)))
        return ok()

    async def _http_database(self, request: Request) -> Response:
        """`{"failing": true}` (until `false`) or `{"failing": 2}` (the next 2 queries)."""
        failing = (await read_json(request)).get("failing", True)
        times = failing if type(failing) is int else None if failing is True else 0
        self.fail_database(times)
        return ok()
