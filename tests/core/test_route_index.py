"""The route index finds the route the router would find, trying only the routes that
could match the path; what it cannot place (no route for the path, wrong method,
trailing slash) is left to the router as before."""

from __future__ import annotations

import uuid

import httpx
from starlette.routing import BaseRoute, Match, Route

from medianest.app import MediaNestApp
from medianest.core.route_index import REMEMBERED_PATH_LENGTH, REMEMBERED_PATHS, RouteIndex


def _scope(path: str, method: str) -> dict[str, object]:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}


def _first_full_match(routes: list[BaseRoute], scope: dict[str, object]) -> BaseRoute | None:
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


async def test_every_fixed_path_and_method_finds_the_route_the_router_finds(
    app: MediaNestApp,
) -> None:
    routes = app.fastapi.router.routes
    index = routes[0]
    assert isinstance(index, RouteIndex)  # first, so the router asks it before the rest
    table = routes[1:]
    checked = 0
    for route in table:
        path = getattr(route, "path", None)
        if not isinstance(path, str) or getattr(route, "param_convertors", True):
            continue
        for method in getattr(route, "methods", None) or ("GET",):
            scope = _scope(path, method)
            expected = _first_full_match(table, scope)
            match, child_scope = index.matches(scope)
            assert match is Match.FULL, (method, path)
            assert child_scope["medianest.route"] is expected, (method, path)
            checked += 1
    assert checked > 50  # the app's pages and API lists, not a handful
    # Paths with parameters: the same route as the router's, asked twice (remembered).
    some_id = str(uuid.uuid4())
    for path in (
        "/api/plex/library/1/items",
        f"/api/media/requests/{some_id}",
        f"/api/youtube/downloads/{some_id}",
        "/static/app.css",
    ):
        for _ in range(2):
            scope = _scope(path, "GET")
            expected = _first_full_match(table, scope)
            assert expected is not None, path
            match, child_scope = index.matches(scope)
            assert match is Match.FULL and child_scope["medianest.route"] is expected, path
    # A path no route accepts, or a method none allows there, is left to the router.
    assert index.matches(_scope("/api/media/requests/not-an-id/x", "GET"))[0] is Match.NONE
    assert index.matches(_scope(f"/api/youtube/downloads/{some_id}", "PUT"))[0] is Match.NONE


async def test_a_flood_of_made_up_paths_is_remembered_only_up_to_the_bound(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    index = app.fastapi.router.routes[0]
    assert isinstance(index, RouteIndex)
    assert (await admin_client.get("/api/dashboard/status")).status_code == 200  # indexed
    before = index.remembered_paths
    for filler in ("/x", "/api/plex/library/1/items/"):  # long: looked up, not remembered
        long_path = filler + "y" * REMEMBERED_PATH_LENGTH
        assert index.matches(_scope(long_path, "GET"))[0] is Match.NONE
    assert index.remembered_paths == before
    for number in range(REMEMBERED_PATHS + 200):
        assert index.matches(_scope(f"/no/such/{number}", "GET"))[0] is Match.NONE
    assert index.remembered_paths == REMEMBERED_PATHS
    assert (await admin_client.get("/no/such/path")).status_code == 404
    assert (await admin_client.get("/api/dashboard/status")).status_code == 200


async def test_a_later_route_on_the_same_path_loses_to_the_earlier_one_as_in_the_router() -> None:
    async def first(_request: object) -> None: ...

    async def second(_request: object) -> None: ...

    routes: list[BaseRoute] = []
    index = RouteIndex(routes)
    routes += [
        index,
        Route("/things/{name}", first, methods=["GET"]),  # with a parameter, earlier
        Route("/things/new", second, methods=["GET", "POST"]),
    ]
    match, child_scope = index.matches(_scope("/things/new", "GET"))
    assert match is Match.FULL and child_scope["medianest.route"] is routes[1]
    match, child_scope = index.matches(_scope("/things/new", "POST"))
    assert match is Match.FULL and child_scope["medianest.route"] is routes[2]
    routes.insert(1, Route("/things/new", first, methods=["POST"]))  # added later: seen
    assert index.matches(_scope("/things/new", "POST"))[1]["medianest.route"] is routes[1]
    assert index.matches(_scope("/things/new", "DELETE"))[0] is Match.NONE


async def test_wrong_method_unknown_path_and_trailing_slash_answer_as_before(
    admin_client: httpx.AsyncClient,
) -> None:
    wrong_method = await admin_client.delete("/api/dashboard/status")
    assert wrong_method.status_code == 405
    assert "GET" in wrong_method.headers["allow"]
    assert (await admin_client.get("/api/no-such-thing")).status_code == 404
    slash = await admin_client.get("/api/dashboard/status/", follow_redirects=False)
    assert slash.status_code == 307
    assert slash.headers["location"].endswith("/api/dashboard/status")
    assert (await admin_client.get("/api/dashboard/status")).status_code == 200
    assert (await admin_client.get("/dashboard")).status_code == 200
    assert (await admin_client.get("/static/app.css")).status_code == 200
