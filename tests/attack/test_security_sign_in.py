"""Attacks on signing in, over real sockets: guesses raced against the login throttle,
a spoofed X-Forwarded-For, a planted CSRF cookie, and /metrics read from elsewhere.

The throttle runs against `medianest serve` in its own process (in-process limits on
the embedded default, Redis with --backend=postgres), reached with one connection per
request so the guesses truly overlap.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp, create_app
from medianest.auth.cookies import CSRF_COOKIE
from medianest.core.passwords import HASH_CONCURRENCY, HASH_QUEUE
from medianest.platform.models import AuditLog
from medianest.settings import Settings
from tests.auth.flows import cookie, password_sign_in
from tests.factories.users import TEST_PASSWORD, create_user
from tests.faults.support import AppProcess, RedisServer
from tests.support.http import http_client
from tests.support.servers import ServedApp

LIMIT = 10
WRONG = "not-the-password-at-all"


@pytest.fixture
def throttle_settings(
    make_settings: Callable[..., Settings], backend: str, tmp_path: Path
) -> Iterator[Settings]:
    """Settings whose login counts live in a Redis of this test's own on the postgres
    backend (the shared test Redis is flushed by other test processes at any time)."""
    if backend != "postgres":
        yield make_settings(rate_limit_login_failures=LIMIT, log_level="WARNING")
        return
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    redis = RedisServer(workdir)
    redis.start()
    try:
        yield make_settings(
            rate_limit_login_failures=LIMIT, log_level="WARNING", redis_url=redis.url
        )
    finally:
        redis.kill()


@pytest.fixture
def served(throttle_settings: Settings, tmp_path: Path) -> Iterator[AppProcess]:
    with AppProcess(throttle_settings, tmp_path / "server.log") as process:
        yield process


# The gate takes this many sign-ins at once (the server runs on this machine's cores).
GATE_CAPACITY = HASH_CONCURRENCY + HASH_QUEUE


async def _burst(url: str, username: str, passwords: list[str]) -> list[httpx.Response]:
    """Every sign-in at once, each on its own connection, released together. Those the
    password-check gate turned away (503 SERVICE_BUSY: no throttle count, no check) are
    sent again until each attempt got a throttle's or a check's answer: twice as many
    at once as the gate takes, so that every round still fills it (sending all of them
    again made 4,000 requests of a burst of 200, at 5 answers a round on 2 cores)."""
    limits = httpx.Limits(max_connections=len(passwords), max_keepalive_connections=0)
    answers: list[httpx.Response | None] = [None] * len(passwords)
    async with http_client(base_url=url, limits=limits, timeout=120) as http:
        for round_ in range(200):
            pending = [n for n, a in enumerate(answers) if a is None or a.status_code == 503]
            if not pending:
                break
            if round_ > 0:
                pending = pending[: 2 * GATE_CAPACITY]
            gate = asyncio.Event()

            async def one(index: int, gate: asyncio.Event = gate) -> None:
                await gate.wait()
                answers[index] = await http.post(
                    "/api/auth/admin", json={"username": username, "password": passwords[index]}
                )

            tasks = [asyncio.create_task(one(n)) for n in pending]
            await asyncio.sleep(0.05)
            gate.set()
            await asyncio.gather(*tasks)
    done = [a for a in answers if a is not None and a.status_code != 503]
    assert len(done) == len(passwords), "the gate kept refusing"
    return done


# The two bursts share one served app (one process start): the throttle counts per
# username and address, so carol's guesses and dave's are counted apart.
@pytest.mark.timeout(400)
async def test_guesses_at_once_are_checked_at_most_up_to_the_limit(
    app: MediaNestApp, served: AppProcess
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    await create_user(app, "dave", password=TEST_PASSWORD)

    # 39 wrong guesses and the right one at once.
    answers = await _burst(served.url, "carol", [WRONG] * 39 + [TEST_PASSWORD])
    statuses = Counter(a.status_code for a in answers)
    checked = statuses[401] + statuses[200]
    # Before the throttle counted first, this was {401: 10, 429: 29, 200: 1}: 11 checked.
    assert checked <= LIMIT, statuses
    assert statuses[429] == 40 - checked, statuses
    assert set(statuses) <= {200, 401, 429}
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
            assert int(answer.headers["Retry-After"]) >= 1
    async with app.ctx.session_factory() as session:
        failed = list(
            await session.scalars(
                select(AuditLog.target).where(AuditLog.action == "auth.login_failed")
            )
        )
    assert failed == ["carol"] * statuses[401]

    # A burst of 200 guesses checks at most 10.
    answers = await _burst(served.url, "dave", [f"{WRONG}-{n}" for n in range(200)])
    statuses = Counter(a.status_code for a in answers)
    # Before: 121 of the 200 guesses were checked against a limit of 10.
    assert statuses == {401: LIMIT, 429: 200 - LIMIT}, statuses
    # The right password is refused too until the window passes: no guess is checked.
    late = await http_client(base_url=served.url).post(
        "/api/auth/admin", json={"username": "dave", "password": TEST_PASSWORD}
    )
    assert late.status_code == 429
    assert "Traceback" not in served.log_text()


def _serve(settings: Settings, *, proxy_headers: bool = True) -> ServedApp:
    """The app on a loopback port. `proxy_headers=False`: uvicorn leaves X-Forwarded-For
    alone (as other ASGI servers do), so what is made of it is the app's own doing."""
    served = ServedApp(create_app(settings, run_migrations=False))
    served.server.config.proxy_headers = proxy_headers
    return served


