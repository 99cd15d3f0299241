"""Browser tests: one served MediaNest pointed at the simulators, one headless Chromium.

The app, the simulators and the browser are shared by the whole e2e package (they take
seconds to start); each test gets its own browser context (cookies) and resets nothing
it does not own. Chromium is Debian's /usr/bin/chromium: never a downloaded browser.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis as redis_sync
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from medianest.app import create_app
from medianest.core.crypto import generate_key
from medianest.settings import Settings
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER
from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import AdminAccount, change_bootstrap_password
from tests.support import databases
from tests.support.servers import ServedApp

PLAIN_VIEWER_SERVER_TOKEN = "sim-pms-dora-access"
# Friends the server is shared with, each used by one test alone (what it changes, a role
# or preferences or a request budget, reaches no other test's user); shared before the app
# starts, as it keeps the server's list of users for a while.
OWN_FRIENDS = {
    "fern": "test_dashboard: made an administrator",
    "gina": "test_notifications: quiet hours",
    "hana": "test_plex: a request budget",
    "ivy": "test_layout: requests of her own",
    "jade": "test_account: signs out her other devices",
    "lena": "test_account: creates API tokens",
    "kit": "test_new_states: requests, and an Overseerr user of the same Plex account",
}
# Friends shared only some libraries (python-plexapi `inviteFriend(sections=)`): Movies and
# TV Shows (1, 2), the usual invite, not the YouTube library (3) downloads go to.
PARTLY_SHARED = {
    "mona": "test_plex_shares: the YouTube library is shared with her during the test",
    "nell": "test_plex_shares: her share is removed during the test",
    "olga": "test_admin_plex_panel: listed as not shared the YouTube library",
}

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
T = TypeVar("T")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion in a thread of its own: once sync Playwright runs,
    this thread has a running event loop and `asyncio.run` refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@pytest.fixture(scope="package")
def simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorSuite]:
    with SimulatorSuite(youtube_dir=tmp_path_factory.mktemp("plex-youtube")) as suite:
        # dora: a friend the server is shared with whom no test promotes, the plain viewer
        # of privacy tests (test_admin.py makes bob an admin, and admins see everything).
        suite.plextv.add_user("dora")
        suite.plextv.share_server("dora", MACHINE_IDENTIFIER, PLAIN_VIEWER_SERVER_TOKEN)
        suite.plex.add_user_token(PLAIN_VIEWER_SERVER_TOKEN, "dora")
        for friend in OWN_FRIENDS:
            suite.plextv.add_user(friend)
            suite.plextv.share_server(friend, MACHINE_IDENTIFIER, f"sim-pms-{friend}-access")
            suite.plex.add_user_token(f"sim-pms-{friend}-access", friend)
        for friend in PARTLY_SHARED:
            suite.plextv.add_user(friend)
            suite.plextv.share_server(
                friend, MACHINE_IDENTIFIER, f"sim-pms-{friend}-access", sections=(1, 2)
            )
        # kit's Overseerr user was imported from Plex: the automatic link finds it.
        suite.overseerr.add_user("kit", plex_id=suite.plextv.accounts["kit"].id)
        yield suite


@pytest.fixture(scope="package")
def e2e_storage(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A database of its own (SQLite file, or a fresh PostgreSQL database + the test
    process's Redis database, flushed)."""
    if backend != "postgres":
        directory = tmp_path_factory.mktemp("e2e-db")
        yield {"database_url": databases.sqlite_url(directory / "medianest.db"), "redis_url": None}
        return
    if not run_coroutine(databases.pg_reachable):
        pytest.skip("PostgreSQL is not reachable")
    redis_url = databases.redis_process_url()
    try:
        redis_sync.Redis.from_url(redis_url, socket_connect_timeout=2).flushdb()
    except (redis_sync.RedisError, OSError):
        pytest.skip("Redis is not reachable")
    name, url = run_coroutine(databases.create_pg_database)
    yield {"database_url": url, "redis_url": redis_url}
    run_coroutine(lambda: databases.drop_pg_database(name))


@pytest.fixture(scope="package")
def served(
    simulators: SimulatorSuite,
    e2e_storage: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServedApp]:
    info = simulators.info
    data_dir = tmp_path_factory.mktemp("e2e-data")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=data_dir,
        database_url=e2e_storage["database_url"],
        redis_url=e2e_storage["redis_url"],
        encryption_key=generate_key(),
        session_secret="e2e-session-secret",
        **info.settings_values(),
        uptime_kuma_status_page=info.uptime_kuma_status_page,
        download_root=Path(info.youtube_dir),  # the simulated Plex "YouTube" library
        download_min_free_bytes=0,
        run_worker_in_process=True,
        health_check_interval_seconds=1.0,
        health_check_timeout_seconds=1.0,
        request_sync_interval_seconds=1.0,
        http_retry_attempts=1,
        http_retry_initial_seconds=0.01,
        breaker_reset_seconds=1.0,
        # One admin walks every page in every browser test of the package within a few
        # minutes; the per-user budget of a person would refuse the later tests (429).
        rate_limit_api_per_minute=10_000,  # the most the admin form accepts (it is saved back)
        # The same users download in many files of the package: the hourly budget of a
        # person (5) would refuse later tests depending on their order.
        rate_limit_youtube_per_hour=1_000,  # the most the admin form accepts
        # Every sign-in counts against the per-name-and-address budget (10 per 15 min), the
        # right password too; the package signs the same admin in from one address far
        # more often than a person would.
        rate_limit_login_failures=1_000,
        # Every Plex sign-in of the package starts a PIN from this one address (30 in 10
        # minutes would refuse the later tests).
        rate_limit_plex_pins=1_000,
    )
    with ServedApp(create_app(settings)) as app:
        yield app


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = "/usr/bin/chromium is missing (apt-get install chromium)"
        if os.environ.get("MN_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def new_context(browser: Browser, served: ServedApp) -> Iterator[Any]:
    """Open browser contexts (separate cookie jars) that close after the test."""
    opened: list[BrowserContext] = []

    def open_context(**options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 1366, "height": 768})
        context = browser.new_context(base_url=served.url, **options)
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


@pytest.fixture(scope="package")
def screenshots() -> Path:
    """Emptied once per run: under pytest -n every worker that runs a browser test gets
    here, and only the first of the run may clear what the others already shot."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid-{os.getpid()}")
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    with (SCREENSHOTS.parent / ".screenshots.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = SCREENSHOTS / ".run"
        if not stamp.is_file() or stamp.read_text() != run:
            if SCREENSHOTS.exists():
                shutil.rmtree(SCREENSHOTS)
            SCREENSHOTS.mkdir()
            stamp.write_text(run)
    return SCREENSHOTS


@pytest.fixture(scope="package")
def admin_account(browser: Browser, served: ServedApp, screenshots: Path) -> AdminAccount:
    """The bootstrap admin, after the browser walked through the forced password change."""
    return change_bootstrap_password(browser, served.url, screenshots)
