"""`medianest serve` loads only what serving needs: yt-dlp waits for the first download,
Apprise and pywebpush for the first notification, Jinja2 for the first page,
prometheus_client for the first scrape, Alembic for a migration to run, cryptography's
ciphers for a secret to open or seal, and the simulators and the demo never come into a
server at all (memory: docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medianest_simulators import UptimeKumaSimulator
from tests.support.servers import SERVE_AND_LIST_MODULES, free_port

NEVER_IN_A_SERVER = ("medianest_simulators", "medianest.demo", "plexapi")
ON_FIRST_USE = (
    "yt_dlp",
    "apprise",
    "pywebpush",
    "py_vapid",
    "http_ece",
    "jinja2",
    "prometheus_client",  # with the first scrape of /metrics (core/metrics.py)
)
# A first start makes the web-push key with the ciphers; a restart has no secret to open
# until a request or a configured service asks.
CIPHERS = ("cryptography.hazmat",)
# Optional extras of python-socketio (its client), httpx (its command line) and structlog
# that no MediaNest process uses (medianest/__main__.py).
UNUSED_EXTRAS = ("aiohttp", "requests", "rich", "pygments")
# Loaded only with Redis configured (by MediaNest's modules and socketio's manager).
ONLY_WITH_REDIS = ("redis",)
# Loaded only with PostgreSQL configured (db/base.py imports each dialect where it is used).
ONLY_ON_POSTGRESQL = ("sqlalchemy.dialects.postgresql", "asyncpg")
# Installed with uvicorn[standard]; `serve` runs on the standard library's loop instead
# (cli.SERVED_OPTIONS: saturated, uvloop left some connections waiting many turns).
OTHER_EVENT_LOOP = ("uvloop",)
# What uvicorn watches files with for `serve --reload` only.
RELOAD_WATCHER = ("watchfiles",)
# Pydantic's copy of its first version: FastAPI asks it whether a type is such a model.
PYDANTIC_ONE = ("pydantic.v1",)


def serve_and_list_modules(data_dir: Path, out: Path, **settings: str) -> set[str]:
    """The modules a real `serve` loaded by its first 200; `settings`: more `MEDIANEST_*`
    variables (the shell's own are left out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LIST_MODULES, str(free_port()), str(out)],
        env={**env, "MEDIANEST_DATA_DIR": str(data_dir), **settings},
        capture_output=True,
        text=True,
        timeout=120,  # a loaded machine starts slowly
    )
    assert out.exists(), result.stderr[-2000:]
    return set(json.loads(out.read_text()))


@pytest.fixture(scope="module")
def starts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """The modules of a first start (it creates and migrates the database and generates
    the secrets file) and of a restart on the same data dir: two process starts that
    every test of this file reads, none changes."""
    root = tmp_path_factory.mktemp("serve-imports")
    return {
        name: serve_and_list_modules(root / "data", root / f"{name}.json")
        for name in ("first", "restart")
    }


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_serve_imports_neither_downloader_nor_notifiers_nor_simulators_at_start(
    starts: dict[str, set[str]],
) -> None:
    first = starts["first"]
    assert "medianest.app" in first  # the list is the serving process's
    assert loaded(first, NEVER_IN_A_SERVER + ON_FIRST_USE) == []


def test_a_restart_on_a_current_database_does_not_load_alembic(
    starts: dict[str, set[str]],
) -> None:
    restart = starts["restart"]
    assert "medianest.youtube.jobs.worker" in restart  # the in-process worker is running
    assert loaded(restart, NEVER_IN_A_SERVER + ON_FIRST_USE + ("alembic", "mako")) == []


def test_a_restart_with_no_stored_secret_to_open_does_not_load_the_ciphers(
    starts: dict[str, set[str]],
) -> None:
    assert loaded(starts["first"], CIPHERS) != []  # the first start made its keys with them
    assert loaded(starts["restart"], CIPHERS) == []


