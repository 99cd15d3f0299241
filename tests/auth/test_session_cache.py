"""The in-process session cache: hits read no row, and every change that matters to
authorisation (disable, role, password, logout, deletion) takes effect on the very next
request, on this instance and, through Redis, on another."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.auth.sessions import cache as session_cache
from medianest.auth.sessions import relay as session_relay
from medianest.auth.sessions.cache import SessionCache, session_cache_of, unregister
from medianest.core import pubsub
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from tests.factories.users import TEST_PASSWORD, create_user, make_client, signed_in_client
from tests.support.silent_redis import cancelled_subscribes_raise_errors, silent_redis

NEW_PASSWORD = "a-much-better-passphrase"


def _cache(app: MediaNestApp) -> SessionCache:
    cache = session_cache_of(app.ctx)
    assert cache is not None
    return cache


class StatementCounter:
    """Counts SQL statements the app's engine runs (a real listener, not a mock).

    `this_task_only`: only those run by the calling task (an in-process request runs in
    it), not the app's background loops (the status monitor writes on its own turn)."""

    def __init__(self, app: MediaNestApp, *, this_task_only: bool = False) -> None:
        self.statements: list[str] = []
        self._task = asyncio.current_task() if this_task_only else None
        self._engine = app.ctx.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self._task is None or asyncio.current_task() is self._task:
            self.statements.append(statement)

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)


async def session_reads_of_twenty_at_once(
    app: MediaNestApp, client: httpx.AsyncClient
) -> list[str]:
    """The session reads (SELECTs on auth_sessions) of 20 requests sent together, each
    answered 200."""
    counter = StatementCounter(app)
    try:
        answers = await asyncio.gather(*(client.get("/api/dashboard/status") for _ in range(20)))
    finally:
        counter.close()
    assert [a.status_code for a in answers] == [200] * 20
    return [s for s in counter.statements if "FROM auth_sessions" in s and "SELECT" in s.upper()]


async def _set_user(app: MediaNestApp, username: str, **values: Any) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        for key, value in values.items():
            setattr(user, key, value)


async def test_a_cached_session_answers_without_touching_the_database(
    app: MediaNestApp, alice: User
) -> None:
    async with await signed_in_client(app, alice) as client:
        first = await client.get("/api/auth/session")
        assert first.status_code == 200
        assert len(_cache(app)) == 1
        counter = StatementCounter(app)
        try:
            again = await client.get("/api/dashboard/status")
        finally:
            counter.close()
        assert again.status_code == 200
        session_reads = [s for s in counter.statements if "auth_sessions" in s]
        assert session_reads == [], counter.statements
        assert again.json()["data"]  # the cached aggregate or the table, still answered


async def test_requests_arriving_together_for_an_uncached_session_read_it_once(
    app: MediaNestApp, alice: User
) -> None:
    # What every request in flight meets when the session's entry goes (its touch is due,
    # a purge dropped every entry): one reads the database, the others wait for its read.
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/auth/session")).status_code == 200
        _cache(app).invalidate({session_cache.ALL})
        assert len(await session_reads_of_twenty_at_once(app, client)) == 1


async def test_disabling_a_user_ends_their_cached_session_at_once(
    app: MediaNestApp, alice: User
) -> None:
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/auth/session")).status_code == 200
        await _set_user(app, "alice", status="disabled")
        refused = await client.get("/api/auth/session")
        assert refused.status_code == 401
        assert len(_cache(app)) == 0


async def test_a_role_change_is_seen_by_the_next_request(app: MediaNestApp, alice: User) -> None:
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/admin/users")).status_code == 403
        await _set_user(app, "alice", role="admin")
        assert (await client.get("/api/admin/users")).status_code == 200
        await _set_user(app, "alice", role="user")
        assert (await client.get("/api/admin/users")).status_code == 403


async def test_logout_ends_the_cached_session(app: MediaNestApp, alice: User) -> None:
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/auth/session")).status_code == 200
        token = client.cookies.get("medianest_session")
        assert (await client.post("/api/auth/logout")).status_code == 200
        async with make_client(app) as replay:
            replay.cookies.set("medianest_session", str(token))
            assert (await replay.get("/api/auth/session")).status_code == 401


async def test_admin_disabling_through_the_api_signs_the_user_out(
    app: MediaNestApp, admin_client: httpx.AsyncClient, alice: User
) -> None:
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/auth/session")).status_code == 200
        changed = await admin_client.put(
            f"/api/admin/users/{alice.id}", json={"status": "disabled"}
        )
        assert changed.status_code == 200, changed.text
        assert (await client.get("/api/auth/session")).status_code == 401


