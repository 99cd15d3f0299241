"""What an attack or a hung dependency costs the other people using MediaNest.

`python -m bench.attack_bystander [sqlite,postgres] [seconds]` serves MediaNest (the
embedded default, then PostgreSQL with a private Redis of this run), and has a signed-in
user open the list pages (`/api/youtube/downloads`, `/api/media/requests`) in turn from
a process of its own (tests/attack/bystander.py) while:

- nothing else happens (the baseline of the same run),
- a login flood runs: waves of 200 concurrent unauthenticated bogus sign-ins,
- Overseerr hangs (simulator fault) and 30 searches at a time wait on it,
- Redis hangs (SIGSTOP of the private redis-server; PostgreSQL + Redis only).

For each: the bystander's statuses, p50, p99 and slowest answer, and p99 as a ratio to
the baseline's. The target (issue 20): every bystander answer 200, p99 under 1 s.
Bounded: each phase lasts `seconds` (default 6), everything on loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from tests.attack.support import Bystander, Probe, many_connections
from tests.faults.support import RedisServer

from bench import backends
from bench.processes import Server, medianest_server
from medianest_simulators.suite import SimulatorSuite

TARGET_P99_SECONDS = 1.0
LOGIN_WAVE = 200
SEARCHES = 30
DEFAULT_SECONDS = 6.0


def _cookies(cookie_header: str) -> httpx.Cookies:
    jar = httpx.Cookies()
    for part in cookie_header.split("; "):
        name, value = part.split("=", 1)
        jar.set(name, value)
    return jar


def _figures(probe: Probe, baseline_p99: float | None) -> dict[str, Any]:
    ordered = sorted(probe.seconds)
    figures: dict[str, Any] = {
        "requests": len(ordered),
        "statuses": {str(k): v for k, v in sorted(probe.statuses.items())},
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(probe.p99 * 1000, 1),
        "slowest_ms": round(probe.slowest * 1000, 1),
        "all_200": set(probe.statuses) == {200},
        "p99_under_1s": probe.p99 < TARGET_P99_SECONDS,
    }
    if baseline_p99:
        figures["p99_ratio_to_baseline"] = round(probe.p99 / baseline_p99, 2)
    return figures


async def _keep_attacking(
    seconds: float, wave: Callable[[], Awaitable[Counter[int]]]
) -> Counter[int]:
    """Waves of the attack, one after another, for `seconds`; the attackers' statuses."""
    seen: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.update(await wave())
    return seen


async def _phase(
    url: str,
    cookies: httpx.Cookies,
    seconds: float,
    wave: Callable[[], Awaitable[Counter[int]]] | None,
) -> tuple[Probe, Counter[int]]:
    with Bystander(url, cookies) as bystander:
        if wave is None:
            await asyncio.sleep(seconds)
            attackers: Counter[int] = Counter()
        else:
            attackers = await _keep_attacking(seconds, wave)
        return await bystander.finish(), attackers


def _waves(
    count: int, send: Callable[[int], Awaitable[httpx.Response]]
) -> Callable[[], Awaitable[Counter[int]]]:
    """One wave: `count` requests at once (`send(i)` makes the i-th); their statuses, a
    transport error counted as 0."""

    async def one(index: int) -> int:
        try:
            return (await send(index)).status_code
        except httpx.HTTPError:
            return 0

    async def wave() -> Counter[int]:
        return Counter(await asyncio.gather(*(one(i) for i in range(count))))

    return wave


async def _measure(
    server: Server, cookie: str, suite: SimulatorSuite, redis: RedisServer | None, seconds: float
) -> dict[str, Any]:
    cookies = _cookies(cookie)
    results: dict[str, Any] = {}
    probe, _ = await _phase(server.url, cookies, seconds, None)
    baseline = probe.p99
    results["baseline"] = _figures(probe, None)
    limits = many_connections(LOGIN_WAVE)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as anonymous:
        bogus_sign_ins = _waves(
            LOGIN_WAVE,
            lambda i: anonymous.post(
                "/api/auth/admin", json={"username": f"nobody{i}", "password": "x" * 12}
            ),
        )
        probe, attackers = await _phase(server.url, cookies, seconds, bogus_sign_ins)
    results["login_flood"] = _figures(probe, baseline) | {"attackers": dict(attackers)}
    suite.overseerr.set_fault("hang", delay=20.0)
    try:
        async with httpx.AsyncClient(
            base_url=server.url, cookies=cookies, limits=many_connections(SEARCHES), timeout=60
        ) as searcher:
            searches = _waves(
                SEARCHES,
                lambda i: searcher.get("/api/media/search", params={"query": f"dune {i}"}),
            )
            probe, attackers = await _phase(server.url, cookies, seconds, searches)
    finally:
        suite.overseerr.clear_fault()
    results["hung_overseerr"] = _figures(probe, baseline) | {"attackers": dict(attackers)}
    if redis is not None and redis.process is not None:
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            probe, _ = await _phase(server.url, cookies, seconds, None)
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        results["hung_redis"] = _figures(probe, baseline)
    return results


def run_backend(name: str, seconds: float = DEFAULT_SECONDS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="medianest-bench-attack-") as tmp:
        root = Path(tmp)
        redis: RedisServer | None = None
        if name == "sqlite":
            backend: backends.Backend | str = backends.embedded(root / "data")
        else:
            backend = backends.postgres_redis(root / "data")
            if isinstance(backend, str):
                return {"skipped": backend}
            (root / "redis").mkdir()
            redis = RedisServer(root / "redis")
            redis.start()
            backend.env["MEDIANEST_REDIS_URL"] = redis.url
        assert not isinstance(backend, str)
        server: Server | None = None
        try:
            with SimulatorSuite(youtube_dir=root / "youtube") as suite:
                env = {
                    **backend.env,
                    "MEDIANEST_LOG_LEVEL": "WARNING",
                    "MEDIANEST_HTTP_TIMEOUT_SECONDS": "3",
                    "MEDIANEST_OVERSEERR_URL": suite.info.overseerr_url,
                    "MEDIANEST_OVERSEERR_API_KEY": suite.info.overseerr_api_key,
                }
                server = medianest_server(f"medianest-attack-{name}", env, root / "medianest.log")
                server.start("/api/health", timeout=240)
                _user_id, cookie = backends.sign_in(server.url)
                return asyncio.run(_measure(server, cookie, suite, redis, seconds))
        finally:
            if server is not None:
                server.stop()
            if redis is not None:
                redis.kill()
            backends.drop(backend)


def run(
    backend_names: tuple[str, ...] = ("sqlite", "postgres"), seconds: float = DEFAULT_SECONDS
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "target_p99_ms": TARGET_P99_SECONDS * 1000,
        "load_start": os.getloadavg(),
    }
    for name in backend_names:
        result[name] = run_backend(name, seconds)
    result["load_end"] = os.getloadavg()
    return result


def main(argv: list[str]) -> None:
    names = tuple(argv[0].split(",")) if argv else ("sqlite", "postgres")
    seconds = float(argv[1]) if len(argv) > 1 else DEFAULT_SECONDS
    print(json.dumps(run(names, seconds), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
