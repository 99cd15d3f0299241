"""Finding a request's route without trying every route before it.

A router tries its routes in order until one matches fully: ~0.8 µs a route, so a page
near the end of MediaNest's table (`/dashboard` is the 70th) paid ~58 µs before its
own work. `RouteIndex`, the router's first route, keeps for a path the routes whose
pattern accepts it, in the router's order, and tries only those: the first full match
is the one the router would have found. It knows every fixed path (a route without
parameters) from the start, and remembers the last `REMEMBERED_PATHS` other paths asked
for (an object polled by its id; bounded in number and length, so a flood of made-up
paths only pushes those out). A request it cannot place (a method no route allows, a path no route
accepts, a websocket) does not match it, and the router goes on through its routes as
before — 405s, redirects of a trailing slash and 404s come from there, unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

_CHOSEN = "medianest.route"  # the route found, in the scope, for `handle`
REMEMBERED_PATHS = 1024
REMEMBERED_PATH_LENGTH = 256  # longer ones are looked up each time: memory stays bounded


class RouteIndex(BaseRoute):
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._routes = routes  # the router's own list: routes added later are seen
        self._indexed_count = -1
        self._table: list[BaseRoute] = []
        self._fixed: dict[str, tuple[BaseRoute, ...]] = {}
        self._remembered = _remembering(self._table)

    @property
    def remembered_paths(self) -> int:
        return self._remembered.cache_info().currsize

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        if len(self._routes) != self._indexed_count:
            self._index()
        for route in self._candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child_scope, _CHOSEN: route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(_CHOSEN)
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # names belong to the routes themselves

    def _candidates(self, path: str) -> tuple[BaseRoute, ...]:
        candidates = self._fixed.get(path)
        if candidates is not None:
            return candidates
        if len(path) > REMEMBERED_PATH_LENGTH:
            return _could_match(self._table, path)
        return self._remembered(path)

    def _index(self) -> None:
        self._table = [route for route in self._routes if route is not self]
        fixed_paths = {
            path
            for route in self._table
            if isinstance(path := getattr(route, "path", None), str)
            and not getattr(route, "param_convertors", True)
        }
        self._fixed = {path: _could_match(self._table, path) for path in fixed_paths}
        self._remembered = _remembering(self._table)
        self._indexed_count = len(self._routes)


def _remembering(
    routes: list[BaseRoute],
) -> functools._lru_cache_wrapper[tuple[BaseRoute, ...]]:
    """`_could_match` over `routes`, the last `REMEMBERED_PATHS` paths kept."""
    return functools.lru_cache(maxsize=REMEMBERED_PATHS)(functools.partial(_could_match, routes))


def _could_match(routes: list[BaseRoute], path: str) -> tuple[BaseRoute, ...]:
    """The routes whose path pattern accepts `path` (a route without a pattern, never
    in MediaNest's table, is kept: only its own `matches` can tell)."""
    return tuple(
        route
        for route in routes
        if (pattern := getattr(route, "path_regex", None)) is None or pattern.match(path)
    )
