"""`GET /api/dashboard/status` answered from memory (dashboard/hot.py) must be the same
answer FastAPI's route gives, count against the same rate limit, and step aside for
every caller that memory alone cannot vouch for."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.requests import Request
from tests.factories.users import create_user, make_client, signed_in_client

from medianest.app import MediaNestApp
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.identity import _session_token_hash, signed_in_from_memory
from medianest.auth.models import User
from medianest.auth.session_cache import session_cache_of
from medianest.core.tokens import hash_token
from medianest.dashboard import hot
from medianest.dashboard import service as status_service
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings

PATH = hot.PATH
# Headers that differ between any two answers, whichever way they were made.
PER_ANSWER = {"date", "x-correlation-id", "x-ratelimit-remaining", "x-ratelimit-reset"}
PYDANTIC_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture(autouse=True)
def long_lived_local_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The copy lives a second in production; a slow CI machine must not see it expire
    # between two requests of one test.
    monkeypatch.setattr(status_service, "LOCAL_COPY_SECONDS", 60.0)


async def first_aggregate(app: MediaNestApp) -> None:
    """Memory answers once the status monitor has written its first aggregate (only the
    monitor writes it); its first round follows the Uptime Kuma runner's first turn."""
    for _ in range(200):
        if await app.ctx.cache.get(status_service.CACHE_KEY) is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the status monitor wrote no aggregate within 10 s")


def hot_answers() -> float:
    value = REGISTRY.get_sample_value("medianest_hot_path_answers_total", {"route": PATH})
    return value or 0.0


def requests_counted(status: str) -> float:
    labels = {"method": "GET", "route": PATH, "status": status}
    return REGISTRY.get_sample_value("medianest_http_requests_total", labels) or 0.0


async def get_via_fastapi(app: MediaNestApp, http: httpx.AsyncClient, url: str = PATH) -> Any:
    app.hot_paths.enabled = False
    try:
        return await http.get(url)
    finally:
        app.hot_paths.enabled = True


async def get_hot(http: httpx.AsyncClient, url: str = PATH) -> tuple[httpx.Response, bool]:
    """The answer, and whether the hot path gave it."""
    before = hot_answers()
    response = await http.get(url)
    return response, hot_answers() == before + 1


def assert_same_answer(hot_response: httpx.Response, slow: httpx.Response) -> None:
    assert hot_response.status_code == slow.status_code
    assert set(hot_response.headers) - PER_ANSWER == set(slow.headers) - PER_ANSWER
    for name in set(slow.headers) - PER_ANSWER:
        assert hot_response.headers[name] == slow.headers[name], name
    hot_body, slow_body = hot_response.json(), slow.json()
    if "meta" in slow_body:
        hot_meta, slow_meta = hot_body.pop("meta"), slow_body.pop("meta")
        assert hot_meta.keys() == slow_meta.keys()
        assert hot_meta["version"] == slow_meta["version"]
        assert PYDANTIC_UTC.match(hot_meta["timestamp"]), hot_meta
        assert PYDANTIC_UTC.match(slow_meta["timestamp"]), slow_meta
    assert hot_body == slow_body


async def test_a_cached_caller_gets_the_routes_answer_from_memory(
    app: MediaNestApp, alice_client: httpx.AsyncClient
) -> None:
    slow = await get_via_fastapi(app, alice_client)  # resolves the session, keeps a copy
    counted = requests_counted("200")
    hot_response, answered_hot = await get_hot(alice_client)
    assert answered_hot
    assert slow.status_code == 200, slow.text
    assert_same_answer(hot_response, slow)
    assert [e["service"] for e in hot_response.json()["data"]] == list(status_service.SERVICES)
    # The same rate-limit counter, one hit further; the same route in the metrics.
    remaining = int(slow.headers["x-ratelimit-remaining"])
    assert int(hot_response.headers["x-ratelimit-remaining"]) == remaining - 1
    assert requests_counted("200") == counted + 1


async def test_the_answer_follows_a_new_aggregate_at_once(
    app: MediaNestApp, alice_client: httpx.AsyncClient
) -> None:
    await get_via_fastapi(app, alice_client)
    entries = await status_service.current_status(app.ctx)
    changed = [entries[0].model_copy(update={"status": "offline", "error": "refused"})]
    await status_service.cache_status(app.ctx, changed + entries[1:])
    response, answered_hot = await get_hot(alice_client)
    assert answered_hot
    assert response.json()["data"][0]["status"] == "offline"
    assert response.json()["data"][0]["error"] == "refused"


