"""The plex.tv client: PIN sign-in, the account behind a token, its servers, and who
the owner's server is shared with (friends and Plex Home members, XML-only `/api/users`,
whose one answer also gives each account's restrictions).

Built on the shared `ResilientClient`; every call carries the Plex client headers
(see contracts/plex.md). Sign-in calls are interactive, so they are not retried and
use a short timeout: a user waiting on a spinner gets a 503 quickly, not after 30 s.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from pydantic import Field

from medianest import __version__
from medianest.core.errors import MediaNestError, Unauthenticated, UpstreamError
from medianest.core.logging import get_logger
from medianest.integrations.http import ResilientClient, ServiceHealth, UpstreamHTTPError
from medianest.integrations.plex_xml import PlexXMLError, parse_xml
from medianest.integrations.upstream_model import UpstreamModel
from medianest.settings import Settings

log = get_logger(__name__)

PRODUCT = "MediaNest"
# Interactive calls (sign-in, token checks) give up sooner than background ones.
INTERACTIVE_TIMEOUT_SECONDS = 5.0


class PlexTokenRejected(Unauthenticated):
    """plex.tv answered 401: the token is revoked or was never valid."""

    default_message = "Plex no longer accepts this sign-in."


class _PlexModel(UpstreamModel):
    """An answer of plex.tv (integrations/upstream_model.py)."""


class PlexPin(_PlexModel):
    id: int
    code: str
    client_identifier: str | None = None
    expires_in: int | None = None
    expires_at: datetime
    auth_token: str | None = None


class PlexAccount(_PlexModel):
    id: int
    uuid: str | None = None
    username: str
    title: str | None = None
    email: str | None = None
    thumb: str | None = None


class PlexResource(_PlexModel):
    name: str = ""
    product: str = ""
    provides: str = ""
    client_identifier: str
    owned: bool = False
    access_token: str | None = Field(default=None, repr=False)

    @property
    def is_server(self) -> bool:
        return "server" in self.provides.split(",")


@dataclass(frozen=True)
class ServerAudience:
    """The plex.tv accounts a server is for: its owner, and the accounts it is shared
    with, friends and Plex Home members alike (an invite not yet accepted does not count).

    Being in the owner's Plex Home gives no access by itself: a member reaches only the
    libraries shared with them (support.plex.tv "Consequences of Being in a Plex Home",
    "Access to Shared Libraries"; python-plexapi `MyPlexAccount.createHomeUser` adds the
    member, then shares libraries with a separate `shared_servers` POST). Overseerr
    admits and imports by the same `<Server>` entry (server/api/plextv.ts
    `checkUserAccess`), so MediaNest and Overseerr agree on who is in.

    `restrictions` comes from the same `/api/users` answer (`share_restrictions`), so the
    audience sweep reads plex.tv's user list once a round for both; so does
    `without_email`: the accounts listed with an empty `email` (managed Plex Home users),
    whom Overseerr's import skips (routes/user/index.ts `if (account.email)`)."""

    owner_id: int
    shared_ids: frozenset[int]
    restrictions: Mapping[int, tuple[str, ...]] = field(hash=False)
    machine_identifier: str
    without_email: frozenset[int] = frozenset()

    def includes(self, account_id: int) -> bool:
        return account_id == self.owner_id or account_id in self.shared_ids


@dataclass(frozen=True)
class ServerShare:
    """One account's share of a server (plex.tv `shared_servers`, python-plexapi
    myplex.py `MyPlexServerShare`): the library keys shared, None for all of them."""

    username: str
    accepted: bool
    section_keys: frozenset[str] | None

    def includes(self, section_key: str) -> bool:
        return self.section_keys is None or section_key in self.section_keys