async def test_a_spoofed_leftmost_forwarded_for_does_not_escape_the_login_throttle(
    app: MediaNestApp, throttle_settings: Settings
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with (
        _serve(throttle_settings, proxy_headers=False) as served,
        http_client(base_url=served.url, timeout=30) as http,
    ):

        async def guess(forwarded_for: str) -> httpx.Response:
            return await http.post(
                "/api/auth/admin",
                json={"username": "carol", "password": WRONG},
                headers={"X-Forwarded-For": forwarded_for},
            )

        # The loopback peer is a trusted proxy that appended the address it saw
        # (203.0.113.7); the attacker writes a new address to the left every time.
        for n in range(LIMIT):
            assert (await guess(f"198.51.100.{n}, 203.0.113.7")).status_code == 401
        assert (await guess("198.51.100.99, 203.0.113.7")).status_code == 429
        # Someone else behind the same proxy is not held back by it.
        assert (await guess("198.51.100.1, 203.0.113.8")).status_code == 401
        # A proxy chain of ours (loopback hops) is skipped: the first outside hop counts.
        assert (await guess("198.51.100.5, 203.0.113.7, 127.0.0.1")).status_code == 429

    async with app.ctx.session_factory() as session:
        ips = set(
            await session.scalars(select(AuditLog.ip).where(AuditLog.action == "auth.login_failed"))
        )
    assert ips == {"203.0.113.7", "203.0.113.8"}


async def test_a_planted_csrf_cookie_does_not_survive_sign_in(
    app: MediaNestApp, settings: Settings
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with (
        _serve(settings) as served,
        http_client(base_url=served.url, timeout=30) as http,
    ):
        planted = "planted-by-a-sibling-subdomain"
        http.cookies.set(CSRF_COOKIE, planted, domain="127.0.0.1", path="/")
        signed_in = await password_sign_in(http, "carol", TEST_PASSWORD)
        assert signed_in.status_code == 200
        fresh = signed_in.json()["data"]["csrfToken"]
        assert fresh != planted
        assert cookie(http, CSRF_COOKIE) == fresh

        # The planter's forged request echoes the value it planted: refused.
        forged = await http.post(
            "/api/auth/tokens",
            json={"name": "forged"},
            headers={"X-CSRF-Token": planted},
        )
        assert forged.status_code == 403
        assert forged.json()["error"]["code"] == "CSRF_FAILED"
        made = await http.post(
            "/api/auth/tokens", json={"name": "mine"}, headers={"X-CSRF-Token": fresh}
        )
        assert made.status_code == 201


async def test_metrics_without_a_token_answer_only_this_machine(settings: Settings) -> None:
    async with (
        _serve(settings) as served,  # uvicorn trusts the loopback proxy's X-Forwarded-For
        http_client(base_url=served.url, timeout=30) as http,
    ):
        local = await http.get("/metrics")
        assert local.status_code == 200
        assert "medianest_http_requests_total" in local.text
        # What a local nginx relays for a client on the internet.
        relayed = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert relayed.status_code == 403
        assert relayed.json()["error"]["details"]["reason"] == "metrics_loopback_only"
        assert "medianest_" not in relayed.text


async def test_metrics_with_a_token_need_it_from_everywhere(
    make_settings: Callable[..., Settings],
) -> None:
    token = uuid.uuid4().hex
    async with (
        _serve(make_settings(metrics_token=token)) as served,
        http_client(base_url=served.url, timeout=30) as http,
    ):
        assert (await http.get("/metrics")).status_code == 401
        authorized = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert authorized.status_code == 200
        relayed = await http.get(
            "/metrics",
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.9"},
        )
        assert relayed.status_code == 200