async def test_a_deleted_user_is_not_served_from_the_cache(app: MediaNestApp, alice: User) -> None:
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/auth/session")).status_code == 200
        async with session_scope(app.ctx.session_factory) as session:
            row = await session.get(User, alice.id)
            await session.delete(row)
        assert (await client.get("/api/auth/session")).status_code == 401


async def test_a_read_that_started_before_an_invalidation_is_not_cached(
    app: MediaNestApp, alice: User
) -> None:
    cache = _cache(app)
    async with session_scope(app.ctx.session_factory) as session:
        user = await session.get(User, alice.id)
        assert user is not None
        generation = cache.generation
        cache.invalidate({str(alice.id)})  # a commit elsewhere, between read and put
        cache.put(
            "some-hash",
            user,
            generation=generation,
            valid_until=_far_future(),
            session_ends=_far_future(),
        )
    assert cache.get("some-hash") is None


async def test_turned_off_with_zero_seconds(
    make_settings: Callable[..., Settings], app_factory: Callable[[Settings], Any]
) -> None:
    app: MediaNestApp = await app_factory(make_settings(session_cache_seconds=0))
    alice = await create_user(app, "alice")
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/auth/session")).status_code == 200
    assert session_cache_of(app.ctx) is None


async def test_a_change_on_one_instance_reaches_the_other_through_redis(
    make_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
    redis_url: str | None,
) -> None:
    if redis_url is None:
        pytest.skip("cross-instance invalidation needs Redis (runs on the postgres backend)")
    first: MediaNestApp = await app_factory(make_settings())
    second: MediaNestApp = await app_factory(make_settings())
    # As if the second ran in another process: only Redis can tell it of a change.
    unregister(_cache(second), str(second.ctx.engine.url))
    alice = await create_user(first, "alice")
    async with await signed_in_client(first, alice) as on_first:
        token = on_first.cookies.get("medianest_session")
        async with make_client(second) as on_second:
            on_second.cookies.set("medianest_session", str(token))
            assert (await on_second.get("/api/auth/session")).status_code == 200
            assert len(_cache(second)) == 1
            # Disabled through the first instance: the second has no listener on its
            # engine for that commit, only the Redis message.
            await _set_user(first, "alice", status="disabled")
            for _ in range(100):
                if len(_cache(second)) == 0:
                    break
                await asyncio.sleep(0.02)
            assert len(_cache(second)) == 0
            assert (await on_second.get("/api/auth/session")).status_code == 401


