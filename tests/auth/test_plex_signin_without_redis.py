"""M7: Plex sign-in works while Redis is down (Redis mode): the PIN's record lives in
the database, so an outage before or after the PIN is created loses nothing.

Before: PIN created, approved at plex.tv, then `404 PIN_NOT_FOUND` on the same
instance. The app talks to a private redis-server of this test, killed before or
after the PIN is created, so the rest of the flow meets a dead Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from medianest.settings import Settings
from medianest_simulators import PlexTvSimulator
from tests.auth.flows import poll_until_settled, start_pin
from tests.conftest import unavailable
from tests.factories.users import make_client
from tests.faults.support import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server the test may kill (never the shared one)."""
    if not RedisServer.available():
        unavailable("redis-server")
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.mark.parametrize("redis_dies", ["before the PIN", "after the PIN"])
async def test_plex_sign_in_completes_while_redis_is_down(
    redis_server: RedisServer,
    plex_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
    plextv: PlexTvSimulator,
    redis_dies: str,
) -> None:
    app = await app_factory(plex_settings(redis_url=redis_server.url))
    async with make_client(app) as browser:
        if redis_dies == "before the PIN":
            redis_server.kill()
        pin = await start_pin(browser)
        if redis_dies == "after the PIN":
            redis_server.kill()
        httpx.post(f"{plextv.url}/__sim/pins/{pin['id']}/approve", json={"username": "alice"})
        done = await poll_until_settled(browser, pin["id"])
        assert done.status_code == 200, done.text
        assert done.json()["data"]["status"] == "authorized"
        session = await browser.get("/api/auth/session")
        assert session.json()["data"]["user"]["username"] == "alice"


async def test_a_pin_made_on_one_instance_is_completed_on_another(
    plex_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
    plextv: PlexTvSimulator,
) -> None:
    """Two instances on one database and no Redis (each has its own in-process cache),
    the browser's poll reaching the other one, as behind a load balancer."""
    settings = plex_settings()
    first, second = await app_factory(settings), await app_factory(settings)
    async with make_client(first) as on_first, make_client(second) as on_second:
        pin = await start_pin(on_first)
        on_second.cookies = on_first.cookies
        httpx.post(f"{plextv.url}/__sim/pins/{pin['id']}/approve", json={"username": "alice"})
        done = await poll_until_settled(on_second, pin["id"])
        assert done.status_code == 200, done.text
        assert done.json()["data"]["user"]["username"] == "alice"
        # A PIN signs in once, whichever instance is asked next.
        again = await on_first.get(f"/api/auth/plex/pin/{pin['id']}")
        assert again.status_code == 404, again.text
