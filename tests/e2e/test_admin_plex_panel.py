"""The admin page's new lines, in the browser at a desktop and a phone width: the Plex
panel naming the accounts the downloads library is not shared with, and the System
section's YouTube challenge solver, working (the lock's Deno) and with its warning (a
MEDIANEST_YTDLP_JS_RUNTIME that does not run)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.checks import check_both_widths
from tests.e2e.flows import AdminAccount, sign_in_admin
from tests.support.servers import ServedApp

pytestmark = pytest.mark.e2e


def admin_page(new_context: Any, admin_account: AdminAccount) -> Page:
    context = new_context(bypass_csp=True)  # axe is injected past the app's CSP
    sign_in_admin(context, admin_account)
    return context.new_page()


def test_the_plex_panel_names_whom_the_downloads_library_is_not_shared_with(
    new_context: Any, admin_account: AdminAccount, screenshots: Path
) -> None:
    page = admin_page(new_context, admin_account)
    page.goto("/admin")
    section = page.locator("#plex-downloads-section")
    listed = section.locator("[data-field=library-not-shared]")
    # olga is shared Movies and TV Shows only (conftest PARTLY_SHARED).
    expect(listed).to_contain_text('The library "YouTube" that downloads go to is not shared with:')
    expect(listed.locator("strong").filter(has_text=re.compile("^olga$"))).to_have_count(1)
    # Friends shared every library are not named.
    expect(listed.locator("strong").filter(has_text=re.compile("^dora$"))).to_have_count(0)
    expect(listed).to_contain_text("Settings → Manage Library Access")
    check_both_widths(
        page,
        "#plex-downloads-section [data-field=library-not-shared]",
        screenshots / "admin-not-shared",
    )


def test_the_system_section_shows_the_challenge_solver_and_its_warning(
    new_context: Any,
    admin_account: AdminAccount,
    served: ServedApp,
    monkeypatch: pytest.MonkeyPatch,
    screenshots: Path,
) -> None:
    page = admin_page(new_context, admin_account)
    page.goto("/admin#system")
    solver = page.locator("#system [data-field=challenge-solver]")
    expect(solver).to_contain_text(re.compile(r"YouTube challenge solver\s*deno \d+\.\d+"))
    expect(solver).to_contain_text(re.compile(r"Solver scripts\s*yt-dlp-ejs \d+\.\d+"))
    expect(page.locator("[data-field=challenge-solver-warning]")).to_have_count(0)
    check_both_widths(page, "#system [data-field=challenge-solver]", screenshots / "admin-solver")

    # The served app's own settings, for this test only (monkeypatch puts them back): as
    # MEDIANEST_YTDLP_JS_RUNTIME=deno:/opt/missing/deno would set them.
    settings = served.server.config.app.fastapi.state.settings
    monkeypatch.setattr(settings, "ytdlp_js_runtime", "deno:/opt/missing/deno")
    # Kept answers (core/response_cache.py) live up to `response_cache_seconds`: a
    # setting is no table change. Read again until the kept one is gone.
    warning = page.locator("#system [data-field=challenge-solver-warning]")
    deadline = time.monotonic() + 15
    while not warning.count() and time.monotonic() < deadline:
        page.reload()
        page.locator("#system [data-field=challenge-solver]").wait_for()
        page.wait_for_timeout(300)
    expect(solver).to_contain_text("deno: not working")
    expect(warning).to_contain_text("The JavaScript runtime /opt/missing/deno does not run")
    expect(warning).to_contain_text("MEDIANEST_YTDLP_JS_RUNTIME")
    check_both_widths(
        page, "#system [data-field=challenge-solver-warning]", screenshots / "admin-solver-warning"
    )
