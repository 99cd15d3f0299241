"""States that came with stop 48, seen in the browser at a desktop and a phone width: the
bootstrap admin refused at a name a stranger's DNS could answer for, a request removed in
Overseerr, the automatic Overseerr link on the users page, and a title Overseerr cannot
retrieve. Each must be shown whole, readable (contrast >= 4.5), reachable by keyboard
with a focus ring, and an error said to a screen reader."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect

from medianest.app import create_app
from medianest.core.crypto import generate_key
from medianest.settings import Settings
from medianest_simulators.overseerr_data import API_KEY
from medianest_simulators.suite import SimulatorSuite
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.flows import DESKTOP, PHONE, AdminAccount, shoot, sign_in_admin, sign_in_plex_user
from tests.e2e.test_accessibility import CONTRASTS, FOCUS_RING
from tests.support import databases
from tests.support.servers import ServedApp

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
# Nothing of the page wider than the screen, and `selector` inside it, whole.
FITS = """(selector) => {
  const el = document.querySelector(selector);
  const box = el.getBoundingClientRect();
  const doc = document.documentElement;
  const cut = [...el.querySelectorAll('*'), el].filter(e => e.scrollWidth > e.clientWidth + 1
      && getComputedStyle(e).overflowX !== 'visible' && e.tagName !== 'TABLE'
      && !e.classList.contains('table-wrap'));
  return {
    pageWider: doc.scrollWidth > doc.clientWidth + 1,
    outside: box.left < -.5 || box.right > doc.clientWidth + .5,
    cut: cut.map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.')),
  };
}"""
# The nearest live region holding the element (role alert/status or aria-live).
LIVE_REGION = """(el) => {
  for (let up = el; up; up = up.parentElement) {
    const live = up.getAttribute('aria-live');
    const role = up.getAttribute('role');
    if (role === 'alert' || role === 'status' || (live && live !== 'off')) return role || live;
  }
  return null;
}"""


def fits(page: Page, selector: str) -> None:
    found = page.evaluate(FITS, selector)
    assert found == {"pageWider": False, "outside": False, "cut": []}, (selector, found)


def readable(page: Page, *selectors: str) -> None:
    ratios = dict(page.evaluate(CONTRASTS, list(selectors)))
    low = {s: r for s, r in ratios.items() if r is None or r < 4.5}
    assert not low, low


def tab_to(page: Page, target: Locator, tries: int = 80) -> None:
    """Tab from the top of the page until `target` has the focus; its ring is drawn whole."""
    page.locator("body").focus()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(tries):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            ring = page.evaluate(FOCUS_RING)
            assert ring["indicator"] and not ring["cutBy"], ring
            return
    raise AssertionError(f"{target} is not reached with Tab")


def announced(element: Locator) -> None:
    assert element.evaluate(LIVE_REGION) in ("alert", "assertive", "status", "polite")


# ------------------------------------------------------ 1. the bootstrap admin's host
@pytest.fixture
def fresh_install(simulators: SimulatorSuite, tmp_path: Path) -> Iterator[ServedApp]:
    """A MediaNest whose bootstrap password is still in force (the package's app has had
    it changed by its first test)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=tmp_path,
        database_url=databases.sqlite_url(tmp_path / "medianest.db"),
        encryption_key=generate_key(),
        session_secret="e2e-session-secret",
        **simulators.info.settings_values(),
    )
    with ServedApp(create_app(settings)) as app:
        yield app


