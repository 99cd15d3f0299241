"""Open redirect after sign-in: `/login?next=...` may only lead to a path of this site.

Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so
`/%09/example.org` reached `http://example.org/` after a password sign-in in Chromium.
The server (`safe_next`) and the page script (`safeNext`) apply one pattern; the
hostile forms below are refused by both, and a real Chromium signs in and stays here.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from medianest.app import MediaNestApp, create_app
from medianest.auth.pages import SAFE_NEXT_PATTERN, safe_next
from medianest.settings import Settings
from tests.conftest import settings_for_test_app
from tests.factories.users import TEST_PASSWORD, create_user
from tests.support import databases
from tests.support.http import http_client
from tests.support.servers import ServedApp

APP_JS = Path(__file__).resolve().parents[2] / "src/medianest/web/static/app.js"
CHROMIUM = Path("/usr/bin/chromium")

# As an attacker writes them in the query string (percent-encoded or not).
HOSTILE = [
    "/%09/example.org",
    "/%0a/example.org",
    "/%0d%0a/example.org",
    "/%09%09/example.org",
    "//example.org",
    "%2F%2Fexample.org",
    "/%5Cexample.org",
    "/%5C/example.org",
    "%5C%5Cexample.org",
    "/\\example.org",
    "\\/example.org",
    "https://example.org/",
    "https:%2F%2Fexample.org",
    "http:example.org",
    "javascript:alert(1)",
    "JaVaScRiPt%3Aalert(1)",
    "data:text/html,hi",
    "%20//example.org",
    "/%E2%80%AE/example.org",
    "/%00/example.org",
    "%EF%BC%8F%EF%BC%8Fexample.org",  # fullwidth solidi
]
KEPT = ["/youtube", "/media/42?tab=info", "/plex/library/1#top", "/%2509/stays-here"]


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[ServedApp]:
    async with ServedApp(create_app(settings, run_migrations=False)) as server:
        yield server


@pytest.fixture(scope="module")
def login_page_site(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    pg_database_url: str | None,
) -> Iterator[ServedApp]:
    """One served app for the anonymous `/login?next=` cases, which only read the page
    and change nothing: an app and a server of their own cost each case ~0.3 s of CPU."""
    tmp = tmp_path_factory.mktemp("login-page")
    if backend == "postgres":
        assert pg_database_url is not None
        database_url, redis_url = pg_database_url, databases.redis_process_url()
    else:
        template = request.getfixturevalue("sqlite_template")
        database_url, redis_url = databases.copy_sqlite_template(template, tmp), None
    settings = settings_for_test_app(tmp / "data", database_url, redis_url)
    with ServedApp(create_app(settings, run_migrations=False)) as server:
        yield server


def _data_next(page: str) -> set[str]:
    return {html.unescape(v) for v in re.findall(r'data-next="([^"]*)"', page)}


@pytest.mark.parametrize("raw", HOSTILE)
async def test_a_hostile_next_is_replaced_by_the_dashboard(
    login_page_site: ServedApp, raw: str
) -> None:
    async with http_client(base_url=login_page_site.url, timeout=30) as http:
        page = await http.get(f"/login?next={raw}")
    assert page.status_code == 200
    assert _data_next(page.text) == {"/dashboard"}


@pytest.mark.parametrize("raw", KEPT)
async def test_a_path_of_this_site_is_kept(login_page_site: ServedApp, raw: str) -> None:
    async with http_client(base_url=login_page_site.url, timeout=30) as http:
        page = await http.get("/login", params={"next": unquote(raw)})
    assert _data_next(page.text) == {unquote(raw)}


async def test_a_signed_in_visit_with_a_hostile_next_redirects_to_the_dashboard(
    app: MediaNestApp, served: ServedApp
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with http_client(base_url=served.url, timeout=30) as http:
        signed_in = await http.post(
            "/api/auth/admin", json={"username": "carol", "password": TEST_PASSWORD}
        )
        assert signed_in.status_code == 200
        for raw in ("/%09/example.org", "/%5Cexample.org", "//example.org"):
            answer = await http.get(f"/login?next={raw}")
            assert answer.status_code == 303
            assert answer.headers["location"] == "/dashboard"


def _js_pattern() -> str:
    """The regular expression literal `safeNext` uses in app.js."""
    match = re.search(r"var SAFE_NEXT = (/.+/);\n", APP_JS.read_text())
    assert match, "app.js declares SAFE_NEXT"
    return match.group(1)


def _browser_checks(base_url: str, values: list[str]) -> tuple[list[bool], list[str], str]:
    """In Chromium: what app.js's pattern says of each value, where the browser would
    go for each value it accepts, and where a password sign-in ends whose next is hostile
    both in the address and in the form's data-next (the script's own check)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(base_url=base_url)
            page.set_default_timeout(15_000)
            page.goto("/login?next=/%09/example.org")
            verdicts: list[bool] = page.evaluate(
                f"(values) => values.map((v) => {_js_pattern()}.test(v))", values
            )
            accepted = [v for v, ok in zip(values, verdicts, strict=True) if ok]
            origins: list[str] = page.evaluate(
                "(values) => values.map((v) => new URL(v, location.href).origin)", accepted
            )
            page.click("#password-signin summary")
            # As if a server had let it through: the script must refuse it on its own.
            page.eval_on_selector("#admin-login", "(f, v) => { f.dataset.next = v; }", "/\t/x.org")
            page.fill("#admin-login [name=username]", "carol")
            page.fill("#admin-login [name=password]", TEST_PASSWORD)
            page.click("#admin-login [type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
            return verdicts, origins, page.url
        finally:
            browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
@pytest.mark.timeout(120)
async def test_chromium_signs_in_with_a_hostile_next_and_stays_on_the_site(
    app: MediaNestApp, served: ServedApp
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    decoded_hostile = [unquote(raw) for raw in HOSTILE]
    kept = [unquote(raw) for raw in KEPT]
    values = decoded_hostile + kept
    verdicts, origins, landed = await asyncio.to_thread(_browser_checks, served.url, values)

    # One rule: the page script and the server agree on every value...
    python_verdicts = [safe_next(v) == v for v in values]
    assert verdicts == python_verdicts
    assert python_verdicts == [False] * len(decoded_hostile) + [True] * len(kept)
    # ...and whatever they accept, the browser resolves on this site.
    site = f"{urlsplit(served.url).scheme}://{urlsplit(served.url).netloc}"
    assert origins == [site] * len(kept)
    assert landed == f"{served.url}/dashboard"


def test_the_page_script_uses_the_servers_pattern() -> None:
    assert _js_pattern() == f"/{SAFE_NEXT_PATTERN.replace('/', chr(92) + '/')}/"
