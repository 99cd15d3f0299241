"""The plex.tv simulator's own control endpoints (`/__sim/pins`, `/__sim/shares`...):
how tests and the sign-in pages change its state over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import ok, read_json
from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER, OWNER_USERNAME, PIN_NOT_FOUND

if TYPE_CHECKING:
    from medianest_simulators.plextv_control import PlexTvControl


class ControlEndpoints:
    """`/__sim/` handlers of the plex.tv simulator (see `routes`)."""

    def __init__(self, sim: PlexTvControl) -> None:
        self.sim = sim

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/__sim/pins", self._http_list_pins, methods=["GET"]),
            Route("/__sim/pins/{pin}/approve", self._http_approve, methods=["POST"]),
            Route("/__sim/pins/{pin}/deny", self._http_deny, methods=["POST"]),
            Route("/__sim/pins/{pin}/expire", self._http_expire, methods=["POST"]),
            Route("/__sim/tokens/{token}/revoke", self._http_revoke, methods=["POST"]),
            Route("/__sim/users", self._http_add_user, methods=["GET", "POST"]),
            Route("/__sim/shares", self._http_share, methods=["POST", "DELETE"]),
            Route("/__sim/home", self._http_home, methods=["POST", "DELETE"]),
            Route("/__sim/restrictions/{username}", self._http_restrict, methods=["POST"]),
            Route("/__sim/config", self._http_config, methods=["POST"]),
        ]

    async def _http_list_pins(self, request: Request) -> Response:
        with self.sim.lock:
            return ok([p.as_json() | {"denied": p.denied} for p in self.sim.pins.values()])

    async def _http_approve(self, request: Request) -> Response:
        body = await read_json(request)
        username = str(body.get("username") or OWNER_USERNAME)
        if username not in self.sim.accounts:
            return JSONResponse({"message": f"unknown user {username}"}, status_code=400)
        try:
            pin = self.sim.approve_pin(request.path_params["pin"], username)
        except KeyError:
            return JSONResponse(PIN_NOT_FOUND, status_code=404)
        return ok(pin.as_json())

    async def _http_deny(self, request: Request) -> Response:
        self.sim.deny_pin(request.path_params["pin"])
        return ok()

    async def _http_expire(self, request: Request) -> Response:
        self.sim.expire_pin(request.path_params["pin"])
        return ok()

    async def _http_revoke(self, request: Request) -> Response:
        return ok({"revoked": self.sim.revoke_token(request.path_params["token"])})

    async def _http_add_user(self, request: Request) -> Response:
        if request.method == "GET":
            with self.sim.lock:
                return ok(
                    [{"username": a.username, "id": a.id} for a in self.sim.accounts.values()]
                )
        body = await read_json(request)
        if not body.get("username"):
            return JSONResponse({"message": "username is required"}, status_code=400)
        token = self.sim.add_user(
            str(body["username"]), token=body.get("token"), email=body.get("email")
        )
        return ok({"username": body["username"], "authToken": token}, status=201)

    async def _http_share(self, request: Request) -> Response:
        body = await read_json(request)
        machine_identifier = str(body.get("machineIdentifier") or MACHINE_IDENTIFIER)
        try:
            if request.method == "DELETE":
                self.sim.unshare_server(str(body["username"]), machine_identifier)
            else:
                self.sim.share_server(
                    str(body["username"]),
                    machine_identifier,
                    str(body["accessToken"]),
                    pending=bool(body.get("pending", False)),
                    sections=body.get("sections"),
                    restrictions=Restrictions.of(body) if "filterMovies" in body else None,
                )
        except KeyError as exc:
            return JSONResponse({"message": f"missing {exc}"}, status_code=400)
        return ok()

    async def _http_restrict(self, request: Request) -> Response:
        """`{"filterMovies": "contentRating=G%2CPG", ...}`: the share's filters as plex.tv
        keeps them (the names left out are kept)."""
        body = await read_json(request)
        username = request.path_params["username"]
        machine_identifier = str(body.pop("machineIdentifier", None) or MACHINE_IDENTIFIER)
        with self.sim.lock:
            known = self.sim.share_restrictions.get((username, machine_identifier))
            self.sim.restrict(username, (known or Restrictions()).changed(body), machine_identifier)
        return ok()

    async def _http_home(self, request: Request) -> Response:
        body = await read_json(request)
        username = str(body.get("username") or "")
        if username not in self.sim.accounts:
            return JSONResponse({"message": f"unknown user {username}"}, status_code=400)
        if request.method == "DELETE":
            self.sim.remove_home_member(username)
        else:
            self.sim.add_home_member(username)
        return ok()

    async def _http_config(self, request: Request) -> Response:
        body = await read_json(request)
        if "pinExpiresIn" in body:
            self.sim.pin_expires_in = int(body["pinExpiresIn"])
        if "serverUrl" in body:
            self.sim.set_server_url(str(body["serverUrl"]))
        if "pinPollMinInterval" in body:
            self.sim.pin_poll_min_interval = float(body["pinPollMinInterval"])
        return ok(
            {
                "pinExpiresIn": self.sim.pin_expires_in,
                "serverUrl": self.sim.default_server_url,
                "pinPollMinInterval": self.sim.pin_poll_min_interval,
            }
        )