@pytest.fixture
def rebinding_browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """A browser for which rebind.test is 127.0.0.1: a DNS-rebinding page's view."""
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.test 127.0.0.1"]
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=args)
    yield browser
    browser.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_bootstrap_admin_at_a_public_name_reads_where_to_open_medianest(
    fresh_install: ServedApp, rebinding_browser: Browser, screenshots: Path, viewport: str
) -> None:
    context = rebinding_browser.new_context(
        base_url=f"http://rebind.test:{fresh_install.port}", viewport=VIEWPORTS[viewport]
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto("/login")
        summary = page.get_by_text("Sign in with a password", exact=True)
        tab_to(page, summary)
        page.keyboard.press("Enter")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("admin")
        page.get_by_label("Password").press("Enter")
        error = page.locator('[data-error-for="_form"]')
        expect(error).to_have_text(
            "The first sign-in with the bootstrap password works only at MediaNest's IP "
            "address or http://localhost, so that no web page you visit can use it. Open "
            "MediaNest that way, or set MEDIANEST_PUBLIC_URL to the address you use."
        )
        expect(page).to_have_url(re.compile(r"/login$"))
        announced(error)
        fits(page, '[data-error-for="_form"]')
        readable(page, '[data-error-for="_form"]')
        shoot(page, screenshots, f"login-bootstrap-host-{viewport}")
    finally:
        context.close()


# ------------------------------------------------------------ 2. removed in Overseerr
SPRITE_FRIGHT = 400007


def csrf(context: Any) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")


def kit_requests(context: Any, tmdb_id: int) -> dict[str, Any]:
    made = context.request.post(
        "/api/media/request",
        data={"mediaType": "movie", "tmdbId": tmdb_id},
        headers={"X-CSRF-Token": csrf(context)},
    )
    assert made.ok, made.text()
    data: dict[str, Any] = made.json()["data"]
    return data


def test_a_request_removed_in_overseerr_shows_a_readable_removed_badge(
    new_context: Any, simulators: SimulatorSuite, screenshots: Path
) -> None:
    context = new_context()
    sign_in_plex_user(context, simulators.info.plex_tv_url, "kit")
    made = kit_requests(context, SPRITE_FRIGHT)
    page = context.new_page()
    page.goto("/media")
    badge = page.locator(f'tr[data-request-id="{made["id"]}"] [data-field=status]')
    expect(badge).to_have_text("pending")
    deleted = httpx.delete(
        f"{simulators.info.overseerr_url}/api/v1/request/{made['overseerrId']}",
        headers={"X-Api-Key": API_KEY},
    )
    assert deleted.status_code == 204, deleted.text
    # Told live (request:status), then read again from the page: the same words.
    expect(badge).to_have_text(re.compile("removed"), timeout=15_000)
    live_class = badge.get_attribute("class")
    page.reload()
    expect(badge).to_have_text(re.compile("removed"))
    assert badge.get_attribute("class") == live_class
    selector = f'tr[data-request-id="{made["id"]}"] [data-field=status]'
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        expect(badge).to_be_visible()
        fits(page, "#requests-list")
        for theme in ("light", "dark"):
            page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
            readable(page, selector)
        shoot(page, screenshots, f"requests-removed-{name}")
    listed = context.request.get("/api/media/requests", params={"status": "removed"}).json()
    assert made["id"] in [row["id"] for row in listed["data"]]


# ------------------------------------------------------- 3. the automatic Overseerr link
def test_the_admin_hands_a_link_back_to_automatic_by_keyboard_and_reads_same_plex_account(
    new_context: Any, admin_account: AdminAccount, simulators: SimulatorSuite, screenshots: Path
) -> None:
    kit = new_context()
    sign_in_plex_user(kit, simulators.info.plex_tv_url, "kit")
    context = new_context()
    sign_in_admin(context, admin_account)
    page = context.new_page()
    page.goto("/admin")
    row = page.locator('tr[data-username="kit"]')
    link = row.get_by_label("Overseerr user id of kit")
    link.fill("2")
    link.press("Tab")
    button = row.get_by_role("button", name="Automatic Overseerr link for kit")
    expect(button).to_be_visible()
    tab_to(page, button, tries=200)
    page.keyboard.press("Enter")
    expect(row.get_by_label("Overseerr user id of kit")).to_have_attribute(
        "placeholder", "automatic"
    )
    expect(button).to_have_count(0)
    # The keyboard stays where it was: on the link's field, not thrown back to the top.
    expect(row.get_by_label("Overseerr user id of kit")).to_be_focused()
    kit_requests(kit, 400006)  # Coffee Run: the request links kit's own Overseerr user
    page.reload()
    same = row.get_by_text("same Plex account")
    expect(same).to_be_visible()
    user_id = row.get_attribute("data-user-id")
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        same.scroll_into_view_if_needed()
        for theme in ("light", "dark"):
            page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
            readable(page, f'tr[data-user-id="{user_id}"] td .muted.small')
        shoot(page, screenshots, f"admin-users-automatic-{name}")


# -------------------------------------------------------- 4. a title Overseerr cannot get
TITLE_UNAVAILABLE = re.compile(
    r"Overseerr could not retrieve the (movie|TV show) with TMDB id \d+: TMDB does not know "
    r"this id, or Overseerr cannot reach TMDB right now \(its answer does not say which\)\. "
    r"Check the title, or try again later\."
)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize(
    ("query", "title", "button"),
    [
        ("Caminandes", "Caminandes: Llamigos", "Request Caminandes: Llamigos"),
        ("Keyframes", "Keyframes", "Request… Keyframes"),
    ],
)
def test_a_title_overseerr_cannot_retrieve_is_said_in_full_where_it_was_asked_for(
    new_context: Any,
    simulators: SimulatorSuite,
    screenshots: Path,
    viewport: str,
    query: str,
    title: str,
    button: str,
) -> None:
    context = new_context(viewport=VIEWPORTS[viewport])
    sign_in_plex_user(context, simulators.info.plex_tv_url, "kit")
    page = context.new_page()
    page.goto(f"/media?query={query}")
    card = page.locator(".poster-card").filter(has_text=title)
    request = card.get_by_role("button", name=button)
    expect(request).to_be_visible()
    simulators.overseerr.cut_tmdb()
    try:
        tab_to(page, request, tries=120)
        page.keyboard.press("Enter")
        said = card.locator("[data-error-code=NOT_FOUND]")
        expect(said).to_have_text(TITLE_UNAVAILABLE)
    finally:
        simulators.overseerr.cut_tmdb(False)
    announced(said)
    fits(page, f'.poster-card[data-tmdb-id="{card.get_attribute("data-tmdb-id")}"]')
    readable(page, ".poster-card [data-error-code=NOT_FOUND]")
    shoot(page, screenshots, f"title-unavailable-{query}-{viewport}")
