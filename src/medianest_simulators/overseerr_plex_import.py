"""Overseerr's "Import Plex Users" in the simulator: `POST /api/v1/user/import-from-plex`
as routes/user/index.ts answers it, with the Plex users of the plex.tv account Overseerr
is connected to (`connect_plex`: plextv.ts `getUsers`, `GET /api/users` with the owner's
token, asked over HTTP of the plex.tv simulator) and `checkUserAccess` (a `<Server>` of
that account with Overseerr's `machineId`). The sources followed are cited in
README-overseerr.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from medianest_simulators.base import read_json, tls_context
from medianest_simulators.overseerr_data import MANAGE_USERS, User
from medianest_simulators.overseerr_permissions import has_permission
from medianest_simulators.overseerr_requests import OverseerrRequestRules
from medianest_simulators.overseerr_settings import error, not_authenticated

IMPORT_PATH = "/api/v1/user/import-from-plex"
# entity/User.ts: `email` is `unique: true`; a save that breaks it throws TypeORM's
# QueryFailedError, which the route passes on as its 500 with the driver's message:
# SQLite's, or (Seerr on PostgreSQL) node-postgres' naming the constraint of
# seerr-team/seerr server/migration/postgres/1734786061496-InitialMigration.ts:47.
EMAIL_TAKEN = "SQLITE_CONSTRAINT: UNIQUE constraint failed: user.email"
EMAIL_TAKEN_POSTGRES = (
    'duplicate key value violates unique constraint "UQ_e12875dfb3b1d92d7d7c5377e22"'
)


@dataclass(frozen=True)
class PlexConnection:
    """Overseerr's Plex settings: plex.tv as its admin (user 1, `plexToken`) sees it, and
    the server it is set up with (`settings.plex.machineId`)."""

    plex_tv_url: str
    owner_token: str
    machine_identifier: str


@dataclass(frozen=True)
class PlexFriend:
    id: str
    username: str
    email: str
    servers: tuple[str, ...]


class OverseerrPlexImport(OverseerrRequestRules):
    """Users imported from Plex with the default permissions (`defaultPermissions`)."""

    plex: PlexConnection | None = None  # configuration: kept across `reset()`

    def reset_state(self) -> None:
        super().reset_state()
        self.database: Literal["sqlite", "postgres"] = "sqlite"

    def set_database(self, database: Literal["sqlite", "postgres"]) -> None:
        """The database Overseerr runs on (its errors' words): SQLite, Overseerr's only
        one and Seerr's default, or PostgreSQL (Seerr's `DB_TYPE=postgres`)."""
        self.database = database

    def connect_plex(self, connection: PlexConnection | None) -> None:
        """Overseerr set up with this plex.tv account and server (None: Plex not set up,
        so plex.tv refuses its empty token and the import answers 500)."""
        self.plex = connection

    def set_default_permissions(self, permissions: int) -> None:
        """Settings → Users → Default Permissions (`main.defaultPermissions`)."""
        with self.lock:
            self.main_settings["defaultPermissions"] = permissions

    def import_routes(self) -> list[BaseRoute]:
        return [Route(IMPORT_PATH, self._import_from_plex, methods=["POST"])]

    async def _import_from_plex(self, request: Request) -> Response:
        if request.headers.get("X-Api-Key") != self.api_key:
            return error(401, "You do not have permission to access this endpoint.")
        raw_user = (request.headers.get("X-API-User") or "1").strip()
        with self.lock:
            caller = self.users.get(int(raw_user)) if raw_user.isdigit() else None
        if caller is None or not has_permission(caller.permissions, [MANAGE_USERS]):
            return not_authenticated()  # isAuthenticated(Permission.MANAGE_USERS)
        if self.database_fails():
            return error(500, "SQLITE_BUSY: database is locked")
        body = await read_json(request)
        plex_ids = body.get("plexIds") if isinstance(body, dict) else None
        if not isinstance(plex_ids, list):  # `body.plexIds.includes` throws
            return error(500, "Cannot read properties of undefined (reading 'includes')")
        try:
            friends = await self._plex_users()
        except httpx.HTTPError as exc:  # axios' error, passed on as the route's 500
            return error(500, str(exc) or type(exc).__name__)
        with self.lock:
            return self._import(friends, plex_ids)

    def _import(self, friends: list[PlexFriend], plex_ids: list[object]) -> Response:
        """The route's loop (routes/user/index.ts:503-545), in plex.tv's order: a friend
        without an email (a managed Home user) is skipped (:506); one Overseerr has (by
        `plexId` or email, :507-513) is updated, never created again, and given their
        Plex email (:516-518): when another user has that email (a Plex email changed
        to a local user's), the save fails and the route answers 500 (:546), keeping
        what the loop saved before; one asked for (`plexIds`, strings as `account.id`
        is) with access to the server (:527-528) is created with the default
        permissions."""
        machine = self.plex.machine_identifier if self.plex else ""
        created: list[User] = []
        for friend in friends:
            if not friend.email:
                continue
            plex_id = int(friend.id)
            existing = next(
                (
                    u
                    for u in self.users.values()
                    if u.plex_id == plex_id or u.email.lower() == friend.email.lower()
                ),
                None,
            )
            if existing is not None:
                if any(
                    u.email.lower() == friend.email.lower() and u is not existing
                    for u in self.users.values()
                ):
                    taken = EMAIL_TAKEN_POSTGRES if self.database == "postgres" else EMAIL_TAKEN
                    return error(500, taken)
                existing.email, existing.username = friend.email, friend.username
                if existing.user_type == 2:  # a local account becomes the Plex user
                    existing.user_type, existing.plex_id = 1, plex_id
            elif friend.id in plex_ids and machine in friend.servers:
                uid = max([*self.users, self.last_user_id]) + 1
                permissions = int(self.main_settings.get("defaultPermissions", 0))
                user = User(uid, friend.username, friend.email, 1, plex_id, permissions)
                self.users[uid], self.last_user_id = user, uid
                created.append(user)
        return JSONResponse([u.as_json(private=False) for u in created], status_code=201)

    async def _plex_users(self) -> list[PlexFriend]:
        """plextv.ts `getUsers`: `GET https://plex.tv/api/users` with the admin's token."""
        plex = self.plex
        url = plex.plex_tv_url if plex else "https://plex.tv.invalid"
        async with httpx.AsyncClient(base_url=url, timeout=10, verify=tls_context()) as client:
            if plex is None:
                raise httpx.HTTPError("Request failed with status code 401")
            answer = await client.get("/api/users", headers={"X-Plex-Token": plex.owner_token})
        if answer.status_code >= 400:
            raise httpx.HTTPError(f"Request failed with status code {answer.status_code}")
        root = ET.fromstring(answer.text)
        return [
            PlexFriend(
                id=u.get("id", ""),
                username=u.get("username", ""),
                email=u.get("email", ""),
                servers=tuple(s.get("machineIdentifier", "") for s in u.findall("Server")),
            )
            for u in root.findall("User")
        ]
