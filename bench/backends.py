"""The two deployments under test: the embedded default (SQLite, no Redis) and
PostgreSQL + Redis (when reachable), each with a signed-in user and some data."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import redis

from medianest.db.engine import create_engine, create_session_factory, session_scope
from medianest.models import MediaRequest  # all models, so foreign keys resolve

PG_ADMIN_DSN = os.environ.get("MEDIANEST_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEDIANEST_TEST_REDIS_URL", "redis://127.0.0.1:6379") + "/3"
BOOTSTRAP_PASSWORD = "bench-bootstrap-password"
ADMIN_PASSWORD = "bench-admin-password-not-secret"
SEEDED_REQUESTS = 20


@dataclass
class Backend:
    name: str
    env: dict[str, str]
    database_url: str
    cleanup: list[str] = field(default_factory=list)  # PostgreSQL databases to drop


def base_env(data_dir: Path) -> dict[str, str]:
    return {
        "MEDIANEST_DATA_DIR": str(data_dir),
        "MEDIANEST_ADMIN_PASSWORD": BOOTSTRAP_PASSWORD,
        # Benchmarks raise the per-user limit far above what a run can send; never disable it.
        "MEDIANEST_RATE_LIMIT_API_PER_MINUTE": str(10**9),
        "MEDIANEST_PLEX_TV_URL": "http://127.0.0.1:9",
        "MEDIANEST_PLEX_APP_URL": "http://127.0.0.1:9",
    }


def embedded(data_dir: Path) -> Backend:
    url = f"sqlite+aiosqlite:///{(data_dir / 'medianest.db').resolve()}"
    return Backend("sqlite", base_env(data_dir), url)


async def _create_pg_database() -> tuple[str, str]:
    name = f"medianest_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), 3)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def postgres_redis(data_dir: Path) -> Backend | str:
    """The PostgreSQL + Redis backend, or the reason it cannot run here."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
    except (redis.RedisError, OSError) as exc:
        return f"Redis unreachable: {exc}"
    try:
        name, url = asyncio.run(_create_pg_database())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL unreachable: {exc}"
    env = {**base_env(data_dir), "MEDIANEST_DATABASE_URL": url, "MEDIANEST_REDIS_URL": REDIS_URL}
    return Backend("postgres+redis", env, url, cleanup=[name])


def drop(backend: Backend) -> None:
    for name in backend.cleanup:
        asyncio.run(_drop_pg_database(name))


def sign_in(base_url: str) -> tuple[str, str]:
    """Sign in as the bootstrap admin and set its password; returns (user id, cookie header)."""

    async def over_http() -> tuple[str, str]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            return await sign_in_with(client)

    return asyncio.run(over_http())


async def sign_in_with(client: httpx.AsyncClient) -> tuple[str, str]:
    """`sign_in` through `client` (a served app's URL, or an app called in-process)."""
    login = await client.post(
        "/api/auth/admin", json={"username": "admin", "password": BOOTSTRAP_PASSWORD}
    )
    login.raise_for_status()
    changed = await client.post(
        "/api/auth/change-password",
        json={"currentPassword": BOOTSTRAP_PASSWORD, "newPassword": ADMIN_PASSWORD},
        headers={"X-CSRF-Token": client.cookies["csrftoken"]},
    )
    changed.raise_for_status()
    session = await client.get("/api/auth/session")
    session.raise_for_status()
    user_id = session.json()["data"]["user"]["id"]
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return str(user_id), cookie


async def _seed_requests(database_url: str, user_id: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            for number in range(SEEDED_REQUESTS):
                session.add(
                    MediaRequest(
                        user_id=uuid.UUID(user_id),
                        title=f"Benchmark film {number}",
                        media_type="movie",
                        tmdb_id=100000 + number,
                    )
                )
    finally:
        await engine.dispose()


def seed(backend: Backend, user_id: str) -> None:
    asyncio.run(_seed_requests(backend.database_url, user_id))
