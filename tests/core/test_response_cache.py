"""The response cache (core/response_cache.py, core/data_changes.py): a repeated signed-in
GET is answered from kept bytes once its sign-in dependencies decided who asks, and never
once a table it was made from changed, whoever changed it (this request, another unit of
work, another instance through Redis, another process on the SQLite file)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, make_url, text, update
from starlette.responses import Response

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.core import data_changes, deps
from medianest.core.data_changes import ReadSet, TableChanges, changes_of, recording_reads
from medianest.core.response_cache import ResponseCache, finish, kept_or_made_meanwhile
from medianest.db.engine import session_scope
from medianest.media import service as media_service
from medianest.media.models import MediaRequest
from medianest.platform.models import AuditLog
from medianest.settings import Settings
from tests.factories.users import make_client, signed_in_client
from tests.support.rate_windows import room_in_the_window

LIST = "/api/media/requests"


@contextmanager
def statements(app: MediaNestApp, table: str = "media_requests") -> Iterator[list[str]]:
    """The SQL on `table` the app's engine runs meanwhile (a real listener on the engine;
    the app's background work, leases and checks, is not counted)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if table in statement:
            seen.append(statement)

    event.listen(app.ctx.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(app.ctx.engine.sync_engine, "before_cursor_execute", record)


async def add_request(app: MediaNestApp, user: User, title: str) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        session.add(
            MediaRequest(
                user_id=user.id,
                title=title,
                media_type="movie",
                tmdb_id=abs(hash(title)) % 1_000_000,
                status="pending",
            )
        )


async def settled_get(client: httpx.AsyncClient, path: str = LIST) -> httpx.Response:
    """The answer once any write the first requests of a session make (its due
    `last_seen_at` touch: an answer that wrote is not kept) is behind."""
    await client.get(path)
    return await client.get(path)


def titles(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["title"] for row in response.json()["data"]]


async def test_a_repeated_list_is_answered_from_memory_with_a_new_timestamp(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    await add_request(app, alice, "Alien")
    first = await settled_get(alice_client)
    await asyncio.sleep(0.01)
    with statements(app) as sql:
        second = await alice_client.get(LIST)
    assert sql == []  # the answer came from memory
    assert titles(second) == titles(first) == ["Alien"]
    assert second.json()["meta"]["timestamp"] > first.json()["meta"]["timestamp"]
    assert second.headers["x-ratelimit-remaining"] != first.headers["x-ratelimit-remaining"]
    assert int(second.headers["content-length"]) == len(second.content)
    assert second.headers["etag"] == first.headers["etag"]  # kept with the answer


async def test_a_commit_by_any_unit_of_work_shows_in_the_next_answer(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    assert titles(await alice_client.get(LIST)) == []
    await add_request(app, alice, "Brazil")  # as a worker or the scheduler would
    assert titles(await alice_client.get(LIST)) == ["Brazil"]
    async with session_scope(app.ctx.session_factory) as session:  # a bulk statement
        await session.execute(update(MediaRequest).values(title="Brazil (1985)"))
    assert titles(await alice_client.get(LIST)) == ["Brazil (1985)"]


async def test_requests_arriving_together_share_one_making_of_the_answer(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    await settled_get(alice_client)
    await add_request(app, alice, "Heat")  # what was kept is out of date
    with statements(app) as sql:
        answers = await asyncio.gather(*(alice_client.get(LIST) for _ in range(20)))
    assert all(titles(answer) == ["Heat"] for answer in answers)
    assert len(sql) == 1, sql  # one made it, nineteen waited for it


async def test_a_request_whose_answer_is_not_kept_makes_no_one_wait() -> None:
    cache = ResponseCache(TableChanges(), max_age_seconds=60, max_bytes=1 << 20)
    assert cache.making(b"k") is None  # the first makes it
    waiting = cache.making(b"k")
    assert waiting is not None and not waiting.is_set()
    cache.made(b"k")  # ...and could not keep it
    assert waiting.is_set()
    assert cache.making(b"k") is None and cache.making(b"k") is None  # nobody waits now


async def test_a_rolled_back_change_keeps_the_kept_answer_and_shows_nothing(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    await add_request(app, alice, "Cube")
    assert titles(await settled_get(alice_client)) == ["Cube"]
    with pytest.raises(RuntimeError):
        async with session_scope(app.ctx.session_factory) as session:
            await session.execute(update(MediaRequest).values(title="never"))
            raise RuntimeError("undo")
    with statements(app) as sql:
        assert titles(await alice_client.get(LIST)) == ["Cube"]
    assert sql == []


async def test_each_caller_gets_their_own_answer_for_the_same_url(
    app: MediaNestApp,
    alice: User,
    bob: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
) -> None:
    await add_request(app, alice, "Dune")
    await add_request(app, bob, "Eraserhead")
    for _ in range(2):
        assert titles(await alice_client.get(LIST)) == ["Dune"]
        assert titles(await bob_client.get(LIST)) == ["Eraserhead"]
    async with make_client(app) as anonymous:
        refused = await anonymous.get(LIST)
    assert refused.status_code == 401


async def test_the_same_headers_in_another_order_ask_the_same(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    await add_request(app, alice, "Arrival")
    one_order = {"Accept-Language": "en", "X-Client": "tab"}
    other_order = {"X-Client": "tab", "Accept-Language": "en"}
    await alice_client.get(LIST, headers=one_order)
    first = await alice_client.get(LIST, headers=one_order)
    with statements(app) as sql:
        again = await alice_client.get(LIST, headers=other_order)
    assert sql == []  # one answer for both orders (wrk's two threads sent two)
    assert titles(again) == titles(first) == ["Arrival"]
    with statements(app) as sql:
        other = await alice_client.get(LIST, headers={**other_order, "Accept-Language": "de"})
    assert sql != []  # a different value is a different request
    assert titles(other) == ["Arrival"]


async def test_who_may_ask_is_checked_on_every_request(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    everyone = {"all": "true"}
    assert (await alice_client.get(LIST, params=everyone)).status_code == 403
    await set_role(app, alice.id, "admin")
    assert (await alice_client.get(LIST, params=everyone)).status_code == 200
    assert (await alice_client.get(LIST, params=everyone)).status_code == 200  # kept
    await set_role(app, alice.id, "user")
    assert (await alice_client.get(LIST, params=everyone)).status_code == 403


async def test_a_kept_answer_skips_the_ownership_check_until_the_object_changes(
    app: MediaNestApp,
    alice: User,
    bob: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
) -> None:
    await add_request(app, alice, "Solaris")
    [row] = (await settled_get(alice_client)).json()["data"]
    one = f"{LIST}/{row['id']}"
    assert (await settled_get(alice_client, one)).status_code == 200
    with statements(app) as sql:
        kept = await alice_client.get(one)
    # Only who asks ran: not the ownership dependency's query, not the endpoint.
    assert kept.status_code == 200 and sql == []
    assert (await bob_client.get(one)).status_code == 404  # another user's object
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            update(MediaRequest)
            .where(MediaRequest.id == uuid.UUID(row["id"]))
            .values(user_id=bob.id)
        )
    assert (await alice_client.get(one)).status_code == 404  # given away: checked again
    assert (await bob_client.get(one)).json()["data"]["title"] == "Solaris"


async def set_role(app: MediaNestApp, user_id: uuid.UUID, role: str) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        user = await session.get(User, user_id)
        assert user is not None
        user.role = role


async def test_the_rate_limit_counts_answers_from_the_cache(
    app: MediaNestApp, alice_client: httpx.AsyncClient
) -> None:
    app.ctx.limits = dataclasses.replace(app.ctx.limits, api_per_minute=3)
    await room_in_the_window(needed_seconds=5)
    answers = [(await alice_client.get(LIST)).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]


@pytest.fixture
def short_lived(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(response_cache_seconds=0.5)


async def test_an_answer_is_kept_no_longer_than_its_age_limit(
    app_factory: Callable[[Settings], Any], short_lived: Settings, alice: User
) -> None:
    app = await app_factory(short_lived)
    async with await signed_in_client(app, alice) as client:
        await settled_get(client)
        with statements(app) as sql:
            await client.get(LIST)
        assert sql == []
        await asyncio.sleep(0.7)
        with statements(app) as sql:
            await client.get(LIST)
        assert sql != []


async def test_an_aged_answer_serves_while_one_request_makes_it_again(
    app_factory: Callable[[Settings], Any],
    short_lived: Settings,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = await app_factory(short_lived)
    listed = media_service.list_requests
    slow = asyncio.Event()

    async def slow_list(*args: Any, **kwargs: Any) -> Any:
        await slow.wait()  # a making that takes many loop turns (a loaded server)
        return await listed(*args, **kwargs)

    await add_request(app, alice, "Ran")
    async with await signed_in_client(app, alice) as client:
        assert titles(await settled_get(client)) == ["Ran"]
        await asyncio.sleep(0.7)  # past the age limit; no table changed
        monkeypatch.setattr(media_service, "list_requests", slow_list)
        making = asyncio.create_task(client.get(LIST))
        await asyncio.sleep(0.1)  # it is making the answer again
        assert not making.done()
        meanwhile = await asyncio.wait_for(client.get(LIST), 2)
        assert titles(meanwhile) == ["Ran"]  # the aged answer, without waiting
        await add_request(app, alice, "Ikiru")  # now a table changed: nobody gets it
        changed = asyncio.create_task(client.get(LIST))
        await asyncio.sleep(0.1)
        assert not changed.done()  # it waits for the making (or makes its own)
        slow.set()
        assert titles(await making) in (["Ran"], ["Ikiru", "Ran"])
        assert titles(await changed) == ["Ikiru", "Ran"]


def test_an_answer_out_of_date_when_made_is_made_again_by_one_while_the_others_wait() -> None:
    """A commit that lands while an answer is made (the request sync's, under load) makes
    that answer unkeepable, not the request: the next one makes it again and the others
    wait for it. Before, every request made its own for the not-kept time, and a page
    under 50 connections was remade by all of them at once (p99 0.4-0.7 s)."""
    changes = TableChanges()
    cache = ResponseCache(changes, max_age_seconds=60, max_bytes=1 << 20)
    assert cache.making(b"k") is None  # the first makes it
    waiting = cache.making(b"k")
    assert waiting is not None
    began = data_changes.step()
    reads = ReadSet()
    reads.tables.add("media_requests")
    changes.changed({"media_requests"})  # the commit lands meanwhile
    assert not cache.keep(b"k", json_answer(b"[]"), began, reads)
    cache.made(b"k")
    assert waiting.is_set()  # those waiting go on (and find nothing kept)
    assert cache.making(b"k") is None  # the next request makes it again...
    again = cache.making(b"k")
    assert again is not None and not again.is_set()  # ...and the one after waits for it
    assert cache.keep(b"k", json_answer(b"[]"), data_changes.step(), reads)
    cache.made(b"k")
    assert again.is_set() and cache.answer(b"k") is not None


async def test_those_waiting_for_an_answer_out_of_date_when_made_wait_for_one_making_again() -> (
    None
):
    """The requests already waiting when the making's answer comes out unkeepable (a commit
    landed meanwhile) take turns again: one makes it, the rest wait for that one. Before,
    each of them made its own at once: 50 makings of a page through a pool of 30
    connections, the p99 spike at five minutes (docs/performance.md)."""
    changes = TableChanges()
    cache = ResponseCache(changes, max_age_seconds=60, max_bytes=1 << 20)
    reads = ReadSet()
    reads.tables.add("media_requests")
    first: dict[str, Any] = {}
    assert await kept_or_made_meanwhile(cache, b"k", first) is None  # the first makes it
    scopes: list[dict[str, Any]] = [{} for _ in range(5)]
    waiting = [asyncio.create_task(kept_or_made_meanwhile(cache, b"k", s)) for s in scopes]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in waiting)
    began = data_changes.step()
    changes.changed({"media_requests"})  # the commit lands while it is made
    assert not cache.keep(b"k", json_answer(b"[]"), began, reads)
    finish(cache, b"k", first)
    await asyncio.sleep(0.01)
    makers = [scope for task, scope in zip(waiting, scopes, strict=True) if task.done()]
    assert len(makers) == 1, "one request makes it again, the others still wait"
    assert await waiting[scopes.index(makers[0])] is None
    assert cache.keep(b"k", json_answer(b"[]"), data_changes.step(), reads)
    finish(cache, b"k", makers[0])
    answers = await asyncio.gather(*waiting)
    assert sum(answer is None for answer in answers) == 1
    assert all(answer is not None and answer.body == b"[]" for answer in answers if answer)


def test_an_answer_made_while_its_table_changed_is_not_kept() -> None:
    changes = TableChanges()
    cache = ResponseCache(changes, max_age_seconds=60, max_bytes=1 << 20)
    began = data_changes.step()
    reads = ReadSet()
    reads.tables.add("media_requests")
    changes.changed({"media_requests"})  # a commit landed after the request began
    assert not cache.keep(b"k", json_answer(b"[]"), began, reads)
    assert cache.answer(b"k") is None
    began = data_changes.step()
    assert cache.keep(b"k", json_answer(b"[]"), began, reads)
    changes.changed({"users"})  # another table: still current
    assert cache.answer(b"k") is not None
    changes.changed({data_changes.EVERYTHING})
    assert cache.answer(b"k") is None


def test_what_may_not_be_kept_is_not() -> None:
    cache = ResponseCache(TableChanges(), max_age_seconds=60, max_bytes=1 << 20)
    began = data_changes.step()
    unknown = ReadSet()
    unknown.known = False
    wrote = ReadSet()
    wrote.wrote = True
    assert not cache.keep(b"a", json_answer(b"[]"), began, unknown)
    assert not cache.keep(b"b", json_answer(b"[]"), began, wrote)
    with_cookie = json_answer(b"[]")
    with_cookie.set_cookie("x", "y")
    assert not cache.keep(b"c", with_cookie, began, ReadSet())
    refused = Response(b"{}", status_code=404, media_type="application/json")
    assert not cache.keep(b"d", refused, began, ReadSet())
    image = Response(b"\x89PNG", media_type="image/png")
    assert not cache.keep(b"e", image, began, ReadSet())
    assert len(cache) == 0


def test_the_kept_answers_stay_within_their_memory() -> None:
    cache = ResponseCache(TableChanges(), max_age_seconds=60, max_bytes=16_000)
    began = data_changes.step()
    for n in range(10):
        assert cache.keep(b"%d" % n, json_answer(b"x" * 900), began, ReadSet())
    assert cache.answer(b"0") is not None  # used: the least recent is now 1
    for n in range(10, 20):
        cache.keep(b"%d" % n, json_answer(b"x" * 900), began, ReadSet())
    assert len(cache) * 900 <= 16_000
    assert cache.answer(b"1") is None and cache.answer(b"19") is not None
    assert not cache.keep(b"big", json_answer(b"x" * 2_000), began, ReadSet())


def json_answer(data: bytes) -> Response:
    return Response(data, media_type="application/json")


async def test_raw_sql_makes_reads_unknown_and_writes_change_everything(
    app: MediaNestApp,
) -> None:
    changes = changes_of(str(app.ctx.engine.url))
    async with session_scope(app.ctx.session_factory) as session:
        with recording_reads() as reads:
            await session.execute(text("SELECT 1"))
        assert not reads.known and not reads.wrote
        with recording_reads() as reads:
            await session.scalar(
                MediaRequest.__table__.select().where(MediaRequest.title == "x").limit(1)
            )
        assert reads.known and reads.tables == {"media_requests"}
    began = data_changes.step()
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(text("UPDATE users SET username = username"))
    assert not changes.unchanged_since(began, {"anything"})


async def test_another_process_writing_the_sqlite_file_drops_kept_answers(
    backend: str, app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    if backend != "sqlite":
        pytest.skip("a SQLite file")
    assert titles(await alice_client.get(LIST)) == []
    path = make_url(str(app.ctx.engine.url)).database
    assert path is not None

    def write_elsewhere() -> None:  # what a worker or `medianest` command would do
        with sqlite3.connect(path) as connection:
            connection.execute(
                "INSERT INTO media_requests (id, user_id, title, media_type, tmdb_id, status,"
                " created_at, updated_at) VALUES (?, ?, 'Gattaca', 'movie', 7, 'pending',"
                " '2026-12-05 00:00:00', '2026-12-05 00:00:00')",
                (uuid.uuid4().hex, alice.id.hex),
            )

    await asyncio.to_thread(write_elsewhere)
    # (A request glances at the file at most once a `GLANCE_SECONDS`: the last one may
    # have looked a moment before the write ended.)
    await asyncio.sleep(data_changes.GLANCE_SECONDS)
    assert titles(await alice_client.get(LIST)) == ["Gattaca"]


def test_requests_a_moment_apart_share_one_look_at_the_sqlite_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load the file is looked at once a `GLANCE_SECONDS`, not once a request; a
    write of another process is counted by the first glance after that moment, and a
    write of this process always looks first."""
    database = tmp_path / "medianest.db"
    database.write_bytes(b"x")
    clock = [100.0]
    monkeypatch.setattr(data_changes.time, "monotonic", lambda: clock[0])
    changes = TableChanges((str(database),))
    at = data_changes.step()
    changes.glance_outside()
    database.write_bytes(b"xy")  # another process commits
    clock[0] += data_changes.GLANCE_SECONDS / 2
    changes.glance_outside()
    assert changes.unchanged_since(at, {"media_requests"})  # shared the last glance
    clock[0] += data_changes.GLANCE_SECONDS
    changes.glance_outside()
    assert not changes.unchanged_since(at, {"media_requests"})
    at = data_changes.step()
    database.write_bytes(b"xyz")
    changes.began_writing()  # within the moment, and still counted
    changes.ended_writing()
    assert not changes.unchanged_since(at, {"media_requests"})


@pytest.fixture
def long_lived(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(response_cache_seconds=60)


async def test_this_process_committing_elsewhere_meanwhile_keeps_the_answers(
    app_factory: Callable[[Settings], Any], long_lived: Settings, alice: User
) -> None:
    """Other units of work of this process commit to other tables all the time (leases,
    audits, workers). On SQLite a commit changes the file before its session hears it
    committed; a look at the file in that instant is not another process's change.
    (The longest age limit: on a loaded machine the 30 commits took longer than the
    default 3 s, and an answer that aged out was made again, as it should be.)"""
    app = await app_factory(long_lived)
    await add_request(app, alice, "Heat")
    async with await signed_in_client(app, alice) as client:
        await _ask_while_committing(app, client)


async def _ask_while_committing(app: MediaNestApp, client: httpx.AsyncClient) -> None:
    assert titles(await settled_get(client)) == ["Heat"]
    stop = asyncio.Event()
    commits = 0

    async def audit_all_the_time() -> None:
        nonlocal commits
        while not stop.is_set():
            async with session_scope(app.ctx.session_factory) as session:
                session.add(AuditLog(action="test.tick", target=str(commits)))
            commits += 1

    writers = [asyncio.create_task(audit_all_the_time()) for _ in range(3)]
    asked = 0
    try:
        with statements(app) as sql:
            while commits < 30 and asked < 80:  # (within the rate limit)
                before = commits
                assert titles(await client.get(LIST)) == ["Heat"]
                asked += 1
                # The next ask after another commit (a loaded machine commits slowly;
                # asking faster would spend the asks before the commits came).
                for _ in range(1000):
                    if commits > before:
                        break
                    await asyncio.sleep(0.002)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert commits >= 30  # the writer did commit while the answers were asked for
    assert sql == []


async def test_changes_reach_the_other_instances_through_redis(
    backend: str, redis_url: str | None, app: MediaNestApp
) -> None:
    if backend != "postgres" or redis_url is None:
        pytest.skip("Redis")
    from redis.asyncio import Redis

    from medianest.core.change_relay import RedisChangeRelay

    here, there = TableChanges(), TableChanges()
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    stops = [
        await RedisChangeRelay(here, clients[0], "here").start(),
        await RedisChangeRelay(there, clients[1], "there").start(),
    ]
    try:
        began = data_changes.step()
        here.changed({"media_requests"})
        for _ in range(200):
            if not there.unchanged_since(began, {"media_requests"}):
                break
            await asyncio.sleep(0.01)
        assert not there.unchanged_since(began, {"media_requests"})
        assert there.unchanged_since(began, {"users"})
    finally:
        for stop in stops:
            await stop()
        for client in clients:
            await client.aclose()


async def test_a_memo_is_read_again_once_its_table_changed(app: MediaNestApp) -> None:
    from medianest.core.data_changes import TableMemo
    from medianest.platform.models import SystemSetting

    memo: TableMemo[object] = TableMemo(SystemSetting.__tablename__)
    reads = 0

    async def value(session: Any) -> object:
        async def read() -> object:
            nonlocal reads
            reads += 1
            row = await session.get(SystemSetting, "memo-test")
            return None if row is None else row.value

        return await memo.get(session, read)

    async with session_scope(app.ctx.session_factory) as session:
        assert await value(session) is None
        assert await value(session) is None
    assert reads == 1
    async with session_scope(app.ctx.session_factory) as session:
        session.add(SystemSetting(key="memo-test", value="one"))
        assert await value(session) is None  # pending writes of its own: read through
        await session.flush()
        assert await value(session) == "one"
    assert reads == 3
    async with session_scope(app.ctx.session_factory) as session:
        assert await value(session) == "one"  # committed: read again, once
        assert await value(session) == "one"
    assert reads == 4


def test_the_status_copy_read_again_unchanged_is_no_change_and_a_different_one_is(
    app: MediaNestApp,
) -> None:
    from medianest.dashboard import service as status_service
    from medianest.dashboard.schemas import ServiceStatusOut

    entries = [ServiceStatusOut(service=name, status="online") for name in ("plex", "overseerr")]
    source = {status_service.LOCAL_COPY_SOURCE}
    status_service._keep_local_copy(app.ctx, entries)
    began = data_changes.step()
    status_service._keep_local_copy(app.ctx, list(entries))  # re-read: the same
    assert data_changes.MEMORY.unchanged_since(began, source)
    offline = [entries[0].model_copy(update={"status": "offline"}), *entries[1:]]
    status_service._keep_local_copy(app.ctx, offline)
    assert not data_changes.MEMORY.unchanged_since(began, source)


async def test_the_session_answer_is_kept_and_shows_a_role_change_at_once(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    """Every page's script asks for the session: a browser holding its CSRF cookie gets
    no new one (an answer that sets a cookie is never kept), and the answer made from the
    caller's row is dropped once the users table changes."""
    kept_answers = deps._response_caches.get(app.ctx)  # (the app's own cache)
    assert kept_answers is not None
    before = len(kept_answers)
    first = await settled_get(alice_client, "/api/auth/session")
    assert "set-cookie" not in first.headers
    assert first.json()["data"]["csrfToken"] == "test-csrf-token"
    assert len(kept_answers) == before + 1
    kept = await alice_client.get("/api/auth/session")
    assert kept.status_code == 200 and kept.headers["etag"] == first.headers["etag"]
    assert kept.json()["data"]["user"]["role"] == "user"
    changed = await admin_client.put(f"/api/admin/users/{alice.id}", json={"role": "admin"})
    assert changed.status_code == 200, changed.text
    assert (await alice_client.get("/api/auth/session")).json()["data"]["user"]["role"] == "admin"


async def test_a_browser_without_the_csrf_cookie_gets_one_from_the_session_answer(
    app: MediaNestApp, alice_client: httpx.AsyncClient
) -> None:
    alice_client.cookies.delete("csrftoken")
    answer = await alice_client.get("/api/auth/session")
    assert answer.status_code == 200
    token = answer.json()["data"]["csrfToken"]
    assert token and token != "test-csrf-token"
    assert alice_client.cookies["csrftoken"] == token
