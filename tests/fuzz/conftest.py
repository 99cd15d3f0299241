"""A served app with an admin and a plain user holding API tokens, for schemathesis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis as redis_sync
import schemathesis
from schemathesis.openapi import from_url

from medianest.app import create_app
from medianest.auth.models import User
from medianest.auth.tokens import service as api_tokens
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest_simulators.suite import SimulatorSuite, SuiteInfo
from tests.conftest import ENCRYPTION_KEY, redis_reachable, unavailable
from tests.factories.users import create_user, prepare_bootstrap_admin
from tests.support import databases
from tests.support.servers import free_port, wait_for_health

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FuzzTarget:
    url: str
    admin_token: str
    user_token: str
    server_log: Path


def _environment(
    data_dir: Path, database_url: str, redis_url: str | None, sims: SuiteInfo
) -> dict[str, str]:
    # The services are up (simulators), so a 503 from the app would be a real fault.
    env = {
        **sims.env(),
        "MEDIANEST_ENVIRONMENT": "test",
        "MEDIANEST_DATA_DIR": str(data_dir),
        "MEDIANEST_DATABASE_URL": database_url,
        "MEDIANEST_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "MEDIANEST_SESSION_SECRET": "fuzz-session-secret",
        "MEDIANEST_RUN_WORKER_IN_PROCESS": "false",
        "MEDIANEST_HTTP_RETRY_ATTEMPTS": "1",
        # Raised, never disabled: the fuzzer sends more than 100 requests a minute.
        "MEDIANEST_RATE_LIMIT_API_PER_MINUTE": "100000",
        "MEDIANEST_RATE_LIMIT_YOUTUBE_PER_HOUR": "100000",
        "MEDIANEST_RATE_LIMIT_REQUESTS_PER_HOUR": "100000",
        "MEDIANEST_LOG_LEVEL": "WARNING",
    }
    if redis_url:
        env["MEDIANEST_REDIS_URL"] = redis_url
    return env


async def _prepare(env: dict[str, str]) -> tuple[str, str]:
    settings = Settings(
        **{k.removeprefix("MEDIANEST_").lower(): v for k, v in env.items()},
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings, run_migrations=False)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        admin = await prepare_bootstrap_admin(app)
        alice = await create_user(app, "alice", plex_id="1002", plex_token="alice-plex-token")
        tokens = []
        async with session_scope(app.ctx.session_factory) as session:
            for user in (admin, alice):
                row = await session.get(User, user.id)
                assert row is not None
                _, plaintext = await api_tokens.create_token(
                    session, user=row, name="fuzz", expires_in_days=None
                )
                tokens.append(plaintext)
    return tokens[0], tokens[1]


@pytest.fixture(scope="module")
def fuzz_target(
    backend: str, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, pg_database_url
) -> Iterator[FuzzTarget]:
    tmp = tmp_path_factory.mktemp("fuzz")
    redis_url = None
    if backend == "postgres":
        redis_url = databases.redis_process_url()
        if not redis_reachable(redis_url):
            unavailable("Redis")
        redis_sync.Redis.from_url(redis_url).flushdb()
        asyncio.run(databases.truncate_pg(pg_database_url))
        database_url = pg_database_url
    else:
        database_url = databases.copy_sqlite_template(sqlite_template, tmp)
    suite = SimulatorSuite(youtube_dir=str(tmp / "youtube"))
    suite.start()
    # The app runs as its own process (as in production): a crash there shows up as a
    # failed call with the server's log, not as the test process dying.
    env = _environment(tmp / "data", database_url, redis_url, suite.info)
    admin_token, user_token = asyncio.run(_prepare(env))
    port = free_port()
    log_path = tmp / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            # Hashing cheaply: what is fuzzed is the API's answers, not sign-in cost
            # (every random sign-in checked a password at production cost, ~3 s a run).
            [sys.executable, "-m", "tests.support.cheap_hashes", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_health(url, process)
        yield FuzzTarget(url, admin_token, user_token, log_path)
    finally:
        process.terminate()
        process.wait(timeout=20)
        suite.stop()


def _wait_for_health(url: str, process: subprocess.Popen[bytes]) -> None:
    if wait_for_health(url, process=process, interval=0.25):
        return
    if process.poll() is not None:
        raise RuntimeError("the app exited during start")
    raise TimeoutError("the app did not start")


@pytest.fixture(scope="module")
def api_schema(fuzz_target: FuzzTarget) -> schemathesis.BaseSchema:
    return from_url(f"{fuzz_target.url}/api/openapi.json")