def test_serve_leaves_out_the_socketio_client_and_httpx_command_line_extras(
    starts: dict[str, set[str]],
) -> None:
    for modules in starts.values():
        assert "socketio.async_server" in modules and "httpx" in modules
    assert loaded(starts["restart"], UNUSED_EXTRAS) == []
    # A first start migrates: Alembic's templates (mako) bring pygments, nothing else here.
    assert loaded(starts["first"], UNUSED_EXTRAS) == loaded(starts["first"], ("pygments",))


def test_serve_on_the_embedded_default_never_loads_redis_or_postgresql(
    starts: dict[str, set[str]],
) -> None:
    for modules in starts.values():
        assert "medianest.core.ratelimit" in modules and "socketio.async_redis_manager" in modules
        assert loaded(modules, ONLY_WITH_REDIS) == []
    # (A first start migrates: Alembic's DDL package loads every dialect it knows.)
    assert "sqlalchemy.dialects.sqlite.aiosqlite" in starts["restart"]
    assert loaded(starts["restart"], ONLY_ON_POSTGRESQL) == []


def test_serve_on_postgresql_and_redis_never_loads_sqlite(
    tmp_path: Path, pg_database_url: str | None, redis_url: str | None
) -> None:
    if pg_database_url is None:
        pytest.skip("PostgreSQL runs on the postgres backend")
    modules = serve_and_list_modules(
        tmp_path / "data",
        tmp_path / "modules.json",
        MEDIANEST_DATABASE_URL=pg_database_url,
        MEDIANEST_REDIS_URL=str(redis_url),
    )
    assert "sqlalchemy.dialects.postgresql.asyncpg" in modules and "redis.asyncio" in modules
    assert loaded(modules, ("sqlalchemy.dialects.sqlite", "aiosqlite", "sqlite3")) == []


def test_serve_answers_on_the_standard_library_event_loop(
    starts: dict[str, set[str]],
) -> None:
    for modules in starts.values():
        assert "uvicorn.loops.asyncio" in modules
        assert loaded(modules, OTHER_EVENT_LOOP) == []


def test_serve_without_reload_leaves_out_the_file_watcher(
    starts: dict[str, set[str]],
) -> None:
    for modules in starts.values():
        assert "uvicorn.supervisors" in modules
        assert loaded(modules, RELOAD_WATCHER) == []


