"""M7: Plex sign-in works while Redis is down (Redis mode): the PIN's record lives in
the process's memory for the outage instead of being lost.

Before: PIN created, approved at plex.tv, then `404 PIN_NOT_FOUND` on the same
instance. The app talks to a private redis-server of this test, killed before the
PIN is created, so every cache write of the flow meets a dead Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from medianest.settings import Settings
from medianest.simulators import PlexTvSimulator
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
            redis_server.kill()  # the record is in Redis: gone for now, as on a restart
        httpx.post(f"{plextv.url}/__sim/pins/{pin['id']}/approve", json={"username": "alice"})
        done = await poll_until_settled(browser, pin["id"])
        if redis_dies == "after the PIN":
            # What Redis held is unreachable: an honest "start again", never a 500.
            assert done.status_code == 404, done.text
            return
        assert done.status_code == 200, done.text
        assert done.json()["data"]["status"] == "authorized"
        session = await browser.get("/api/auth/session")
        assert session.json()["data"]["user"]["username"] == "alice"
