"""The access matrix, generated from the app's route table so routes added later are
covered automatically: anonymous → 401 on every non-public /api route, a plain user →
403 on every /api/admin route, an admin who must change the password → 403
PASSWORD_CHANGE_REQUIRED everywhere but change-password, logout and session, and a
signed-in user asking for an object that does not exist (or is not theirs) → 404, and
no Plex read shows a user another user's YouTube downloads."""

from __future__ import annotations

import functools
import random
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.convertors import IntegerConvertor

from medianest.app import MediaNestApp, create_app
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN, BOB_TOKEN, OWNER_TOKEN
from tests.auth.flows import password_sign_in
from tests.factories.users import create_user, make_client, signed_in_client
from tests.plex.downloads_in_plex import Downloads, place_downloads

# Routes anyone may call: liveness, API docs, the sign-in endpoints themselves, and
# webhooks that authenticate with their own shared secret.
PUBLIC_ROUTES = {
    ("GET", "/api/health"),
    ("GET", "/api/health/app"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("POST", "/api/auth/admin"),
    ("POST", "/api/auth/plex/pin"),
    ("GET", "/api/auth/plex/pin/{pin_id}"),
    ("POST", "/api/auth/plex"),
    ("POST", "/api/webhooks/overseerr"),
}
# Reachable while a password change is pending (to change it, or to leave).
PASSWORD_CHANGE_ROUTES = {
    ("POST", "/api/auth/change-password"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/auth/session"),
}
# A signed-in browser's actions: an API token gets 403 `session_required` (acting on
# "this browser", or minting tokens, which would let a leaked token outlive itself).
SESSION_ONLY_ROUTES = {
    ("POST", "/api/auth/logout-others"),
    ("POST", "/api/auth/tokens"),
}
_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    int_params: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def url(self) -> str:
        """The path with every parameter filled: a random int or a random UUID."""

        def fill(match: re.Match[str]) -> str:
            if match.group(1) in self.int_params:
                return str(random.randint(10_000, 10_000_000))
            return str(uuid.uuid4())

        return _PARAM.sub(fill, self.path)


def _walk(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        # FastAPI >= 0.16x keeps included routers lazily; older versions list routes flat.
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):
            yield from _walk(candidates())
        else:
            yield route


def api_routes(app: MediaNestApp) -> list[ApiRoute]:
    """Every (method, path) under /api, from the route table and the OpenAPI document."""
    found: dict[tuple[str, str], ApiRoute] = {}
    for route in _walk(app.fastapi.routes):
        path = getattr(route, "path", "")
        if not path.startswith("/api"):
            continue
        convertors = getattr(route, "param_convertors", {}) or {}
        ints = frozenset(k for k, v in convertors.items() if isinstance(v, IntegerConvertor))
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found[(method, path)] = ApiRoute(method, path, ints)
    for path, operations in app.fastapi.openapi().get("paths", {}).items():
        for method in operations:
            key = (method.upper(), path)
            if path.startswith("/api") and key not in found:
                found[key] = ApiRoute(method.upper(), path)
    return sorted(found.values(), key=lambda r: (r.path, r.method))


@dataclass(frozen=True)
class RouteTable:
    all: list[ApiRoute]
    protected: list[ApiRoute]
    admin: list[ApiRoute]
    not_during_password_change: list[ApiRoute]
    objects: list[ApiRoute]
    plex_reads: list[ApiRoute]


@functools.cache
def routes() -> RouteTable:
    """Read when a test asks, not at import: building an app and its OpenAPI document
    (~0.5 s) would otherwise be paid by every test process's collection."""
    settings = Settings(_env_file=None, environment="test")
    every = api_routes(create_app(settings, run_migrations=False))
    protected = [r for r in every if (r.method, r.path) not in PUBLIC_ROUTES]
    return RouteTable(
        all=every,
        protected=protected,
        admin=[r for r in protected if r.path.startswith("/api/admin")],
        not_during_password_change=[
            r for r in protected if (r.method, r.path) not in PASSWORD_CHANGE_ROUTES
        ],
        objects=[
            r
            for r in protected
            if r.method in ("GET", "DELETE")
            and "{" in r.path
            and not r.path.startswith("/api/admin")
        ],
        plex_reads=[r for r in protected if r.method == "GET" and r.path.startswith("/api/plex/")],
    )


async def _call(client: httpx.AsyncClient, route: ApiRoute) -> httpx.Response:
    body = {} if route.method in ("POST", "PUT", "PATCH") else None
    return await client.request(route.method, route.url(), json=body)


def test_the_route_table_is_read_and_the_allow_list_is_current() -> None:
    keys = {(r.method, r.path) for r in routes().all}
    assert ("GET", "/api/admin/users") in keys and ("GET", "/api/auth/session") in keys
    # Signed in, any role, and not while a password change is pending.
    assert ("POST", "/api/auth/logout-others") in {(r.method, r.path) for r in routes().protected}
    assert ("POST", "/api/auth/logout-others") not in PASSWORD_CHANGE_ROUTES
    # A public route that disappeared must be removed from the allow-list, not forgotten.
    assert PUBLIC_ROUTES - {("GET", "/api/docs"), ("GET", "/api/openapi.json")} <= keys


def _failures(results: list[tuple[ApiRoute, httpx.Response]], ok: Any) -> list[str]:
    return [f"{route.id} -> {r.status_code} {r.text[:200]}" for route, r in results if not ok(r)]


async def test_anonymous_callers_get_401_on_every_protected_route(
    client: httpx.AsyncClient,
) -> None:
    results = [(route, await _call(client, route)) for route in routes().protected]
    assert (
        _failures(
            results,
            lambda r: r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED",
        )
        == []
    )


async def test_plain_users_get_403_on_every_admin_route(alice_client: httpx.AsyncClient) -> None:
    results = [(route, await _call(alice_client, route)) for route in routes().admin]
    assert routes().admin
    assert (
        _failures(
            results,
            lambda r: r.status_code == 403 and r.json()["error"]["code"] == "PERMISSION_DENIED",
        )
        == []
    )


async def test_plain_users_with_an_api_token_get_403_on_every_admin_route(
    app: MediaNestApp, alice_client: httpx.AsyncClient
) -> None:
    token = (await alice_client.post("/api/auth/tokens", json={"name": "t"})).json()["data"]
    async with make_client(app) as script:
        script.headers["Authorization"] = f"Bearer {token['token']}"
        results = [(route, await _call(script, route)) for route in routes().admin]
    assert _failures(results, lambda r: r.status_code == 403) == []


async def test_an_api_token_gets_403_session_required_on_every_session_only_route(
    app: MediaNestApp, alice_client: httpx.AsyncClient
) -> None:
    token = (await alice_client.post("/api/auth/tokens", json={"name": "t"})).json()["data"]
    only = [r for r in routes().protected if (r.method, r.path) in SESSION_ONLY_ROUTES]
    assert {(r.method, r.path) for r in only} == SESSION_ONLY_ROUTES
    async with make_client(app) as script:
        script.headers["Authorization"] = f"Bearer {token['token']}"
        results = [(route, await _call(script, route)) for route in only]
    assert (
        _failures(
            results,
            lambda r: (
                r.status_code == 403
                and r.json()["error"]["details"].get("reason") == "session_required"
            ),
        )
        == []
    )


async def test_an_admin_who_must_change_the_password_gets_403_everywhere_else(
    app: MediaNestApp, client: httpx.AsyncClient
) -> None:
    assert (await password_sign_in(client, "admin", "admin")).status_code == 200
    results = [(route, await _call(client, route)) for route in routes().not_during_password_change]
    assert (
        _failures(
            results,
            lambda r: (
                r.status_code == 403 and r.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"
            ),
        )
        == []
    )


async def test_an_object_that_does_not_exist_or_is_not_the_callers_is_not_found(
    bob_client: httpx.AsyncClient,
) -> None:
    results = [(route, await _call(bob_client, route)) for route in routes().objects]
    assert routes().objects
    # 503 only where the object lives in an external service that is not configured here.
    assert (
        _failures(
            results,
            lambda r: (
                r.status_code == 404
                or (r.status_code == 503 and r.json()["error"]["code"] == "SERVICE_UNAVAILABLE")
            ),
        )
        == []
    )


async def test_actions_on_a_notification_channel_that_is_not_the_callers_are_not_found(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    made = await alice_client.post(
        "/api/notifications/channels", json={"url": "ntfy://ntfy.sh/alice-only"}
    )
    assert made.status_code == 201
    theirs, missing = made.json()["data"]["id"], str(uuid.uuid4())
    for channel_id in (theirs, missing):
        for method, path in (
            ("POST", f"/api/notifications/channels/{channel_id}/test"),
            ("DELETE", f"/api/notifications/channels/{channel_id}"),
        ):
            answer = await bob_client.request(method, path)
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "NOT_FOUND"
    # Still there for its owner.
    assert [
        c["id"] for c in (await alice_client.get("/api/notifications/channels")).json()["data"]
    ] == [theirs]


def _plex_url(route: ApiRoute, downloads: Downloads) -> str:
    """A Plex read aimed at alice's objects: her collection, her poster, the YouTube library."""
    values = {
        "library_id": "3",
        "collection_id": str(downloads.alice_collection),
        "playlist_id": str(downloads.alice_collection),
    }
    url = _PARAM.sub(lambda m: values.get(m.group(1), "1"), route.path)
    if route.path == "/api/plex/image":
        url += f"?path=/library/metadata/{downloads.alice_item}/thumb"
    return url


async def test_no_plex_read_shows_a_user_another_users_downloads(
    app_factory: Any, make_settings: Any, plex: PlexSimulator, plextv: PlexTvSimulator
) -> None:
    plextv.set_server_url(plex.url)  # alice and bob are friends the server is shared with
    app = await app_factory(
        make_settings(
            plex_url=plex.url,
            plex_token=OWNER_TOKEN,
            plex_tv_url=plextv.url,
            download_root="/srv/medianest/downloads",
            youtube_plex_path=plex.youtube_dir,
        )
    )
    alice = await create_user(app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)
    bob = await create_user(app, "bob", plex_id="1003", plex_token=BOB_TOKEN)
    downloads = place_downloads(plex, alice, bob)
    assert routes().plex_reads
    answered: list[str] = []
    async with await signed_in_client(app, bob) as bob_client:
        for route in routes().plex_reads:
            response = await bob_client.get(_plex_url(route, downloads))
            assert response.status_code in (200, 404), f"{route.id} -> {response.status_code}"
            assert "Alice" not in response.text, route.id
            assert f'"{downloads.alice_item}"' not in response.text, route.id
            if response.status_code == 200:
                answered.append(route.id)
    assert "GET /api/plex/library/{library_id}/items" in answered  # bob's own are listed
    async with await signed_in_client(app, alice) as alice_client:  # the owner of it does
        mine = await alice_client.get("/api/plex/library/3/items")
        assert [i["ratingKey"] for i in mine.json()["data"]] == [str(downloads.alice_item)]
