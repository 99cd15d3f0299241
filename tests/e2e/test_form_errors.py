"""A form refused before its handler ran (here the per-user API budget, 429) leaves the
page as it is in the browser: the form and what was typed stay, and the toast says how
long to wait (web/errors.py: `HX-Reswap: none` and an `HX-Trigger` toast)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from medianest.app import create_app
from medianest.core.crypto import generate_key
from medianest.settings import Settings
from tests.e2e.flows import DESKTOP, PHONE, change_bootstrap_password, shoot, sign_in_admin
from tests.support import databases
from tests.support.servers import ServedApp

pytestmark = pytest.mark.e2e

# Room for the admin's first sign-in and the account page; the test spends the rest.
BUDGET = 40


@pytest.fixture
def tiny_budget_app(tmp_path: Path) -> Iterator[ServedApp]:
    """A portal of its own whose per-user API budget is small (the package's app has a
    large one that other tests rely on). SQLite: the budget, not the storage, is tested."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=tmp_path / "data",
        database_url=databases.sqlite_url(tmp_path / "medianest.db"),
        redis_url=None,
        encryption_key=generate_key(),
        session_secret="e2e-form-errors-secret",
        plex_tv_url="http://127.0.0.1:9",
        plex_app_url="http://127.0.0.1:9",
        run_worker_in_process=False,
        rate_limit_api_per_minute=BUDGET,
    )
    with ServedApp(create_app(settings)) as app:
        yield app


def _room_in_the_window(needed_seconds: float = 20.0) -> None:
    """The budget counts per minute (tests/support/rate_windows.py): start where the rest
    of the test fits in one window."""
    left = 60.0 - time.time() % 60.0
    if left < needed_seconds:
        time.sleep(left + 0.1)


def _spend_the_rest_of_the_budget(context: BrowserContext) -> None:
    """The rest of the minute's budget goes elsewhere (a script, another tab)."""
    answers: list[Any] = []
    while not answers or answers[-1].status != 429:
        answers.append(context.request.get("/api/auth/session"))
        assert len(answers) <= BUDGET + 5, "the budget never ran out"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_form_refused_by_the_budget_keeps_what_was_typed_and_says_the_wait(
    browser: Browser, tiny_budget_app: ServedApp, screenshots: Path, viewport: str
) -> None:
    account = change_bootstrap_password(browser, tiny_budget_app.url, screenshots)
    context = browser.new_context(
        base_url=tiny_budget_app.url, viewport=DESKTOP if viewport == "desktop" else PHONE
    )
    context.set_default_timeout(10_000)
    try:
        _room_in_the_window()
        sign_in_admin(context, account)
        page = context.new_page()
        page.goto("/account")
        typed = f"nightly backup from the {viewport}"
        page.get_by_label("Name", exact=True).fill(typed)
        page.get_by_label("Expires after (days)").fill("30")
        _spend_the_rest_of_the_budget(context)
        page.locator("#api-token-form").get_by_role("button", name="Create token").click()

        toast = page.locator("#toasts .toast-error")
        expect(toast).to_contain_text(re.compile(r"Too many requests\. Try again in \d+ s\."))
        expect(toast).to_be_visible()
        shoot(page, screenshots, f"form-refused-by-budget-{viewport}")
        # The form is still there, with what was typed; no error replaced the section.
        expect(page.get_by_label("Name", exact=True)).to_have_value(typed)
        expect(page.get_by_label("Expires after (days)")).to_have_value("30")
        expect(page.locator("#api-tokens [data-error-code='RATE_LIMIT_EXCEEDED']")).to_have_count(0)
        expect(page.locator("#api-tokens .alert-error")).to_have_count(0)
        # Said once: not again by the generic htmx error toast.
        expect(page.locator("#toasts .toast")).to_have_count(1)
    finally:
        context.close()


def test_a_form_whose_security_check_expired_keeps_what_was_typed_and_says_so_once(
    browser: Browser, tiny_budget_app: ServedApp, screenshots: Path
) -> None:
    account = change_bootstrap_password(browser, tiny_budget_app.url, screenshots)
    context = browser.new_context(base_url=tiny_budget_app.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    try:
        _room_in_the_window()
        sign_in_admin(context, account)
        page = context.new_page()
        page.goto("/youtube/subscriptions")
        typed = "https://www.youtube.com/playlist?list=PLtypedbyhand"
        page.get_by_label("Playlist or channel link").fill(typed)
        # The CSRF cookie is gone (cleared with the site's data in another tab): htmx sends
        # no token, the server refuses with 403 before the handler reads the form.
        context.clear_cookies(name="csrftoken")
        page.get_by_role("button", name="Subscribe").click()

        toast = page.locator("#toasts .toast-error")
        expect(toast).to_contain_text("security check has expired. Reload the page")
        expect(page.get_by_label("Playlist or channel link")).to_have_value(typed)
        expect(page.locator("#subscription-form")).to_have_count(1)
        # Said once: the 403 also fires htmx:responseError, which must not say it again.
        page.wait_for_timeout(300)
        expect(page.locator("#toasts .toast")).to_have_count(1)
    finally:
        context.close()


def test_a_refused_connection_test_ends_its_testing_note_and_keeps_the_typed_url(
    browser: Browser, tiny_budget_app: ServedApp, screenshots: Path
) -> None:
    account = change_bootstrap_password(browser, tiny_budget_app.url, screenshots)
    context = browser.new_context(base_url=tiny_budget_app.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    try:
        _room_in_the_window()
        sign_in_admin(context, account)
        page = context.new_page()
        page.goto("/admin#services")
        form = page.locator("#service-plex")
        form.get_by_label("URL").fill("http://192.168.1.10:32400")
        _spend_the_rest_of_the_budget(context)
        form.get_by_role("button", name="Test Plex").click()

        expect(page.locator("#toasts .toast-error")).to_contain_text(
            re.compile(r"Try again in \d+ s\.")
        )
        # The "Testing Plex…" note that stood in the result area does not stay there.
        expect(page.locator("#plex-test [data-busy]")).to_have_count(0)
        expect(form.get_by_label("URL")).to_have_value("http://192.168.1.10:32400")
        expect(form.get_by_role("button", name="Test Plex")).to_be_enabled()
    finally:
        context.close()