def server_shares(root: ET.Element) -> list[ServerShare]:
    """`<SharedServer>` rows: `allLibraries="1"` or the `<Section shared="1">` children."""
    shares = []
    for row in root.iter("SharedServer"):
        sections = None
        if row.get("allLibraries", "0") != "1":
            sections = frozenset(
                s.get("key", "") for s in row.iter("Section") if s.get("shared", "0") == "1"
            )
        accepted = bool(row.get("acceptedAt")) and row.get("acceptedAt") != "0"
        shares.append(ServerShare(row.get("username", ""), accepted, sections))
    return shares


# An account's restrictions on its share, as `/api/users` `<User>` lists them (python-plexapi
# myplex.py `MyPlexUser.filterMovies`...; `inviteFriend`/`updateFriend(filterMovies=)`).
RESTRICTIONS = ("filterAll", "filterMovies", "filterTelevision", "filterMusic", "filterPhotos")


def share_restrictions(users: ET.Element, machine_identifier: str) -> dict[int, tuple[str, ...]]:
    """From `/api/users`: each account this server is shared with (invites too), and its
    restrictions as plex.tv keeps them (`contentRating=G%2CPG|label!=adult`), verbatim."""
    found: dict[int, tuple[str, ...]] = {}
    for user in users.iter("User"):
        shared = any(s.get("machineIdentifier") == machine_identifier for s in user.iter("Server"))
        if shared and (user.get("id") or "").isdigit():
            found[int(user.get("id", "0"))] = tuple(user.get(a, "") for a in RESTRICTIONS)
    return found


def ids_without_email(users: ET.Element) -> frozenset[int]:
    """From `/api/users`: accounts listed with no email, as plex.tv lists a managed Home
    user (python-plexapi `createHomeUser`: no email or password of their own)."""
    return frozenset(
        int(user.get("id", "0"))
        for user in users.iter("User")
        if not (user.get("email") or "").strip() and (user.get("id") or "").isdigit()
    )


def parse_plex_xml(body: bytes, *, service: str = "plextv") -> ET.Element:
    """An XML answer of plex.tv; no DTDs (entity tricks), malformed → UpstreamError (502)."""
    try:
        return parse_xml(body)  # refuses DTDs in the parser, whatever the encoding
    except PlexXMLError:
        log.warning("upstream_malformed_xml", service=service)
        raise UpstreamError(
            f"{service} returned malformed XML.", details={"service": service}
        ) from None


def shared_user_ids(users: ET.Element, machine_identifier: str) -> frozenset[int]:
    """From `/api/users` (friends and Home members, `home="1"`): accounts with an accepted
    share of this server, a `<Server>` child with its `machineIdentifier`."""
    found: set[int] = set()
    for user in users.iter("User"):
        for server in user.iter("Server"):
            if (
                server.get("machineIdentifier") == machine_identifier
                and server.get("pending", "0") != "1"
                and (user.get("id") or "").isdigit()
            ):
                found.add(int(user.get("id", "0")))
    return frozenset(found)


def plex_client_headers(client_identifier: str, token: str | None = None) -> dict[str, str]:
    """The headers plex.tv expects from every client (without Accept it answers XML)."""
    headers = {
        "X-Plex-Client-Identifier": client_identifier,
        "X-Plex-Product": PRODUCT,
        "X-Plex-Version": __version__,
        "X-Plex-Device": "MediaNest Server",
        "X-Plex-Device-Name": "MediaNest",
        "X-Plex-Platform": platform.system() or "Linux",
        "Accept": "application/json",
    }
    if token:
        headers["X-Plex-Token"] = token
    return headers


