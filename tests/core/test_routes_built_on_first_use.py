"""Routes are built on first use (core/deps.DatabaseRoute): a served app builds the ones
its requests reach, and every route of the table builds, into what FastAPI would have
made of it at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.exceptions import FastAPIError
from starlette.routing import Match

from medianest.app import _route_table
from medianest.core.deps import DatabaseRoute, api_router
from tests.support.servers import free_port, serve_then

SERVE_AND_LIST_BUILT_ROUTES = serve_then(
    """
    from medianest.app import _route_table
    built = [route.path for route in _route_table() if getattr(route, "built", False)]
    json.dump({"built": built, "routes": len(_route_table())}, handle)
    """
)


def test_a_served_app_builds_only_the_routes_its_requests_reach(tmp_path: Path) -> None:
    out = tmp_path / "built.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LIST_BUILT_ROUTES, str(free_port()), str(out)],
        env={**env, "MEDIANEST_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["routes"] > 100
    assert report["built"] == ["/api/health"]


def test_every_route_of_the_table_builds_into_what_fastapi_makes_of_it() -> None:
    routes = [route for route in _route_table() if isinstance(route, DatabaseRoute)]
    assert len(routes) > 100
    for route in routes:
        before = (route.path, route.name, set(route.methods), route.include_in_schema)
        assert route.dependant is not None  # built here, if no request had reached it
        assert route.built
        after = (route.path, route.name, route.methods, route.include_in_schema)
        assert before == after, route.path


def test_finding_a_route_does_not_build_it_and_a_broken_one_fails_where_it_is_read() -> None:
    router = api_router()

    @router.get("/items/{item_id}", name="item")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.get("/broken", response_model=threading.Lock)  # no valid response model
    async def broken() -> None:
        return None

    found, broken_route = router.routes
    assert isinstance(found, DatabaseRoute) and isinstance(broken_route, DatabaseRoute)
    scope = {"type": "http", "method": "GET", "path": "/items/7", "root_path": ""}
    match, child_scope = found.matches(scope)
    assert match is Match.FULL
    assert child_scope["path_params"] == {"item_id": "7"}
    assert str(found.url_path_for("item", item_id="7")) == "/items/7"
    assert not found.built and not broken_route.built
    assert [param.name for param in found.dependant.path_params] == ["item_id"]
    assert found.built and not broken_route.built
    with pytest.raises(FastAPIError, match="Invalid args for response field"):
        broken_route.dependant