@pytest.mark.parametrize(
    ("arguments", "watcher"),
    [(["serve", "--reload"], "WatchFilesReload"), (["serve"], "StatReload")],
)
def test_serve_reload_still_watches_files_with_watchfiles(
    arguments: list[str], watcher: str
) -> None:
    code = (
        "import sys; from medianest.__main__ import load_libraries_lean; "
        f"load_libraries_lean({arguments!r}); "
        "import uvicorn.supervisors; print(uvicorn.supervisors.ChangeReload.__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == [watcher], result.stderr[-2000:]


def test_serve_builds_its_routes_without_pydantic_one(starts: dict[str, set[str]]) -> None:
    for modules in starts.values():
        assert "pydantic" in modules and "fastapi.routing" in modules
        assert loaded(modules, PYDANTIC_ONE) == []


def test_what_the_entry_left_out_still_imports_when_asked_later() -> None:
    code = (
        "import sys; from medianest.__main__ import load_libraries_lean; "
        "load_libraries_lean([]); assert 'requests' not in sys.modules; "
        "import requests, engineio.async_client; print(requests.__name__, "
        "engineio.async_client.aiohttp)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["requests", "None"], result.stderr[-2000:]


# Through the entry engineio's client keeps the None it got for aiohttp; the live Uptime
# Kuma link (the dashboard's "Live" source and the admin's connection test) needs it.
KUMA_SIGN_IN_THROUGH_THE_ENTRY = textwrap.dedent(
    """
    import asyncio, sys
    from medianest.__main__ import load_libraries_lean

    load_libraries_lean([])
    from medianest.integrations.uptime_kuma_live import sign_in_once

    link = asyncio.run(sign_in_once(sys.argv[1], username="admin", password="admin123"))
    print(link.version, len(link.monitors))
    """
)


def test_the_live_uptime_kuma_link_signs_in_through_the_entry(kuma: UptimeKumaSimulator) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KUMA_SIGN_IN_THROUGH_THE_ENTRY, kuma.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    *_logged, answer = result.stdout.splitlines() or [""]
    assert answer.split() == ["2.5.3", "3"], result.stderr[-2000:]


# Through the entry python-socketio loads without redis; with Redis configured its manager
# must still publish (core/realtime.py hands it redis-py).
EMIT_THROUGH_THE_ENTRY = textwrap.dedent(
    """
    import asyncio, json, sys
    from medianest.__main__ import load_libraries_lean

    load_libraries_lean([])
    import socketio.async_redis_manager as socketio_redis

    assert socketio_redis.aioredis is None and "redis" not in sys.modules
    from medianest.core.pubsub import channel
    from medianest.core.realtime import SOCKETIO_CHANNEL, external_emitter

    async def main(url):
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel(url, SOCKETIO_CHANNEL))
        emitter = external_emitter(url)
        await emitter.emit_to_user("someone", "download:progress", {"percent": 5})
        message = None
        for _ in range(100):
            message = await pubsub.get_message(timeout=0.1)
            if message is not None:
                break
        print(json.loads(message["data"])["event"] if message else "nothing published")
        await emitter.aclose()
        await pubsub.aclose()
        await client.aclose()

    asyncio.run(main(sys.argv[1]))
    """
)


def test_with_redis_configured_socketio_publishes_through_the_entry(redis_url: str | None) -> None:
    if redis_url is None:
        pytest.skip("Redis runs on the postgres backend")
    result = subprocess.run(
        [sys.executable, "-c", EMIT_THROUGH_THE_ENTRY, redis_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["download:progress"], result.stderr[-2000:]


# Starts as `serve` does, through the command's entry (young collections only while the
# command loads and while `serve` checks the database and builds its app, then a freeze
# without a full collection), and counts what a full collection would have freed; and
# that the usual thresholds are back afterwards.
GARBAGE_LEFT_BY_THE_START = textwrap.dedent(
    """
    import gc, sys
    from medianest.__main__ import load_libraries_lean
    from medianest.core.imports import kept_for_good

    thresholds = gc.get_threshold()
    with kept_for_good():
        load_libraries_lean([])
        from medianest import cli

    cli.start_serving(cli.settings_for_command())
    assert gc.get_threshold() == thresholds, gc.get_threshold()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    print(frozen, gc.collect())
    """
)


def test_the_served_app_is_built_leaving_no_garbage_for_the_freeze_to_keep(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    # A first start (migrations: Alembic leaves garbage, collected before the freeze),
    # then a restart on the same data.
    for start in ("first", "restart"):
        result = subprocess.run(
            [sys.executable, "-c", GARBAGE_LEFT_BY_THE_START],
            env={**env, "MEDIANEST_DATA_DIR": str(tmp_path / "data")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        frozen, unreachable = (int(n) for n in result.stdout.split()[-2:])
        assert frozen > 100_000, (start, result.stderr[-2000:])  # the app's objects
        assert unreachable < 1_000, start  # what the freeze keeps that a collection frees


# The app loaded, the models of Overseerr's, Plex's and plex.tv's answers are declared but
# not built: a server that never talks to a service never builds them (start-up time).
# Built on first use, they validate as before (tests/integrations, tests/contracts).
UPSTREAM_MODELS_BUILT = textwrap.dedent(
    """
    import medianest.app
    from medianest.integrations import overseerr_models
    from medianest.integrations.upstream_model import UpstreamModel

    def family(model):
        return [model] + [m for sub in model.__subclasses__() for m in family(sub)]

    models = family(UpstreamModel)
    print(len(models), sum(model.__pydantic_complete__ for model in models))
    overseerr_models.OverseerrUser.model_validate({"id": 1, "email": "a@b.c"})
    print(int(overseerr_models.OverseerrUser.__pydantic_complete__))
    """
)


def test_upstream_answer_models_are_built_on_first_use_not_at_import() -> None:
    result = subprocess.run(
        [sys.executable, "-c", UPSTREAM_MODELS_BUILT], capture_output=True, text=True, timeout=60
    )
    declared, built, first_used = (int(n) for n in result.stdout.split()[-3:])
    assert declared > 20, result.stderr[-2000:]
    assert built == 0
    assert first_used == 1