async def test_sessions_cached_right_after_start_survive_the_relays_subscription(
    make_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
    redis_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The relay empties the cache when it subscribes (what it missed is unknown): the
    app starts serving only after that, so a session cached by the first request is not
    dropped a moment later (seen in CI as a hot-path miss on a loaded machine)."""
    if redis_url is None:
        pytest.skip("the invalidation relay runs with Redis (the postgres backend)")
    from redis.asyncio.client import PubSub

    real_subscribe = PubSub.subscribe

    async def slow_subscribe(self: PubSub, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.4)  # a loaded Redis, or a loaded host
        return await real_subscribe(self, *args, **kwargs)

    monkeypatch.setattr(PubSub, "subscribe", slow_subscribe)
    app: MediaNestApp = await app_factory(make_settings())
    alice = await create_user(app, "alice")
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/auth/session")).status_code == 200
        assert len(_cache(app)) == 1
        await asyncio.sleep(0.6)  # past the subscription, had it still been under way
        assert len(_cache(app)) == 1


async def test_a_redis_that_never_answers_delays_the_relay_start_by_a_bounded_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redis.asyncio import Redis

    monkeypatch.setattr(pubsub, "LISTEN_WAIT_SECONDS", 0.3)
    async with silent_redis() as (url, accepted):
        redis = Redis.from_url(url, socket_timeout=30)
        relay = session_relay.RedisInvalidationRelay(SessionCache(60), redis, "hung-test")
        started = asyncio.get_running_loop().time()
        stop = await relay.start()
        waited = asyncio.get_running_loop().time() - started
        try:
            assert accepted, "the relay never tried to subscribe"
            assert 0.3 <= waited < 5.0
        finally:
            await stop()
            await redis.aclose()


async def test_a_stop_ends_a_listener_whose_cancellation_redis_turned_into_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """redis-py can take a cancellation in the middle of a read and give the caller an error
    instead (a full CI run's stop then waited for ever on a Redis that never answers)."""
    from redis.asyncio import Redis

    turned = cancelled_subscribes_raise_errors(monkeypatch)
    monkeypatch.setattr(pubsub, "LISTEN_WAIT_SECONDS", 0.3)
    async with silent_redis() as (url, _accepted):
        redis = Redis.from_url(url, socket_timeout=30)
        relay = session_relay.RedisInvalidationRelay(SessionCache(60), redis, "hung-test")
        stop = await relay.start()
        try:
            async with asyncio.timeout(10):
                await stop()
            assert turned == ["cancel"]
        finally:
            await redis.aclose()


def _far_future() -> Any:
    from datetime import timedelta

    from medianest.db.base import utcnow

    return utcnow() + timedelta(hours=1)


async def test_a_hit_in_a_unit_of_work_that_already_holds_the_user_reuses_that_object(
    app: MediaNestApp, alice: User
) -> None:
    from medianest.auth.sessions import store as session_store

    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/auth/session")).status_code == 200
        token = str(client.cookies.get("medianest_session"))
    async with session_scope(app.ctx.session_factory) as session:
        loaded = await session.get(User, alice.id)
        found = await session_store.resolve_session(
            session, token=token, settings=app.ctx.settings, cache=_cache(app)
        )
        assert found is not None
        assert found[0] is None  # from the cache: the session row was not read
        assert found[1] is loaded


async def test_an_expired_entry_serves_others_only_while_one_request_re_reads_it(
    app: MediaNestApp, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = SessionCache(ttl_seconds=0.05)
    later = utcnow() + timedelta(hours=1)

    def keep(session_ends: datetime = later) -> None:
        cache.put(
            "hash", alice, generation=cache.generation, valid_until=later, session_ends=session_ends
        )

    keep()
    assert cache.get("hash") is not None
    await asyncio.sleep(0.06)
    assert cache.get("hash") is None  # expired and nobody re-reading: the caller reads
    cache.begin_refresh("hash")
    assert cache.get("hash") is not None  # the session's other requests keep using it
    monkeypatch.setattr(session_cache, "REFRESH_GRACE_SECONDS", 0.0)
    assert cache.get("hash") is None  # never past the grace (a re-read that failed)
    monkeypatch.undo()
    cache.begin_refresh("hash")
    cache.invalidate({str(alice.id)}, broadcast=False)
    assert cache.get("hash") is None  # an invalidation wins over a re-read in flight
    keep(session_ends=utcnow() + timedelta(milliseconds=30))
    await asyncio.sleep(0.06)
    cache.begin_refresh("hash")
    assert cache.get("hash") is None  # never past the session's own end


async def test_requests_arriving_together_after_expiry_read_the_session_once(
    make_settings: Callable[..., Settings],
    app_factory: Callable[[Settings], Any],
) -> None:
    app: MediaNestApp = await app_factory(make_settings(session_cache_seconds=0.2))
    alice = await create_user(app, "alice")
    async with await signed_in_client(app, alice) as client:
        assert (await client.get("/api/dashboard/status")).status_code == 200
        await asyncio.sleep(0.3)  # the entry's time is up
        assert len(await session_reads_of_twenty_at_once(app, client)) == 1


async def test_a_cached_callers_user_is_saved_by_the_database_session_the_route_makes(
    app: MediaNestApp,
) -> None:
    """The cached caller's user is built without a database session; when the route
    makes one (here to change the password), the user joins it and its changes commit."""
    user = await create_user(app, "henry", password=TEST_PASSWORD)
    async with await signed_in_client(app, user) as client:
        assert (await client.get("/api/auth/session")).status_code == 200  # now cached
        counter = StatementCounter(app, this_task_only=True)
        try:
            cached = await client.get("/api/auth/session")
        finally:
            counter.close()
        assert cached.status_code == 200 and counter.statements == []
        writes = StatementCounter(app, this_task_only=True)  # the filter sees requests' SQL
        try:
            changed = await client.post(
                "/api/auth/change-password",
                json={"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD},
            )
        finally:
            writes.close()
        assert changed.status_code == 200, changed.text
        assert any("UPDATE" in s.upper() for s in writes.statements), writes.statements
    async with make_client(app) as fresh:
        old = await fresh.post(
            "/api/auth/admin", json={"username": "henry", "password": TEST_PASSWORD}
        )
        new = await fresh.post(
            "/api/auth/admin", json={"username": "henry", "password": NEW_PASSWORD}
        )
    assert old.status_code == 401
    assert new.status_code == 200, new.text
