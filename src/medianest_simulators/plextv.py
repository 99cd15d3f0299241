"""A loopback plex.tv (and app.plex.tv): PIN sign-in, user lookup, server resources, and
who the owner's server is shared with (friends, the Plex Home; see `plextv_sharing`).

The same app serves the `/link` and `/auth/#!?code=...` pages, whose buttons approve a
PIN the way a user would, so browser tests can walk through the real sign-in flow.
The state and the /__sim/ control endpoints live in `plextv_control`.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plextv_control import PlexTvControl
from medianest_simulators.plextv_models import PIN_NOT_FOUND, PlexAccount
from medianest_simulators.plextv_pages import AUTH_PAGE, LINK_PAGE
from medianest_simulators.plextv_sharing import (
    friends_json,
    home_users_json,
    home_users_xml,
    shared_servers_xml,
    users_xml,
)

RATE_LIMITED = {"errors": [{"code": 1003, "message": "Too many requests"}]}
# The Plex simulator's libraries (plex_library.py), as a share lists them.
SECTIONS = [
    (1, "Movies", "movie"),
    (2, "TV Shows", "show"),
    (3, "YouTube", "movie"),
    (4, "Music", "artist"),
    (5, "Photos", "photo"),
    (6, "Home Videos", "movie"),
]


class PlexTvSimulator(PlexTvControl):
    """plex.tv: `/api/v2/pins`, `/api/v2/user`, `/api/v2/resources`, the share lists
    (`/api/users`, `/api/servers/{id}/shared_servers`, `/api/home/users`, `/api/v2/friends`),
    `/link`, `/auth/`."""

    name = "plextv"

    # --- HTTP API ----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v2/pins", self._create_pin, methods=["POST"]),
            Route("/api/v2/pins/{pin_id:int}", self._get_pin, methods=["GET"]),
            Route("/api/v2/user", self._get_user, methods=["GET"]),
            Route("/api/v2/resources", self._get_resources, methods=["GET"]),
            Route("/api/users", self._get_users, methods=["GET"]),
            Route("/api/users/", self._get_users, methods=["GET"]),
            Route("/api/users/{user_id:int}", self._put_restrictions, methods=["PUT"]),
            Route("/api/v2/sharings/{user_id:int}", self._put_restrictions, methods=["PUT"]),
            Route(
                "/api/servers/{machine_identifier}/shared_servers",
                self._get_shared_servers,
                methods=["GET"],
            ),
            Route("/api/home/users", self._get_home_users, methods=["GET"]),
            Route("/api/v2/home/users", self._get_home_users_v2, methods=["GET"]),
            Route("/api/v2/friends", self._get_friends, methods=["GET"]),
            Route("/link", self._link_page, methods=["GET"]),
            Route("/auth/", self._auth_page, methods=["GET"]),
            Route("/auth", self._auth_page, methods=["GET"]),
        ]

    def server_share(
        self, machine_identifier: str, access_token: str
    ) -> tuple[str, frozenset[int] | None, Restrictions] | None:
        """Who an accepted share's server token belongs to, the library ids it shares
        (None: all) and its restrictions: what a Plex Media Server learns from plex.tv
        about its shared users (`PlexSimulator.follow_plextv`). None for a token no share
        of it has (any more)."""
        with self.lock:
            for (username, machine), token in self.shares.items():
                key = (username, machine)
                if machine == machine_identifier and token == access_token:
                    if key in self.pending_shares:
                        return None
                    restrictions = self.share_restrictions.get(key, Restrictions())
                    return username, self.share_sections.get(key), restrictions
            return None

    async def _create_pin(self, request: Request) -> Response:
        client_id = _plex_param(request, "X-Plex-Client-Identifier")
        if not client_id:
            return JSONResponse(
                {"errors": [{"code": 1000, "message": "X-Plex-Client-Identifier is missing"}]},
                status_code=400,
            )
        strong = request.query_params.get("strong", "").lower() in ("true", "1")
        product = _plex_param(request, "X-Plex-Product") or "Plex Web"
        pin = self.create_pin(client_id, product, strong=strong)
        return JSONResponse(pin.as_json(), status_code=201)

    async def _get_pin(self, request: Request) -> Response:
        pin_id = int(request.path_params["pin_id"])
        client_id = _plex_param(request, "X-Plex-Client-Identifier")
        if self._polled_too_fast(client_id or "", pin_id):
            return JSONResponse(RATE_LIMITED, status_code=429, headers={"Retry-After": "1"})
        pin = self.find_pin(pin_id)
        if pin is None or not pin.alive() or pin.denied or pin.client_identifier != client_id:
            return JSONResponse(PIN_NOT_FOUND, status_code=404)
        return JSONResponse(pin.as_json())

    def _polled_too_fast(self, client_id: str, pin_id: int) -> bool:
        with self.lock:
            now = time.monotonic()
            last = self._last_poll.get((client_id, pin_id))
            self._last_poll[(client_id, pin_id)] = now
            return last is not None and now - last < self.pin_poll_min_interval

    async def _get_user(self, request: Request) -> Response:
        account = self.account_for_token(_plex_param(request, "X-Plex-Token"))
        if account is None:
            return _unauthorized()
        return JSONResponse(account.as_json())

    async def _get_resources(self, request: Request) -> Response:
        account = self.account_for_token(_plex_param(request, "X-Plex-Token"))
        if account is None:
            return _unauthorized()
        return JSONResponse(self.resources_for(account))

    def _owner_of_request(self, request: Request) -> PlexAccount | None:
        return self.account_for_token(_plex_param(request, "X-Plex-Token"))

    async def _get_users(self, request: Request) -> Response:
        owner = self._owner_of_request(request)
        if owner is None:
            return _unauthorized_xml()
        with self.lock:
            owned = [s for s in self.servers.values() if s.owner == owner.username]
            body = users_xml(
                owned[0].machine_identifier if owned else None,
                self._shares_of(owner),
                self._home_of(owner),
                SECTIONS,
            )
        return _xml(body)

    async def _put_restrictions(self, request: Request) -> Response:
        """The owner changes a user's restrictions on the owner's server, given as query
        arguments: python-plexapi myplex.py `updateFriend` (`PUT /api/v2/sharings/{userId}
        ?filterMovies=...`), or `PUT /api/users/{id}?filterMovies=...`. Only the filters
        named change; plex.tv keeps the strings verbatim."""
        owner = self._owner_of_request(request)
        if owner is None:
            return _unauthorized()
        with self.lock:
            user = next(
                (a for a in self.accounts.values() if a.id == request.path_params["user_id"]),
                None,
            )
            owned = [
                s.machine_identifier for s in self.servers.values() if s.owner == owner.username
            ]
            keys = (
                [(user.username, m) for m in owned if (user.username, m) in self.shares]
                if user
                else []
            )
            if not keys:
                return JSONResponse({"errors": [{"code": 1002, "message": "Not found"}]}, 404)
            for key in keys:
                known = self.share_restrictions.get(key, Restrictions())
                self.restrict(key[0], known.changed(dict(request.query_params)), key[1])
        return JSONResponse({})

    async def _get_shared_servers(self, request: Request) -> Response:
        owner = self._owner_of_request(request)
        if owner is None:
            return _unauthorized_xml()
        with self.lock:
            server = self.servers.get(request.path_params["machine_identifier"])
            if server is None or server.owner != owner.username:
                # plex.tv does not tell a stranger whether the server exists.
                return _unauthorized_xml()
            shares = [
                share
                for _account, account_shares in self._shares_of(owner).values()
                for share in account_shares
                if share.server is server
            ]
            body = shared_servers_xml(server, shares, SECTIONS)
        return _xml(body)

    async def _get_home_users(self, request: Request) -> Response:
        owner = self._owner_of_request(request)
        if owner is None:
            return _unauthorized_xml()
        with self.lock:
            return _xml(home_users_xml(owner, self._home_of(owner)))

    async def _get_home_users_v2(self, request: Request) -> Response:
        owner = self._owner_of_request(request)
        if owner is None:
            return _unauthorized()
        with self.lock:
            return JSONResponse(home_users_json(owner, self._home_of(owner)))

    async def _get_friends(self, request: Request) -> Response:
        owner = self._owner_of_request(request)
        if owner is None:
            return _unauthorized()
        with self.lock:
            return JSONResponse(friends_json(self._shares_of(owner), self._home_of(owner)))

    async def _link_page(self, request: Request) -> Response:
        return HTMLResponse(LINK_PAGE)

    async def _auth_page(self, request: Request) -> Response:
        return HTMLResponse(AUTH_PAGE)


def _plex_param(request: Request, name: str) -> str | None:
    """A Plex client value, sent as a header or (as some clients do) a query parameter."""
    return request.headers.get(name) or request.query_params.get(name)


def _xml(body: str) -> Response:
    return Response(body, media_type="application/xml")


def _unauthorized_xml() -> Response:
    """plex.tv's XML endpoints refuse a bad token with an XML error body."""
    return Response(
        '<?xml version="1.0" encoding="UTF-8"?>\n<errors>'
        '<error code="1001" message="User could not be authenticated" status="401"/></errors>',
        status_code=401,
        media_type="application/xml",
    )


def _unauthorized() -> Response:
    return JSONResponse(
        {"errors": [{"code": 1001, "message": "User could not be authenticated"}]},
        status_code=401,
    )