async def test_an_expired_copy_is_refreshed_from_the_cache_by_one_request_at_a_time(
    app: MediaNestApp, alice_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await get_via_fastapi(app, alice_client)
    monkeypatch.setattr(status_service, "LOCAL_COPY_SECONDS", -0.5)  # expired when kept
    entries = await status_service.current_status(app.ctx)
    offline = [entries[0].model_copy(update={"status": "offline"}), *entries[1:]]
    await status_service.cache_status(app.ctx, offline)  # the copy: expired at once
    # Expired: the hot answer re-reads the shared cache itself (no FastAPI, no database).
    response, answered_hot = await get_hot(alice_client)
    assert answered_hot
    assert response.json()["data"][0]["status"] == "offline"
    # While one request re-reads it, the others answer from the expired copy...
    await app.ctx.cache.set(status_service.CACHE_KEY, [], 60)  # what a re-read would find
    status_service.copy_state(app.ctx).refreshing = True
    response, answered_hot = await get_hot(alice_client)
    assert answered_hot
    assert response.json()["data"][0]["status"] == "offline"
    # ...within the grace only: past it, FastAPI answers (and reads the database).
    monkeypatch.setattr(status_service, "LOCAL_COPY_GRACE_SECONDS", 0.0)
    _, answered_hot = await get_hot(alice_client)
    assert not answered_hot


async def test_an_empty_cache_leaves_the_answer_to_fastapi(
    app: MediaNestApp, alice_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await get_via_fastapi(app, alice_client)
    monkeypatch.setattr(status_service, "LOCAL_COPY_SECONDS", -0.5)
    await status_service.cache_status(app.ctx, await status_service.current_status(app.ctx))
    await app.ctx.cache.delete(status_service.CACHE_KEY)  # expired, evicted, restarted
    cache_reads = 0
    real_get = app.ctx.cache.get

    async def counted_get(key: str) -> Any:
        nonlocal cache_reads
        cache_reads += 1
        return await real_get(key)

    monkeypatch.setattr(app.ctx.cache, "get", counted_get)
    response, answered_hot = await get_hot(alice_client)
    assert not answered_hot
    assert response.status_code == 200
    assert [e["service"] for e in response.json()["data"]] == list(status_service.SERVICES)
    assert cache_reads == 2  # the hot path's try, then the route's own
    # Within the next second the hot path does not try again: one cache read a request.
    response, answered_hot = await get_hot(alice_client)
    assert not answered_hot and response.status_code == 200
    assert cache_reads == 3


CallerFactory = Callable[[MediaNestApp], Any]


async def anonymous(app: MediaNestApp) -> httpx.AsyncClient:
    return make_client(app)


async def bogus_bearer_beside_a_good_cookie(app: MediaNestApp) -> httpx.AsyncClient:
    user = await create_user(app, "carol", plex_id="2001")
    http = await signed_in_client(app, user)
    assert (await http.get(PATH)).status_code == 200  # the session is now in the cache
    http.headers["Authorization"] = "Bearer not-a-real-token"
    return http


async def password_change_pending(app: MediaNestApp) -> httpx.AsyncClient:
    user = await create_user(app, "dave", password="a-first-password-123")
    async with session_scope(app.ctx.session_factory) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.must_change_password = True
    return await signed_in_client(app, user)


async def disabled_user(app: MediaNestApp) -> httpx.AsyncClient:
    user = await create_user(app, "erin", plex_id="2002", status="disabled")
    return await signed_in_client(app, user)


async def plex_token_check_due(app: MediaNestApp) -> httpx.AsyncClient:
    user = await create_user(app, "frank", plex_id="2003", plex_token="frank-plex-token")
    async with session_scope(app.ctx.session_factory) as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        minutes = app.ctx.settings.plex_token_check_minutes
        stored.plex_token_checked_at = utcnow() - timedelta(minutes=minutes + 1)
    return await signed_in_client(app, user)


async def signed_out_after_a_hot_answer(app: MediaNestApp) -> httpx.AsyncClient:
    """The same Cookie header memory answered before (and remembers the reading of)."""
    user = await create_user(app, "gwen", plex_id="2005")
    http = await signed_in_client(app, user)
    await first_aggregate(app)
    await get_via_fastapi(app, http)
    assert (await get_hot(http))[1]
    cookie = http.cookies[SESSION_COOKIE]
    assert (await http.post("/api/auth/logout")).status_code == 200
    http.cookies.set(SESSION_COOKIE, cookie)  # a stolen or stale copy of the cookie
    return http


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        (anonymous, 401),
        (signed_out_after_a_hot_answer, 401),
        (bogus_bearer_beside_a_good_cookie, 401),
        (password_change_pending, 403),
        (disabled_user, 401),
        # plex.tv is unreachable in this app: the check is deferred, the session kept.
        (plex_token_check_due, 200),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
async def test_callers_memory_cannot_vouch_for_are_answered_by_fastapi(
    app: MediaNestApp, caller: CallerFactory, status: int
) -> None:
    http: httpx.AsyncClient = await caller(app)
    try:
        slow = await get_via_fastapi(app, http)
        # FastAPI has now cached what it could; the hot path must still step aside.
        response, answered_hot = await get_hot(http)
    finally:
        await http.aclose()
    assert not answered_hot
    assert response.status_code == slow.status_code == status, response.text
    if status != 200:
        assert response.json() == slow.json()


async def test_a_query_string_goes_to_fastapi(
    app: MediaNestApp, alice_client: httpx.AsyncClient
) -> None:
    await get_via_fastapi(app, alice_client)
    response, answered_hot = await get_hot(alice_client, PATH + "?refresh=1")
    assert not answered_hot
    assert response.status_code == 200


@pytest.fixture
async def limited_app(
    app_factory: Callable[[Settings], Any], make_settings: Callable[..., Settings]
) -> MediaNestApp:
    started: MediaNestApp = await app_factory(make_settings(rate_limit_api_per_minute=3))
    return started


@pytest.fixture
async def limited_client(limited_app: MediaNestApp) -> AsyncIterator[httpx.AsyncClient]:
    user = await create_user(limited_app, "grace", plex_id="2004")
    await first_aggregate(limited_app)
    async with await signed_in_client(limited_app, user) as http:
        yield http


async def test_the_rate_limit_counts_both_ways_and_refuses_alike(
    limited_app: MediaNestApp, limited_client: httpx.AsyncClient
) -> None:
    first = await get_via_fastapi(limited_app, limited_client)
    second, second_hot = await get_hot(limited_client)
    third = await get_via_fastapi(limited_app, limited_client)
    assert second_hot
    remaining = [int(r.headers["x-ratelimit-remaining"]) for r in (first, second, third)]
    assert remaining == [2, 1, 0]
    refused_hot, fourth_hot = await get_hot(limited_client)
    refused_slow = await get_via_fastapi(limited_app, limited_client)
    assert fourth_hot  # refused from memory: the hit was counted there
    assert refused_hot.status_code == refused_slow.status_code == 429
    hot_error, slow_error = refused_hot.json()["error"], refused_slow.json()["error"]
    assert hot_error["code"] == slow_error["code"] == "RATE_LIMIT_EXCEEDED"
    assert hot_error["message"] == slow_error["message"]
    assert hot_error["details"].keys() == slow_error["details"].keys()
    assert (hot_error["details"]["limit"], hot_error["details"]["window"]) == (3, 60)
    for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "content-type"):
        assert refused_hot.headers[name] == refused_slow.headers[name], name
    assert int(refused_hot.headers["retry-after"]) >= 1
    assert int(refused_slow.headers["retry-after"]) >= 1


async def test_memory_vouches_only_for_an_active_user(app: MediaNestApp, alice: User) -> None:
    cache = session_cache_of(app.ctx)
    assert cache is not None
    token = "a-session-token-only-this-test-knows"
    cookie = (b"cookie", f"{SESSION_COOKIE}={token}".encode())
    scope: dict[str, Any] = {"type": "http", "headers": [cookie]}

    def cache_alice(status: str) -> None:
        alice.status = status
        until = utcnow() + timedelta(minutes=5)
        cache.put(
            hash_token(token),
            alice,
            generation=cache.generation,
            valid_until=until,
            session_ends=until,
        )

    cache_alice("disabled")  # resolve_session never caches one; memory must not trust it
    assert signed_in_from_memory(app.ctx, scope) is None
    cache_alice("active")
    found = signed_in_from_memory(app.ctx, scope)
    assert found is not None and found.id == alice.id
    with_bearer = {**scope, "headers": [(b"authorization", b"Bearer x"), cookie]}
    assert signed_in_from_memory(app.ctx, with_bearer) is None


@pytest.mark.parametrize(
    "header",
    [
        f"{SESSION_COOKIE}=plain-token",
        f"theme=dark; {SESSION_COOKIE}=token-in-the-middle; csrftoken=abc",
        f'{SESSION_COOKIE}="quoted-token"',
        f"{SESSION_COOKIE}=first; {SESSION_COOKIE}=second",
        f"{SESSION_COOKIE}=",
        "theme=dark; csrftoken=abc",
        f"  {SESSION_COOKIE} = spaced-token ;",
        f"{SESSION_COOKIE}=token%20with%20escapes",
    ],
)
def test_memory_reads_the_session_cookie_as_a_request_does(header: str) -> None:
    scope = {"type": "http", "headers": [(b"cookie", header.encode("latin-1"))]}
    token = Request(scope).cookies.get(SESSION_COOKIE)
    expected = hash_token(token) if token else None
    assert _session_token_hash(header.encode("latin-1")) == expected
