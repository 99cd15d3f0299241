"""Fixtures: settings, a migrated database (SQLite, or PostgreSQL with --backend=postgres),
Redis when on the postgres backend, the app, and signed-in clients for admin, alice and bob.

The suite runs twice in CI: `--backend=sqlite` (embedded default: SQLite, in-process
cache and limits) and `--backend=postgres` (PostgreSQL + Redis). With
MN_TEST_REQUIRE_SERVICES=1 an unreachable PostgreSQL or Redis fails the run instead
of skipping it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_sync
from hypothesis import settings as hypothesis_settings
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from sqlalchemy.ext.asyncio import AsyncEngine

from medianest.app import MediaNestApp, create_app
from medianest.auth.models import Role, User
from medianest.core import passwords
from medianest.core.crypto import generate_key
from medianest.core.logging import configure_logging
from medianest.db.engine import create_engine
from medianest.settings import Settings
from tests.factories.users import (
    create_user,
    make_client,
    prepare_bootstrap_admin,
    signed_in_client,
)
from tests.support import cheap_hashes, databases
from tests.support.xdist import PackageUnitScheduling

# Hypothesis's deadline per example is a timing check, and a loaded machine (the two
# backends' runs side by side) fails it at random: speed is measured in bench/, not here.
hypothesis_settings.register_profile("medianest", deadline=None)
hypothesis_settings.load_profile("medianest")

pytest_plugins = ["tests.support.simulator_fixtures"]

ENCRYPTION_KEY = generate_key()

# The app's own processors and redaction, JSON lines: structlog's default dev renderer
# prints rich tracebacks with locals, which has held the event loop for seconds.
configure_logging(level="INFO", fmt="json")


GC_YOUNG_THRESHOLD = 20_000  # new objects between young collections (default 700)


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes() -> Iterator[None]:
    """Argon2id with the least work for apps running in the test process: every app
    start hashes the bootstrap admin's password, and at production cost (~0.1 s of CPU
    and 64 MiB each, seconds on a loaded machine) that was minutes of every run. The
    same code and hash format; served apps (tests/attack, tests/faults, the browser
    tests) run in their own processes at production cost, except the fuzzing's
    (tests/fuzz/conftest.py), and tests/core/test_passwords.py holds the production
    parameters."""
    real = passwords._hasher
    cheap_hashes.use(cheap_hashes.CHEAP)
    yield
    cheap_hashes.use(real)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        default=os.environ.get("MN_TEST_BACKEND", "sqlite"),
        choices=["sqlite", "postgres"],
        help="storage for app tests: sqlite (embedded) or postgres (+ Redis)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that asks for no fixture depending on `backend` (the database, Redis, the app
    and everything built on them) runs the same code on either: it runs once, not again on
    PostgreSQL. `backend` is the only reader of `--backend`, so this cannot miss one."""
    for item in items:
        if "backend" not in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.no_storage)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection loaded (the app's modules, ~1,900 test items) stays until the
    process ends: frozen out of the collector's sight, and young collections after
    20,000 new objects, not 700 (as `serve` does while it loads). The collector's share
    of a test process's CPU: 6 % → 4 % (docs/development.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which would answer first
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`pytest -n N --dist loadfile` (scripts/test): a test file is a unit of work, and
    so is each package in `ONE_WORKER_PACKAGES`, the browser tests: their served app,
    simulators and Chromium are package fixtures, started once on the worker that runs
    them rather than on every worker that draws one of their files."""
    if config.getvalue("dist") != "loadfile":
        return None
    return PackageUnitScheduling(config, log)


def require_services() -> bool:
    return os.environ.get("MN_TEST_REQUIRE_SERVICES") == "1"


def unavailable(what: str) -> None:
    if require_services():
        pytest.fail(f"{what} is required (MN_TEST_REQUIRE_SERVICES=1) but unreachable")
    pytest.skip(f"{what} is not reachable")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--backend"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.make_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def pg_database_url(backend: str) -> Iterator[str | None]:
    if backend != "postgres":
        yield None
        return
    if not asyncio.run(databases.pg_reachable()):
        unavailable("PostgreSQL")
    name, url = asyncio.run(databases.create_pg_database())
    databases.migrate.upgrade(url)
    KEPT_DATABASES.add(url)
    yield url
    asyncio.run(databases.drop_pg_database(name))


@functools.cache
def process_redis(url: str) -> redis_sync.Redis:
    """One client per test process, its connection kept: a new one per test (to see that
    Redis answers, then to flush it) was ~0.8 ms of CPU."""
    return redis_sync.Redis.from_url(url, socket_connect_timeout=2)


def redis_reachable(url: str) -> bool:
    """Whether Redis answers at `url` (tests/fuzz and tests/core skip or fail without it)."""
    try:
        process_redis(url).ping()
    except (redis_sync.RedisError, OSError):
        return False
    return True


@pytest.fixture
def redis_url(backend: str) -> str | None:
    """Redis for app tests on the postgres backend (flushed per test), None on sqlite."""
    if backend != "postgres":
        return None
    url = databases.redis_process_url()
    try:
        process_redis(url).flushdb()
    except (redis_sync.RedisError, OSError):
        unavailable("Redis")
    return url


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test process's SQLite database file: one path, refilled from the template for
    each test, so the apps of all its tests can share an engine (`kept_engine`)."""
    path = tmp_path_factory.mktemp("sqlite") / "medianest.db"
    KEPT_DATABASES.add(databases.sqlite_url(path))
    return path


@pytest.fixture
async def database_url(
    backend: str, sqlite_database: Path, sqlite_template: Path, pg_database_url: str | None
) -> str:
    if backend == "postgres":
        assert pg_database_url is not None
        await databases.truncate_pg(pg_database_url)
        return pg_database_url
    return databases.refill_sqlite_database(sqlite_template, sqlite_database)


class OwnValuesSettings(Settings):
    """The settings a test gives, and the defaults: no `MEDIANEST_*` variable of the
    shell that runs the tests, no `.env`. Reading those walked every field twice, ~3 ms
    of CPU for each app a test starts."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_for_test_app(
    data_dir: Path, database_url: str, redis_url: str | None, **overrides: Any
) -> Settings:
    """The settings of a test app (`make_settings` for one test; callable directly where a
    fixture of wider scope builds an app)."""
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": redis_url,
        "encryption_key": ENCRYPTION_KEY,
        "session_secret": "test-session-secret",
        "plex_tv_url": "http://127.0.0.1:9",
        "plex_app_url": "http://127.0.0.1:9",
        "run_worker_in_process": False,
        # The delivery worker polls the outbox and checks digests and yt-dlp's age at
        # start (~10 ms of CPU per app): tests that send notifications turn it on.
        "run_notification_worker": False,
        "http_retry_initial_seconds": 0.01,
    }
    values.update(overrides)
    return OwnValuesSettings(**values)


@pytest.fixture
def make_settings(
    tmp_path: Path, database_url: str, redis_url: str | None
) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        given = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "redis_url": redis_url,
        }
        return settings_for_test_app(**(given | overrides))

    return factory


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app_factory(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
    """Start apps (lifespan included) and stop them after the test. Their periodic parts
    (status monitor, sweeps, request sync, worker health check) run only for tests marked
    `housekeeping` (or asked for with `housekeeping=True`): the rest only make requests."""
    stack: list[tuple[MediaNestApp, Any, Callable[[], None]]] = []
    marked = request.node.get_closest_marker("housekeeping") is not None

    async def start(
        settings: Settings, *, housekeeping: bool | None = None, watch_loop: bool = False
    ) -> MediaNestApp:
        engine, give_back = kept_engine(settings)
        app = create_app(
            settings,
            run_migrations=False,
            housekeeping=marked if housekeeping is None else housekeeping,
            watch_loop=watch_loop,
            engine=engine,
        )
        lifespan = app.fastapi.router.lifespan_context(app.fastapi)
        await lifespan.__aenter__()
        stack.append((app, lifespan, give_back))
        return app

    yield start
    for _app, lifespan, give_back in reversed(stack):
        await lifespan.__aexit__(None, None, None)
        give_back()


# The databases this test process owns (its PostgreSQL database, its SQLite file), and
# their engines not in use by a running app, by (URL, pool timeout). A test's apps take
# one each and give it back at their stop (which closes its connections): a new engine per
# app set its dialect up and compiled every statement again, ~12 ms of CPU per test on
# SQLite and ~20 ms on PostgreSQL (docs/development.md). Other databases a test makes get
# engines of their own, as before.
KEPT_DATABASES: set[str] = set()
_IDLE_ENGINES: dict[tuple[str, float], list[AsyncEngine]] = {}


def kept_engine(settings: Settings) -> tuple[AsyncEngine | None, Callable[[], None]]:
    url = settings.resolved_database_url
    if url not in KEPT_DATABASES:
        return None, lambda: None
    idle = _IDLE_ENGINES.setdefault((url, settings.database_pool_timeout_seconds), [])
    engine = (
        idle.pop()
        if idle
        else create_engine(url, pool_timeout=settings.database_pool_timeout_seconds)
    )
    return engine, lambda: idle.append(engine)


@pytest.fixture
async def app(app_factory: Callable[..., Any], settings: Settings) -> MediaNestApp:
    started: MediaNestApp = await app_factory(settings)
    return started


@pytest.fixture
async def client(app: MediaNestApp) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as anonymous:
        yield anonymous


@pytest.fixture
async def admin(app: MediaNestApp) -> User:
    return await prepare_bootstrap_admin(app)


@pytest.fixture
async def alice(app: MediaNestApp) -> User:
    return await create_user(app, "alice", plex_id="1002", plex_token="alice-plex-token")


@pytest.fixture
async def bob(app: MediaNestApp) -> User:
    return await create_user(app, "bob", plex_id="1003", plex_token="bob-plex-token")


@pytest.fixture
async def admin_client(app: MediaNestApp, admin: User) -> AsyncIterator[httpx.AsyncClient]:
    async with await signed_in_client(app, admin) as signed_in:
        yield signed_in


@pytest.fixture
async def alice_client(app: MediaNestApp, alice: User) -> AsyncIterator[httpx.AsyncClient]:
    async with await signed_in_client(app, alice) as signed_in:
        yield signed_in


@pytest.fixture
async def bob_client(app: MediaNestApp, bob: User) -> AsyncIterator[httpx.AsyncClient]:
    async with await signed_in_client(app, bob) as signed_in:
        yield signed_in


__all__ = ["Role"]
