"""Stopping while PostgreSQL's host is silent (powered off: nothing answers, nothing
resets): the app and the separate worker (`medianest worker`) still stop within seconds.

Closing a pooled connection gracefully waits for the server's goodbye, with no time
limit; a silent host never sends it. The wait is cut off at GIVE_UP_SECONDS so that old
code fails in seconds (it waited until the connections were reset). Only with --backend=postgres (the proxy of a
fresh database, tests/faults/conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from medianest.app import create_app
from medianest.settings import Settings
from medianest.worker import run_standalone
from tests.factories.users import create_user, signed_in_client
from tests.faults.support import TcpProxy

STOP_WITHIN_SECONDS = 5.0
GIVE_UP_SECONDS = 12.0
API_PATHS = ("/api/auth/session", "/api/dashboard/status", "/api/media/requests")


@pytest.mark.timeout(90)
async def test_the_app_stops_within_seconds_while_postgres_host_is_silent(
    proxied_pg_url: tuple[str, TcpProxy],
    make_settings: Callable[..., Settings],
) -> None:
    url, proxy = proxied_pg_url
    settings = make_settings(database_url=url, rate_limit_api_per_minute=100_000)
    app = create_app(settings, run_migrations=False, housekeeping=False)
    lifespan = app.fastapi.router.lifespan_context(app.fastapi)
    await lifespan.__aenter__()
    go = asyncio.Event()
    stop = asyncio.create_task(_stop_app(lifespan, go), name="app stop")
    try:
        alice = await create_user(app, "alice", plex_id="1002", plex_token="alice-plex-token")
        async with await signed_in_client(app, alice) as client:
            # Several pooled connections, idle when the host goes dark.
            warm = await asyncio.gather(*(client.get(path) for path in API_PATHS * 4))
            assert {answer.status_code for answer in warm} == {200}
        # Answers kept or made from memory need no connection (on a loaded machine the
        # requests above could all share one): make sure several are pooled.
        await _pool_connections(app.ctx.engine, 3)
        assert app.ctx.engine.pool.checkedin() >= 3  # type: ignore[attr-defined]
        await proxy.blackhole()

        seconds = await _stops_within(stop, release=go.set)
    finally:
        if not stop.done():
            await _give_up(proxy, stop)
    print(f"postgres silent: the app stopped in {seconds:.2f} s")
    assert seconds < STOP_WITHIN_SECONDS


async def _pool_connections(engine: AsyncEngine, count: int) -> None:
    """`count` connections used at once, then given back to the pool (idle there)."""
    together = asyncio.Barrier(count)

    async def use_one() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await together.wait()

    await asyncio.gather(*(use_one() for _ in range(count)))


async def _stop_app(lifespan: Any, go: asyncio.Event) -> None:
    """The app's stop (its lifespan's end, as uvicorn runs it) once `go` is set."""
    await go.wait()
    await lifespan.__aexit__(None, None, None)


@pytest.mark.timeout(90)
async def test_a_separate_worker_stops_within_seconds_while_postgres_host_is_silent(
    proxied_pg_url: tuple[str, TcpProxy],
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, proxy = proxied_pg_url
    stop = asyncio.Event()
    worker = asyncio.create_task(run_standalone(make_settings(database_url=url), stop=stop))
    try:
        # A few polls of the queue: pooled connections, idle when the host goes dark.
        await _until(lambda: "youtube_workers_started" in caplog.text, timeout=20.0)
        await asyncio.sleep(1.5)
        await proxy.blackhole()

        seconds = await _stops_within(worker, release=stop.set)
    finally:
        if not worker.done():
            await _give_up(proxy, worker)
    print(f"postgres silent: the separate worker stopped in {seconds:.2f} s")
    assert seconds < STOP_WITHIN_SECONDS


async def _stops_within(task: asyncio.Task[None], *, release: Callable[[], None]) -> float:
    started = time.monotonic()
    release()
    done, _pending = await asyncio.wait({task}, timeout=GIVE_UP_SECONDS)
    if not done:
        pytest.fail(f"not stopped within {GIVE_UP_SECONDS} s while PostgreSQL's host is silent")
    task.result()
    return time.monotonic() - started


async def _give_up(proxy: TcpProxy, task: asyncio.Task[None]) -> None:
    """Old code: end the stuck stop (reset every connection, as a restart would)."""
    await proxy.cut()
    await asyncio.wait({task}, timeout=5.0)


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not true in time"
        await asyncio.sleep(0.05)