class PlexTvClient:
    def __init__(
        self, http: ResilientClient, *, client_identifier: str, settings: Settings
    ) -> None:
        self.http = http
        self.client_identifier = client_identifier
        self.settings = settings
        self._timeout = min(INTERACTIVE_TIMEOUT_SECONDS, settings.http_timeout_seconds)

    def _headers(self, token: str | None = None) -> dict[str, str]:
        return plex_client_headers(self.client_identifier, token)

    async def create_pin(self, *, strong: bool = True) -> PlexPin:
        response = await self.http.request(
            "POST",
            "/api/v2/pins",
            params={"strong": "true"} if strong else None,
            headers=self._headers(),
            timeout=self._timeout,
            retry=False,
            expected=(200, 201),
        )
        return self.http.parse(PlexPin, self.http.decode(response))

    async def get_pin(self, pin_id: int) -> PlexPin | None:
        """The PIN as plex.tv sees it now; None when it expired or is unknown (404)."""
        response = await self.http.request(
            "GET",
            f"/api/v2/pins/{pin_id}",
            headers=self._headers(),
            timeout=self._timeout,
            retry=False,
            expected=(200, 404),
        )
        if response.status_code == 404:
            return None
        return self.http.parse(PlexPin, self.http.decode(response))

    async def get_account(self, token: str, *, check: bool = False) -> PlexAccount:
        """The account a token belongs to; `PlexTokenRejected` when plex.tv refuses it.
        `check`: a background re-check of a signed-in user's token, on the health-check
        timeout (`MEDIANEST_HEALTH_CHECK_TIMEOUT_SECONDS`) so a page never waits long."""
        timeout = self.settings.health_check_timeout_seconds if check else None
        response = await self._with_token("/api/v2/user", token, timeout=timeout)
        return self.http.parse(PlexAccount, self.http.decode(response))

    async def resources(self, token: str) -> list[PlexResource]:
        """Servers and players the account can reach (owned or shared with it)."""
        response = await self._with_token("/api/v2/resources", token, params={"includeHttps": "1"})
        data = self.http.decode(response)
        if not isinstance(data, list):
            data = []
        return [self.http.parse(PlexResource, item) for item in data if isinstance(item, dict)]

    async def server_audience(self, owner_token: str, machine_identifier: str) -> ServerAudience:
        """Who the server is for and each account's restrictions, asked with its owner's
        token (two plex.tv calls: the owner's account, and `/api/users` once for both)."""
        owner = await self.get_account(owner_token)
        answer = await self._with_token("/api/users", owner_token, accept="application/xml")
        users = parse_plex_xml(answer.content)
        return ServerAudience(
            owner_id=owner.id,
            shared_ids=shared_user_ids(users, machine_identifier),
            restrictions=share_restrictions(users, machine_identifier),
            machine_identifier=machine_identifier,
            without_email=ids_without_email(users),
        )

    async def shared_servers(self, owner_token: str, machine_identifier: str) -> list[ServerShare]:
        """Each account's share of the server and its libraries (the owner's token)."""
        answer = await self._with_token(
            f"/api/servers/{quote(machine_identifier, safe='')}/shared_servers",
            owner_token,
            accept="application/xml",
        )
        return server_shares(parse_plex_xml(answer.content))

    async def health_check(self) -> ServiceHealth:
        """plex.tv is up when it answers at all; an anonymous /user call answers 401."""
        started = time.perf_counter()
        try:
            await self.http.request(
                "GET",
                "/api/v2/user",
                headers=self._headers(),
                timeout=self.settings.health_check_timeout_seconds,
                retry=False,
                expected=(200, 401),
            )
        except MediaNestError as exc:
            return ServiceHealth(
                status="offline", response_time_ms=None, version=None, error=exc.message
            )
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return ServiceHealth(status="online", response_time_ms=elapsed, version=None, error=None)

    async def _with_token(
        self,
        path: str,
        token: str,
        *,
        params: dict[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (the httpx timeout of the call)
        accept: str = "application/json",
    ) -> Any:
        try:
            response = await self.http.request(
                "GET",
                path,
                params=params,
                headers=self._headers(token) | {"Accept": accept},
                timeout=timeout or self._timeout,
                retry=False,
                expected=(200,),
            )
        except UpstreamHTTPError as exc:
            if exc.upstream_status == 401:
                raise PlexTokenRejected(details={"reason": "plex_token_revoked"}) from None
            raise
        return response
