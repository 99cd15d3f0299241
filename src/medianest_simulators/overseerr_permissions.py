"""Overseerr's user permissions in the simulator: the bits of server/lib/permissions.ts,
its `hasPermission`, who a new request is made for (the caller, or a body `userId`) and
whether it is approved at once (by the CALLER's permissions), and their /__sim/ control.
The sources followed are cited in README-overseerr.md."""

from __future__ import annotations

import json
import time
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import JSONDict, ok, read_json
from medianest_simulators.overseerr_data import (
    ADMIN,
    AUTO_APPROVE,
    AUTO_APPROVE_MOVIE,
    AUTO_APPROVE_TV,
    DECLINED,
    MANAGE_REQUESTS,
    MANAGE_USERS,
    REQUEST,
    REQUEST_MOVIE,
    REQUEST_TV,
    User,
)
from medianest_simulators.overseerr_seerr import SeerrControl
from medianest_simulators.overseerr_settings import error


def has_permission(value: int, wanted: list[int], kind: Literal["and", "or"] = "and") -> bool:
    """lib/permissions.ts `hasPermission` for a list: ADMIN has every permission; else
    all (`and`) or any (`or`) of `wanted`."""
    if value & ADMIN:
        return True
    found = [bool(value & permission) for permission in wanted]
    return all(found) if kind == "and" else any(found)


def entity_not_found(entity: str, entity_id: int) -> str:
    """TypeORM 0.3's EntityNotFoundError message for `findOneOrFail({where: {id}})`."""
    criteria = json.dumps({"where": {"id": entity_id}}, indent=4)
    return f'Could not find any entity of type "{entity}" matching: {criteria}'


class OverseerrPermissions(SeerrControl):
    """Permission bits per user (`set_permissions`) and request quotas (`set_quota`), read
    by `POST /api/v1/request`."""

    def reset_state(self) -> None:
        super().reset_state()
        self.quotas: dict[tuple[int, str], tuple[int, int]] = {}

    def requested_for(self, caller: User, body: JSONDict, media_type: str) -> User | Response:
        """entity/MediaRequest.ts `request`, up to its quota check: the user the request
        is for (the caller, or the body's `userId` when the caller may name one) and
        whether they may request this kind of title; else the answer routes/request.ts
        gives (403 RequestPermissionError, 500 for findOneOrFail's EntityNotFoundError)."""
        for_user = caller
        if body.get("userId"):
            if not has_permission(caller.permissions, [MANAGE_USERS, MANAGE_REQUESTS]):
                return error(403, "You do not have permission to modify the request user.")
            named = self.users.get(int(body["userId"]))
            if named is None:
                return error(500, entity_not_found("User", int(body["userId"])))
            for_user = named
        kind = REQUEST_MOVIE if media_type == "movie" else REQUEST_TV
        allowed = has_permission(for_user.permissions, [REQUEST, kind], "or")
        if not allowed or for_user.id in self.forbidden_users:
            word = "movie" if media_type == "movie" else "series"
            return error(403, f"You do not have permission to make {word} requests.")
        return for_user

    def quota_refusal(self, user: User, media_type: str, seasons: int) -> Response | None:
        """entity/User.ts `getQuota` and MediaRequest.ts's checks: a user with a quota
        (`set_quota`; MANAGE_USERS bypasses it) who made `limit` requests of the kind in the
        last `days` (declined ones not counted; a show's counts its seasons), or a show's
        request for more seasons than remain: routes/request.ts's 403 with the message of
        its QuotaRestrictedError."""
        limit, days = self.quotas.get((user.id, media_type)) or self._default_quota(media_type)
        if not limit or has_permission(user.permissions, [MANAGE_USERS]):
            return None
        since = time.time() - days * 86400 if days else 0.0
        used = sum(
            len(r.seasons) if media_type == "tv" else 1
            for r in self.media_requests.values()
            if r.requested_by.id == user.id
            and r.media.title.media_type == media_type
            and r.created_at > since
            and r.status != DECLINED
        )
        if used < limit and (media_type == "movie" or seasons <= limit - used):
            return None
        return error(
            403, "Movie Quota exceeded." if media_type == "movie" else "Series Quota exceeded."
        )

    def _default_quota(self, media_type: str) -> tuple[int, int]:
        """User.ts `getQuota`: with no quota of their own, `main.defaultQuotas`."""
        kind = "movie" if media_type == "movie" else "tv"
        default = self.main_settings.get("defaultQuotas", {}).get(kind) or {}
        return int(default.get("quotaLimit") or 0), int(default.get("quotaDays") or 0)

    def set_default_quota(self, media_type: str, limit: int, days: int) -> None:
        """Settings → Users → Default quotas (`main.defaultQuotas`), for users without
        a quota of their own."""
        kind = "movie" if media_type == "movie" else "tv"
        with self.lock:
            self.main_settings["defaultQuotas"][kind] = {"quotaLimit": limit, "quotaDays": days}

    def auto_approves(self, caller: User, media_type: str) -> bool:
        """MediaRequest.ts: a new request is APPROVED when the CALLER (`req.user`: the
        `X-API-User` user, else the admin) has AUTO_APPROVE, AUTO_APPROVE_MOVIE/TV or
        MANAGE_REQUESTS (ADMIN has all), else PENDING; not the user it is made for.
        So the owner's (user 1, ADMIN) own requests are always approved at once."""
        kind = AUTO_APPROVE_MOVIE if media_type == "movie" else AUTO_APPROVE_TV
        return has_permission(caller.permissions, [AUTO_APPROVE, kind, MANAGE_REQUESTS], "or")

    # --- control ----------------------------------------------------------------------------
    def set_quota(self, user_id: int, media_type: str, limit: int, days: int) -> None:
        """The user's request limit for movies or series (seasons) per `days`, as
        Overseerr's user settings save it (`movieQuotaLimit`/`Days`, `tvQuotaLimit`/`Days`);
        a limit of 0: none."""
        with self.lock:
            self.quotas[(user_id, media_type)] = (limit, days)

    def set_permissions(self, user_id: int, permissions: int) -> None:
        """The user's permission bits, as Overseerr's user settings save them."""
        with self.lock:
            self.users[user_id].permissions = permissions

    def control_routes(self) -> list[BaseRoute]:
        return [
            *super().control_routes(),
            Route("/__sim/users/{uid:int}/permissions", self._http_permissions, methods=["POST"]),
        ]

    async def _http_permissions(self, request: Request) -> Response:
        """`{"permissions": 160}` (REQUEST + AUTO_APPROVE)."""
        permissions = (await read_json(request)).get("permissions")
        uid = int(request.path_params["uid"])
        if type(permissions) is not int or uid not in self.users:
            return ok({"message": "a known user and an integer `permissions`"}, status=400)
        self.set_permissions(uid, permissions)
        return ok()
