"""Steps the browser tests share: screenshots at two widths, the admin's first sign-in,
"Sign in with Plex" approved in the plex.tv simulator's /link page, and the click-through
walk of a Plex library (into a show or an artist, a season or an album, and back)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
NEW_ADMIN_PASSWORD = "e2e-admin-password-42"


@dataclass(frozen=True)
class AdminAccount:
    username: str
    password: str
    saw_forced_change: bool


# Screenshots are for a person to look at, not checked by any test: taken only when asked
# for (MN_SCREENSHOTS=1), as each full page is costly for the browser (docs/development.md).
TAKE_SCREENSHOTS = os.environ.get("MN_SCREENSHOTS") == "1"


def screenshot(page: Page, path: Path) -> None:
    """Save the full page as `path` when MN_SCREENSHOTS=1."""
    if TAKE_SCREENSHOTS:
        page.screenshot(path=str(path), full_page=True)


def shoot(page: Page, folder: Path, name: str) -> None:
    """Save `<name>-phone.png` (390 x 844) and `<name>-desktop.png` (1366 x 768), full page,
    when MN_SCREENSHOTS=1."""
    if not TAKE_SCREENSHOTS:
        return
    original = page.viewport_size or DESKTOP
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar belongs at the top
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        page.wait_for_timeout(80)  # let the layout settle after the resize
        screenshot(page, folder / f"{name}-{label}.png")
    page.set_viewport_size(original)


def change_bootstrap_password(browser: Browser, base_url: str, folder: Path) -> AdminAccount:
    """admin/admin signs in, is sent to the forced password change, and chooses a new one."""
    context = browser.new_context(base_url=base_url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        diagnostics = chromium_form_diagnostics(page)
        page.goto("/dashboard")
        expect(page).to_have_url(re.compile(r"/login\?next=/dashboard$"))
        shoot(page, folder, "login")
        page.get_by_text("Sign in with a password", exact=True).click()
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("admin")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).to_have_url(re.compile(r"/change-password$"))
        forced = page.get_by_role("heading", name="Choose a new password").is_visible()
        # The password was typed a moment ago: the forced change does not ask for it again.
        expect(page.get_by_label("Current password")).to_have_count(0)
        expect(page.locator("#cp-new-hint li")).to_have_count(2)
        # A password manager saves the new password under "admin", not under no name.
        expect(page.locator('#change-password input[autocomplete="username"]')).to_have_value(
            "admin"
        )
        assert not [d for d in diagnostics if "username fields" in d], diagnostics
        page.get_by_label("New password", exact=True).fill("admin")
        page.get_by_label("Repeat the new password").fill("admin")
        page.get_by_role("button", name="Save the new password").click()
        # One rule per line, each once: not four run-on clauses.
        expect(page.locator('[data-error-for="newPassword"]')).to_have_text(
            "Use at least 12 characters (this one has 5).\n"
            "Do not use your username as the password."
        )
        shoot(page, folder, "change-password")
        page.get_by_label("New password", exact=True).fill(NEW_ADMIN_PASSWORD)
        page.get_by_label("Repeat the new password").fill(NEW_ADMIN_PASSWORD)
        page.get_by_role("button", name="Save the new password").click()
        expect(page).to_have_url(re.compile(r"/dashboard$"))
        return AdminAccount("admin", NEW_ADMIN_PASSWORD, saw_forced_change=forced)
    finally:
        context.close()


def chromium_form_diagnostics(page: Page) -> list[str]:
    """Chromium's own notes on the page's forms ("[DOM] Password forms should have
    (optionally hidden) username fields ..."), as they arrive: what password managers and
    autofill will trip over."""
    notes: list[str] = []
    page.on(
        "console", lambda message: notes.append(message.text) if "[DOM]" in message.text else None
    )
    return notes


def wait_for_api(
    context: BrowserContext, path: str, holds: Callable[[Any], bool], seconds: float = 15
) -> None:
    """Read `path` (a JSON API, as the context's user) until `holds(data)`: for a change
    the page is not told about, made sure of before the page is checked."""
    deadline = time.monotonic() + seconds
    while True:
        answer = context.request.get(path)
        if answer.ok and holds(answer.json()["data"]):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not change within {seconds} s: {answer.text()}")
        time.sleep(0.1)


def sign_in_admin(context: BrowserContext, account: AdminAccount) -> None:
    """Sign the context in through the JSON API (shares the context's cookie jar)."""
    response = context.request.post(
        "/api/auth/admin", data={"username": account.username, "password": account.password}
    )
    assert response.ok, response.text()


def sign_in_plex_user(context: BrowserContext, plextv_url: str, username: str) -> None:
    """The same PIN sign-in through the JSON API and the simulator's control API (fast),
    for tests whose subject is not the sign-in page itself."""
    pin = context.request.post("/api/auth/plex/pin", data={}).json()["data"]
    approved = context.request.post(
        f"{plextv_url}/__sim/pins/{pin['code']}/approve", data={"username": username}
    )
    assert approved.ok, approved.text()
    for _ in range(50):
        polled = context.request.get(f"/api/auth/plex/pin/{pin['id']}").json()
        assert "data" in polled, polled
        if polled["data"]["status"] == "authorized":
            return
        time.sleep(0.2)
    raise AssertionError(f"the PIN of {username} was never authorized")


def sign_in_with_plex(context: BrowserContext, username: str) -> Page:
    """Click "Sign in with Plex", approve the shown code as `username` on the plex.tv page
    the link opens in a new tab, and land on the dashboard."""
    page = context.new_page()
    page.goto("/login")
    page.get_by_role("button", name="Sign in with Plex").click()
    code = page.get_by_test_id("pin-code")
    expect(code).to_have_text(re.compile(r"^\S{4,}$"))
    expect(page.get_by_text("Waiting for you to approve the code in Plex")).to_be_visible()
    with context.expect_page() as opened:
        page.get_by_role("link", name="Open plex.tv to approve").click()
    plex = opened.value
    expect(plex.locator("#code")).to_have_text(code.inner_text())
    plex.locator("#username").select_option(username)
    plex.get_by_role("button", name="Sign In").click()
    expect(plex.locator("#status")).to_have_text("Approved")
    plex.close()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    return page


def admin_on_library(
    new_context: Callable[..., BrowserContext], account: AdminAccount, library: int
) -> Page:
    """The signed-in admin's page on a Plex library's grid, in a context axe can be
    injected into (bypass_csp: the app's strict CSP would rightly refuse it)."""
    context = new_context(bypass_csp=True)
    sign_in_admin(context, account)
    page = context.new_page()
    page.goto(f"/plex?library={library}")
    return page


def click_into(page: Page, name: str) -> None:
    """Click the link named exactly `name` and see the page it opens, headed `name`."""
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def back_to(page: Page, name: str) -> None:
    """Click the "← `name`" link up to the parent and see the parent's page again."""
    page.get_by_role("link", name=f"← {name}").click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
