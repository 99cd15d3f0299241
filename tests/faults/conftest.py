"""Fault-test fixtures: a private Redis that may be killed, a fresh PostgreSQL database
reached through a proxy that may be cut, and the app started against either."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from medianest.db import migrate
from medianest.settings import Settings
from tests.conftest import unavailable
from tests.faults.support import RedisServer, TcpProxy
from tests.support import databases
from tests.support.served_apps import Storage, carol, listeners, serve, storage_of

__all__ = ["carol", "listeners", "serve"]  # the shared fixtures of served apps


@pytest.fixture
async def storage(make_settings: Callable[..., Settings]) -> AsyncIterator[Storage]:
    """The served apps' database without Redis, for factories and assertions."""
    async with storage_of(make_settings(redis_url=None)) as storage:
        yield storage


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A throwaway redis-server of this test's own (the shared one is never stopped)."""
    if not RedisServer.available():
        unavailable("redis-server")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def proxied_pg_url(backend: str) -> AsyncIterator[tuple[str, TcpProxy]]:
    """A fresh, migrated PostgreSQL database reached through a `TcpProxy` (URL, proxy)."""
    if backend != "postgres":
        pytest.skip("PostgreSQL outage: only with --backend=postgres (SQLite has no server)")
    if not await databases.pg_reachable():
        unavailable("PostgreSQL")
    name, direct_url = await databases.create_pg_database()
    try:
        await migrate.upgrade_async(direct_url)
        target = make_url(direct_url)
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        await proxy.start()
        proxied = target.set(host="127.0.0.1", port=proxy.port)
        try:
            yield proxied.render_as_string(hide_password=False), proxy
        finally:
            await proxy.close()
    finally:
        await databases.drop_pg_database(name)
